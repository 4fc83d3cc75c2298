import { Transform } from "node:stream";
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
  redact,
  type WriteRequest,
} from "@pepperpy/storage-core";
import { type Attributes, context, type Exception, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";

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
  /**
   * Bytes read or written, when known. For `getStream`, the bytes the stream delivered,
   * counted until it ended, failed or was closed by its reader.
   */
  bytes: "storage.bytes",
  /** Entries a listing page returned. */
  entries: "storage.entries",
  /**
   * `ok`, `not_found`, or the error's code (`TIMEOUT`, `CONFLICT`, …); for a stream its reader
   * closed before the end, `closed`.
   */
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
 * What a span records of an error: its name, code and message, and its stack, each passed
 * through core's {@link redact} (as the `NODE_DEBUG=pepperpy` log is), so credentials a
 * native error put in its message (a URL with `user:password@`) never reach the tracing
 * backend. With `recordKeys: false` a storage error's message is its detail, without the
 * bracketed context that names the key.
 */
function exceptionOf(error: unknown, recordKeys: boolean): { exception: Exception; message: string } {
  if (!(error instanceof Error)) {
    const message = redact(String(error));
    return { exception: message, message };
  }
  const full = error.message;
  const shown = !recordKeys && isStorageError(error) ? error.detail : full;
  const message = redact(shown);
  let stack = error.stack;
  if (stack !== undefined && shown !== full) stack = stack.split(full).join(shown);
  const exception: { name: string; message: string; stack?: string; code?: string | number } = { name: error.name, message };
  if (stack !== undefined) exception.stack = redact(stack);
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") exception.code = code;
  return { exception, message };
}

/**
 * A driver that opens one OpenTelemetry span around every call it forwards. Spans are
 * active while the call runs, so spans of instrumented libraries below (HTTP for S3, `pg`,
 * `ioredis`) nest under them. A `getStream` span stays open while the stream is read and
 * ends when it ends, fails or is closed, with the bytes it delivered.
 */
export class TracingDriver extends ForwardingDriver {
  private readonly tracer: Tracer;
  private readonly recordKeys: boolean;

  constructor(inner: StorageDriver | Storage, tracer: Tracer, recordKeys: boolean) {
    super(inner, "tracing");
    this.tracer = tracer;
    this.recordKeys = recordKeys;
  }

  private startSpan(ctx: DriverContext, attrs: Attributes): Span {
    return this.tracer.startSpan(`storage.${ctx.operation}`, {
      kind: SpanKind.INTERNAL,
      attributes: { [ATTR.operation]: ctx.operation, [ATTR.backend]: this.inner.name, ...attrs },
    });
  }

  /** Marks `span` failed: the error's code as outcome, the exception and the status, redacted. */
  private fail(span: Span, error: unknown): void {
    span.setAttribute(ATTR.outcome, isStorageError(error) ? error.code : "IO");
    const { exception, message } = exceptionOf(error, this.recordKeys);
    span.recordException(exception);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  private traced<T>(ctx: DriverContext, attrs: Attributes, fn: () => Promise<T> | T, outcome: Outcome<T>): Promise<T> {
    const span = this.startSpan(ctx, attrs);
    return context.with(trace.setSpan(context.active(), span), async () => {
      try {
        const result = await fn();
        const o = outcome(result);
        span.setAttribute(ATTR.outcome, o.outcome);
        if (o.bytes !== undefined) span.setAttribute(ATTR.bytes, o.bytes);
        if (o.entries !== undefined) span.setAttribute(ATTR.entries, o.entries);
        return result;
      } catch (error) {
        this.fail(span, error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  /**
   * The stream of a `getStream`, passed through a counter: `span` ends when the reader has
   * read it to the end (`ok`), when it fails (the error, as for any call) or when the reader
   * closes it early (`closed`), with the bytes delivered so far.
   */
  private endWithStream(span: Span, source: StoredStream["stream"]): StoredStream["stream"] {
    let bytes = 0;
    let settled = false;
    const settle = (error: unknown, outcome: "ok" | "closed" | undefined) => {
      if (settled) return;
      settled = true;
      span.setAttribute(ATTR.bytes, bytes);
      if (outcome === undefined) this.fail(span, error);
      else span.setAttribute(ATTR.outcome, outcome);
      span.end();
    };
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.byteLength;
        callback(null, chunk);
      },
    });
    source.on("error", (error) => {
      settle(error, undefined);
      counter.destroy(error);
    });
    counter.on("error", (error) => settle(error, undefined));
    counter.on("end", () => settle(undefined, "ok"));
    counter.on("close", () => {
      if (!source.destroyed) source.destroy();
      settle(undefined, "closed");
    });
    source.pipe(counter);
    return counter;
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
    const span = this.startSpan(ctx, this.keyAttrs(key));
    return context.with(trace.setSpan(context.active(), span), async () => {
      let s: StoredStream | undefined;
      try {
        s = await super.readStream(key, range, ctx);
      } catch (error) {
        this.fail(span, error);
        span.end();
        throw error;
      }
      if (s === undefined) {
        span.setAttribute(ATTR.outcome, "not_found");
        span.end();
        return undefined;
      }
      // The span lasts as long as the read: it ends with the stream, not when it opens.
      span.addEvent("stream.open");
      return { info: s.info, stream: this.endWithStream(span, s.stream) };
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
 * exception and sets the span's status to error, with messages passed through core's
 * `redact` (credentials in URLs, `token=…` values hidden). A `getStream` span ends when the
 * stream ends, fails or is closed, with the bytes read. Batches open one span per key
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
