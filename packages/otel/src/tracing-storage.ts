import {
  checkOptionNames,
  type DriverContext,
  ForwardingDriver,
  type LayerOptions,
  LayerStorage,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  type Storage,
  type StorageDriver,
  type StoredEntry,
  type StoredStream,
  isStorageError,
  type WriteRequest,
} from "@pepperpy/storage-core";
import { type Attributes, context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";

/** The instrumentation scope spans are created under when no tracer is given. */
export const TRACER_NAME = "@pepperpy/storage";

/** Span attribute names (one place, so dashboards and tests agree). */
export const ATTR = {
  /** The public operation the caller used (`get`, `put`, `getMany`, …). */
  operation: "storage.operation",
  /** The key, when the call has one (omitted with `recordKeys: false`). */
  key: "storage.key",
  /** The second key of `copy` / `move`. */
  destination: "storage.destination",
  /** The prefix of a listing. */
  prefix: "storage.prefix",
  /** Name of the storage below the layer (`file`, `s3`, `encrypt(s3)`, …). */
  backend: "storage.backend",
  /** Bytes read or written, when known. */
  bytes: "storage.bytes",
  /** Entries a listing page returned. */
  entries: "storage.entries",
  /** `ok`, `not_found`, or the error's code (`TIMEOUT`, `CONFLICT`, …). */
  outcome: "storage.outcome",
} as const;

/** Options of {@link TracingStorage}. */
export interface TracingOptions extends LayerOptions {
  /** The tracer to use; default `trace.getTracer("@pepperpy/storage")` from the global provider. */
  tracer?: Tracer | undefined;
  /**
   * Record keys and prefixes as span attributes (default `true`). Turn off when keys carry
   * personal data that must not reach the tracing backend.
   */
  recordKeys?: boolean | undefined;
}

type Outcome<T> = (result: T) => { outcome: string; bytes?: number | undefined; entries?: number | undefined };

/**
 * A driver that opens one OpenTelemetry span around every call it forwards. Spans are
 * active while the call runs, so spans of instrumented libraries below (HTTP for S3, `pg`,
 * `ioredis`) nest under them.
 */
export class TracingDriver extends ForwardingDriver {
  private readonly tracer: Tracer;
  private readonly recordKeys: boolean;

  constructor(inner: StorageDriver | Storage, tracer: Tracer, recordKeys: boolean) {
    super(inner, "tracing");
    this.tracer = tracer;
    this.recordKeys = recordKeys;
  }

  private traced<T>(ctx: DriverContext, attrs: Attributes, fn: () => Promise<T> | T, outcome: Outcome<T>): Promise<T> {
    const span: Span = this.tracer.startSpan(`storage.${ctx.operation}`, {
      kind: SpanKind.INTERNAL,
      attributes: { [ATTR.operation]: ctx.operation, [ATTR.backend]: this.inner.name, ...attrs },
    });
    return context.with(trace.setSpan(context.active(), span), async () => {
      try {
        const result = await fn();
        const o = outcome(result);
        span.setAttribute(ATTR.outcome, o.outcome);
        if (o.bytes !== undefined) span.setAttribute(ATTR.bytes, o.bytes);
        if (o.entries !== undefined) span.setAttribute(ATTR.entries, o.entries);
        return result;
      } catch (error) {
        const code = isStorageError(error) ? error.code : "IO";
        span.setAttribute(ATTR.outcome, code);
        // The message never holds a secret (errors.md); the exception event carries it.
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    });
  }

  private keyAttrs(key: string): Attributes {
    return this.recordKeys ? { [ATTR.key]: key } : {};
  }

  override read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    return this.traced(ctx, this.keyAttrs(key), () => super.read(key, ctx), (e) =>
      e === undefined ? { outcome: "not_found" } : { outcome: "ok", bytes: e.data.byteLength },
    );
  }

  override readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    return this.traced(ctx, this.keyAttrs(key), () => super.readStream(key, range, ctx), (s) => {
      if (s === undefined) return { outcome: "not_found" };
      const from = Math.min(range.start ?? 0, s.info.size);
      const to = range.end === undefined ? s.info.size : Math.min(range.end + 1, s.info.size);
      return { outcome: "ok", bytes: Math.max(0, to - from) };
    });
  }

  override stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    return this.traced(ctx, this.keyAttrs(key), () => super.stat(key, ctx), (i) => (i === undefined ? { outcome: "not_found" } : { outcome: "ok" }));
  }

  override exists(key: string, ctx: DriverContext): Promise<boolean> {
    return this.traced(ctx, this.keyAttrs(key), () => super.exists(key, ctx), (found) => ({ outcome: found ? "ok" : "not_found" }));
  }

  override write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    return this.traced(ctx, this.keyAttrs(key), () => super.write(key, req, ctx), (info) => ({ outcome: "ok", bytes: info.size }));
  }

  override delete(key: string, ctx: DriverContext): Promise<void> {
    return this.traced(ctx, this.keyAttrs(key), () => super.delete(key, ctx), () => ({ outcome: "ok" }));
  }

  override list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const attrs = this.recordKeys ? { [ATTR.prefix]: prefix } : {};
    return this.traced(ctx, attrs, () => super.list(prefix, page, ctx), (p) => ({ outcome: "ok", entries: p.items.length }));
  }

  override copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const attrs = this.recordKeys ? { [ATTR.key]: from, [ATTR.destination]: to } : {};
    return this.traced(ctx, attrs, () => super.copy(from, to, ctx), (done) => ({ outcome: done ? "ok" : "not_found" }));
  }

  override move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const attrs = this.recordKeys ? { [ATTR.key]: from, [ATTR.destination]: to } : {};
    return this.traced(ctx, attrs, () => super.move(from, to, ctx), (done) => ({ outcome: done ? "ok" : "not_found" }));
  }

  override deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return this.traced(ctx, { [ATTR.entries]: keys.length }, () => super.deleteMany(keys, ctx), () => ({ outcome: "ok", entries: keys.length }));
  }
}

/**
 * An OpenTelemetry tracing layer: one span per call to the storage below, named
 * `storage.<operation>` after the public method the caller used (`storage.get`,
 * `storage.put`, …), with the key, the backend, the bytes moved and the outcome
 * (`ok`, `not_found` or the error code) as attributes. A failed call records the
 * exception and sets the span's status to error. Batches open one span per key
 * (`getMany` of 3 keys: three `storage.getMany` spans); `iterate` one per page.
 *
 * It uses `@opentelemetry/api` only: with no SDK registered every span is a no-op and the
 * layer costs a few function calls. Place it outermost, so spans measure what callers see.
 *
 * @example
 * const storage = new TracingStorage({ backend: new FileStorage("./data") });
 */
export class TracingStorage extends LayerStorage<TracingDriver> {
  constructor(options: TracingOptions) {
    checkOptionNames(options, ["backend", "tracer", "recordKeys"], "TracingStorage");
    super(new TracingDriver(options.backend, options.tracer ?? trace.getTracer(TRACER_NAME), options.recordKeys ?? true), options);
  }
}
