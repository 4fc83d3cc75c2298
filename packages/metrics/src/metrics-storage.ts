import {
  andThen,
  checkOptionNames,
  type DriverContext,
  ForwardingDriver,
  type LayerOptions,
  LayerStorage,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  type OperationOptions,
  type MaybePromise,
  type Storage,
  type StorageDriver,
  type StorageEvent,
  type StoredEntry,
  type StoredStream,
  StorageValidationError,
  isStorageError,
  type WriteRequest,
  wasCutShort,
} from "@pepperpy/storage-core";
import { BUCKETS, bucketBound, Histogram } from "./histogram.js";

/** Figures of one public operation. */
export interface OperationMetrics {
  /** Calls, failed ones included. */
  count: number;
  /** Calls that failed. */
  errors: number;
  /** Failed calls by error code (`NOT_FOUND`, `TIMEOUT`, …). */
  errorsByCode: Record<string, number>;
  /** Bytes read from the storage below. */
  bytesRead: number;
  /** Bytes written to the storage below. */
  bytesWritten: number;
  /** Mean latency in ms. */
  averageLatency: number;
  /** Latency percentiles in ms, from the histogram. */
  p50: number;
  p95: number;
  p99: number;
  /** Largest latency seen, in ms. */
  max: number;
}

/** What {@link MetricsStorage.getMetrics} returns. */
export interface StorageMetrics {
  /** Calls of every operation, failed ones included. */
  operationsCount: number;
  /** Failed calls. */
  errorsCount: number;
  /** `bytesRead + bytesWritten`. */
  totalBytes: number;
  bytesRead: number;
  bytesWritten: number;
  /** Mean latency of every call in ms. */
  averageLatency: number;
  /** Latency percentiles of every call in ms. */
  latency: { p50: number; p95: number; p99: number; max: number };
  /** Failed calls by error code. */
  errors: Record<string, number>;
  /** The same figures per public operation (`get`, `put`, `list`, …). */
  operations: Record<string, OperationMetrics>;
  /** When counting started (construction or the last `reset()`). */
  since: Date;
}

/** Options of {@link MetricsStorage.toPrometheus}. */
export interface PrometheusOptions {
  /** Metric name prefix (default `pepperpy_storage`). */
  prefix?: string | undefined;
  /** Labels added to every sample, such as `{ storage: "uploads" }`. */
  labels?: Record<string, string> | undefined;
}

/** Counters of one operation; mutated in place on the hot path. */
class OperationCounters {
  errors = 0;
  readonly errorsByCode = new Map<string, number>();
  bytesRead = 0;
  bytesWritten = 0;
  readonly latency = new Histogram();
}

/** The counters, shared by the driver (successes) and the storage (failures, `list`). */
export class MetricsRecorder {
  private ops = new Map<string, OperationCounters>();
  private since = new Date();

  private counters(operation: string): OperationCounters {
    let c = this.ops.get(operation);
    if (c === undefined) {
      c = new OperationCounters();
      this.ops.set(operation, c);
    }
    return c;
  }

  /** One finished call: `started` is its `performance.now()` at the start. */
  success(operation: string, started: number, bytesRead: number, bytesWritten: number): void {
    const c = this.counters(operation);
    c.latency.record(performance.now() - started);
    c.bytesRead += bytesRead;
    c.bytesWritten += bytesWritten;
  }

  /** One failed call. */
  failure(operation: string, durationMs: number, code: string): void {
    const c = this.counters(operation);
    c.latency.record(durationMs);
    c.errors++;
    c.errorsByCode.set(code, (c.errorsByCode.get(code) ?? 0) + 1);
  }

  reset(): void {
    this.ops = new Map();
    this.since = new Date();
  }

  snapshot(): StorageMetrics {
    const all = new Histogram();
    const errors: Record<string, number> = {};
    const operations: Record<string, OperationMetrics> = {};
    let bytesRead = 0;
    let bytesWritten = 0;
    let errorsCount = 0;
    for (const [name, c] of [...this.ops].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const h = c.latency;
      all.merge(h);
      bytesRead += c.bytesRead;
      bytesWritten += c.bytesWritten;
      errorsCount += c.errors;
      const byCode: Record<string, number> = {};
      for (const [code, n] of c.errorsByCode) {
        byCode[code] = n;
        errors[code] = (errors[code] ?? 0) + n;
      }
      operations[name] = {
        count: h.count,
        errors: c.errors,
        errorsByCode: byCode,
        bytesRead: c.bytesRead,
        bytesWritten: c.bytesWritten,
        averageLatency: h.count === 0 ? 0 : h.sum / h.count,
        p50: h.quantile(0.5),
        p95: h.quantile(0.95),
        p99: h.quantile(0.99),
        max: h.max,
      };
    }
    return {
      operationsCount: all.count,
      errorsCount,
      totalBytes: bytesRead + bytesWritten,
      bytesRead,
      bytesWritten,
      averageLatency: all.count === 0 ? 0 : all.sum / all.count,
      latency: { p50: all.quantile(0.5), p95: all.quantile(0.95), p99: all.quantile(0.99), max: all.max },
      errors,
      operations,
      since: new Date(this.since.getTime()),
    };
  }

  /** Prometheus text exposition format 0.0.4. */
  prometheus(opts: PrometheusOptions = {}): string {
    const prefix = opts.prefix ?? "pepperpy_storage";
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) throw new StorageValidationError(`Invalid Prometheus metric prefix: ${JSON.stringify(prefix)}`);
    let constant = "";
    for (const [name, value] of Object.entries(opts.labels ?? {})) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith("__") || name === "le" || name === "operation" || name === "code") {
        throw new StorageValidationError(`Invalid Prometheus label name: ${JSON.stringify(name)}`);
      }
      constant += `${name}="${escapeLabel(String(value))}",`;
    }
    const ops = [...this.ops].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const lines: string[] = [];
    const header = (name: string, type: string, help: string) => {
      lines.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
    };
    const sample = (name: string, labels: string, value: number) => {
      lines.push(`${prefix}_${name}{${constant}${labels}} ${formatNumber(value)}`);
    };
    header("operations_total", "counter", "Storage calls by public operation, failed ones included.");
    for (const [op, c] of ops) sample("operations_total", `operation="${escapeLabel(op)}"`, c.latency.count);
    header("errors_total", "counter", "Failed storage calls by public operation and error code.");
    for (const [op, c] of ops) {
      for (const [code, n] of [...c.errorsByCode].sort()) sample("errors_total", `operation="${escapeLabel(op)}",code="${escapeLabel(code)}"`, n);
    }
    header("read_bytes_total", "counter", "Bytes read from the storage below, by public operation.");
    for (const [op, c] of ops) if (c.bytesRead > 0) sample("read_bytes_total", `operation="${escapeLabel(op)}"`, c.bytesRead);
    header("written_bytes_total", "counter", "Bytes written to the storage below, by public operation.");
    for (const [op, c] of ops) if (c.bytesWritten > 0) sample("written_bytes_total", `operation="${escapeLabel(op)}"`, c.bytesWritten);
    header("operation_duration_seconds", "histogram", "Latency of storage calls in seconds, by public operation.");
    for (const [op, c] of ops) {
      const h = c.latency;
      const label = `operation="${escapeLabel(op)}"`;
      let cumulative = 0;
      // Every other internal bucket: one per doubling keeps the series count modest.
      for (let i = 0; i < BUCKETS; i++) {
        cumulative += h.counts[i]!;
        if (i % 2 === 0) sample("operation_duration_seconds_bucket", `${label},le="${formatNumber(bucketBound(i) / 1000)}"`, cumulative);
      }
      sample("operation_duration_seconds_bucket", `${label},le="+Inf"`, h.count);
      sample("operation_duration_seconds_sum", label, h.sum / 1000);
      sample("operation_duration_seconds_count", label, h.count);
    }
    return `${lines.join("\n")}\n`;
  }
}

function errorCode(error: unknown): string {
  return isStorageError(error) ? error.code : "IO";
}

/** Escapes a label value as the exposition format requires: backslash, double quote, newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

/**
 * The driver of {@link MetricsStorage}: times every call to the storage below and counts
 * its bytes, under the public operation that led to it (`ctx.operation`). Failures are
 * counted by the storage from its `storage.error` event, which also sees calls that
 * failed before reaching the driver (an invalid key) and misses the driver reports as
 * `undefined`.
 */
export class MetricsDriver extends ForwardingDriver {
  readonly recorder: MetricsRecorder;

  constructor(inner: StorageDriver | Storage, recorder: MetricsRecorder) {
    super(inner, "metrics");
    this.recorder = recorder;
  }

  override read(key: string, ctx: DriverContext): MaybePromise<StoredEntry | undefined> {
    const started = performance.now();
    return andThen(super.read(key, ctx), (entry) => {
      // A miss becomes a NOT_FOUND failure (counted from the event); a call that already
      // timed out or was aborted was counted as that failure.
      if (entry !== undefined && !wasCutShort(ctx)) this.recorder.success(ctx.operation, started, entry.data.byteLength, 0);
      return entry;
    });
  }

  override readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const started = performance.now();
    return super.readStream(key, range, ctx).then((opened) => {
      if (opened !== undefined && !wasCutShort(ctx)) {
        // The bytes the stream delivers when read to its end (no per-chunk accounting on the hot path).
        const size = opened.info.size;
        const from = Math.min(range.start ?? 0, size);
        const to = range.end === undefined ? size : Math.min(range.end + 1, size);
        this.recorder.success(ctx.operation, started, Math.max(0, to - from), 0);
      }
      return opened;
    });
  }

  override stat(key: string, ctx: DriverContext): MaybePromise<ObjectInfo | undefined> {
    const started = performance.now();
    return andThen(super.stat(key, ctx), (info) => {
      // `exists` answers false without failing; `stat` of a missing key fails (counted from the event).
      if ((info !== undefined || ctx.operation === "exists") && !wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, 0);
      return info;
    });
  }

  override exists(key: string, ctx: DriverContext): MaybePromise<boolean> {
    const started = performance.now();
    return andThen(super.exists(key, ctx), (found) => {
      // `exists` answers false without failing.
      if (!wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, 0);
      return found;
    });
  }

  override write(key: string, req: WriteRequest, ctx: DriverContext): MaybePromise<ObjectInfo> {
    const started = performance.now();
    return andThen(super.write(key, req, ctx), (info) => {
      if (!wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, info.size);
      return info;
    });
  }

  override delete(key: string, ctx: DriverContext): MaybePromise<void> {
    const started = performance.now();
    return andThen(super.delete(key, ctx), () => {
      if (!wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, 0);
    });
  }

  override list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const started = performance.now();
    return super.list(prefix, page, ctx).then((result) => {
      if (!wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, 0);
      return result;
    });
  }

  override copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const started = performance.now();
    return super.copy(from, to, ctx).then((copied) => {
      if (copied && !wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, 0);
      return copied;
    });
  }

  override move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const started = performance.now();
    return super.move(from, to, ctx).then((moved) => {
      if (moved && !wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, 0);
      return moved;
    });
  }

  override deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    const started = performance.now();
    return super.deleteMany(keys, ctx).then(() => {
      if (!wasCutShort(ctx)) this.recorder.success(ctx.operation, started, 0, 0);
    });
  }
}

/**
 * Counts what users of a storage see: calls, failures by error code, bytes read and
 * written, and latency percentiles per public operation, exportable as Prometheus text.
 *
 * Operations are counted under the public method the caller used (`get`, `getText`,
 * `put`, `exists`, `stat`, `delete`, `deleteMany`, `copy`, `move`, `list`,
 * `listPage`, `getStream`, …). Batches count their parts: `getMany` counts one `get`
 * per key (a missing key is a `get` that failed with `NOT_FOUND`), `putMany` one `put`
 * per entry; `iterate` counts one `listPage` per page it fetches; `list` counts once.
 *
 * Place it outermost, so it measures what callers experience (cache hits included).
 *
 * @example
 * const storage = new MetricsStorage({ backend: new MemoryStorage() });
 * await storage.put("k", "v");
 * storage.getMetrics().operations.put.count; // 1
 */
export class MetricsStorage extends LayerStorage<MetricsDriver> {
  private readonly recorder: MetricsRecorder;

  constructor(options: LayerOptions) {
    checkOptionNames(options, ["backend", "timeout", "maxSize"], "MetricsStorage");
    if (!options?.backend) throw new StorageValidationError("MetricsStorage needs { backend }", { backend: "metrics" });
    const recorder = new MetricsRecorder();
    super(new MetricsDriver(options.backend, recorder), options);
    this.recorder = recorder;
    this.on("storage.error", (event: StorageEvent) => {
      recorder.failure(event.operation, event.durationMs, errorCode(event.error));
    });
  }

  /**
   * Every key under `prefix`, counted as one `list` call (not one per page).
   * Calls the storage below directly; its errors are counted here.
   */
  override async list(prefix = "", opts?: OperationOptions): Promise<string[]> {
    const started = performance.now();
    // This layer's own default timeout, if it has one, applies as it would to any call.
    const timeout = opts?.timeout ?? (this.timeout > 0 ? this.timeout : undefined);
    try {
      const keys = await this.backend.list(prefix, { ...opts, timeout });
      this.recorder.success("list", started, 0, 0);
      return keys;
    } catch (error) {
      this.recorder.failure("list", performance.now() - started, errorCode(error));
      throw error;
    }
  }

  /** A snapshot of the figures since construction or the last {@link reset}. */
  getMetrics(): StorageMetrics {
    return this.recorder.snapshot();
  }

  /** Zeroes every figure. */
  reset(): void {
    this.recorder.reset();
  }

  /** The figures in Prometheus text exposition format, for a `/metrics` endpoint. */
  toPrometheus(opts?: PrometheusOptions): string {
    return this.recorder.prometheus(opts);
  }
}
