import { setMaxListeners } from "node:events";
import { Readable, Transform } from "node:stream";
import { DEFAULT_CONTENT_TYPES, decodeJSON, decodeText, decodeValue, encodeValue, handOver, isByteStream, isWellFormedText, toBuffer } from "./codec.js";
import {
  StorageConflictError,
  type StorageError,
  StorageIntegrityError,
  StorageNotFoundError,
  StorageUnavailableError,
  StorageUnsupportedError,
  StorageValidationError,
  fromAbortSignal,
  fromNodeError,
  isStorageError,
} from "./errors.js";
import { type Deadline, addDeadline, cancelDeadline } from "./deadlines.js";
import { traceOperation, tracing } from "./diagnostics.js";
import { StorageEvents } from "./events.js";
import { compareKeys, validateKey, validateMetadata, validatePrefix } from "./keys.js";
import { PrefixDriver } from "./prefixed.js";
import type {
  BatchOptions,
  DriverContext,
  IterateOptions,
  JsonValue,
  ListEntry,
  ListPage,
  ListPageRequest,
  ListPageOptions,
  ObjectInfo,
  OperationOptions,
  PutOptions,
  PutValue,
  RangeOptions,
  ReadUse,
  Storage,
  StorageCapabilities,
  StorageDriver,
  StorageEventName,
  StorageListener,
  StorageValue,
  StoredEntry,
  StoredStream,
  ValueType,
  WriteRequest,
} from "./types.js";

/**
 * Copy for a driver without a native one: read the entry and write it back with its type,
 * content type, metadata and deadline; `false` when the source is missing (or not `live`).
 */
export async function copyByReading(
  driver: StorageDriver,
  from: string,
  to: string,
  ctx: DriverContext,
  live: (info: ObjectInfo) => boolean = () => true,
): Promise<boolean> {
  const entry = await driver.read(from, ctx);
  if (!entry || !live(entry.info)) return false;
  await driver.write(
    to,
    {
      body: entry.data,
      size: entry.data.byteLength,
      valueType: entry.info.valueType ?? "bytes",
      contentType: entry.info.contentType,
      metadata: entry.info.metadata,
      // A copy keeps the deadline, as a backend copy of the object and its metadata does.
      expiresAt: entry.info.expiresAt?.getTime(),
      options: {},
    },
    ctx,
  );
  return true;
}

/** Options every storage accepts. */
export interface BaseStorageOptions {
  /** Default timeout of every operation in milliseconds (default 30 000; `0` disables). */
  timeout?: number | undefined;
  /** Largest value accepted by `put`, in bytes (default: no limit). */
  maxSize?: number | undefined;
  /**
   * Expiry (SPEC §11): milliseconds after which a value written without `ttl` / `expiresAt`
   * expires. Default: values never expire. A `put` with `ttl: Infinity` opts out.
   */
  defaultTtl?: number | undefined;
  /**
   * The time in epoch milliseconds, for expiry: deadlines are computed and checked with it.
   * Default `Date.now`. Tests inject a clock they advance by hand (the conformance suite
   * does), so nothing sleeps; give every storage of a stack the same clock.
   */
  clock?: (() => number) | undefined;
}

/**
 * Put option set by a storage that forwards a write to the storage it wraps (a layer, a
 * composite): the expiry deadline it already resolved, in epoch ms, or `null` for "never
 * expires". The inner storage takes it as is — no default TTL, no check against its own
 * clock (a deadline that passed while a retry waited is stored, already expired, rather
 * than refused). Use {@link forwardedExpiry} to set it.
 */
export const RESOLVED_EXPIRY: unique symbol = Symbol.for("@pepperpy/storage.resolved-expiry");

/**
 * Put option set by a storage that forwards a write to the storage it wraps: how `get`
 * decodes the bytes it forwards (a layer that compressed or encrypted a string says
 * `"text"`, so the inner record keeps the value's type). Not a user option.
 */
export const VALUE_TYPE: unique symbol = Symbol.for("@pepperpy/storage.value-type");

/** The put options that carry a value type to an inner storage (see {@link VALUE_TYPE}). */
export function forwardedValueType(valueType: ValueType | undefined): PutOptions {
  return { [VALUE_TYPE]: valueType } as PutOptions;
}

/** The value type a forwarding storage set on these put options, if any. */
function valueTypeOf(opts: PutOptions): ValueType | undefined {
  return (opts as { [VALUE_TYPE]?: ValueType })[VALUE_TYPE];
}

/**
 * The method of a {@link BaseStorage} that reads a key's bytes with their info in one
 * backend call: what a layer, a composite or a tool reads an inner storage with. A symbol
 * rather than a public method, so that the public `Storage` holds only what users call;
 * registered with `Symbol.for`, so two installed copies of the core still find each other's.
 */
export const READ_ENTRY: unique symbol = Symbol.for("@pepperpy/storage.read-entry");
/** Like {@link READ_ENTRY}, as a stream: the bytes (or a range of them) with their info. */
export const READ_ENTRY_STREAM: unique symbol = Symbol.for("@pepperpy/storage.read-entry-stream");

/** A storage that can be read entry by entry: every {@link BaseStorage}. */
export interface EntryReadable {
  [READ_ENTRY](key: string, opts: OperationOptions | undefined, operation: string): Promise<StoredEntry>;
  [READ_ENTRY_STREAM](key: string, opts: RangeOptions | undefined, operation: string): Promise<StoredStream>;
}

/**
 * `storage` as one that can be read entry by entry, or a `StorageValidationError` saying it
 * cannot be wrapped (it is not built on `BaseStorage`); `context` names where it was checked.
 */
export function entryReadable(storage: Storage, context: { operation?: string; backend?: string }): EntryReadable {
  if (typeof (storage as Partial<EntryReadable> | undefined)?.[READ_ENTRY] !== "function") {
    throw new StorageValidationError(`${String(storage?.name ?? "storage")} cannot be wrapped: a layer, composite or mount needs a storage built on BaseStorage`, context);
  }
  return storage as unknown as EntryReadable;
}

/**
 * Reads `key` of `storage` as bytes with their info, in one backend call: what a layer or a
 * tool reads an inner storage with (the public `get*` methods decode the bytes or drop the
 * info). Errors and events name `operation`, the public operation this read serves
 * (default `"get"`). A missing key rejects with `StorageNotFoundError`.
 */
export function readEntry(storage: Storage, key: string, opts?: OperationOptions, operation = "get"): Promise<StoredEntry> {
  try {
    return entryReadable(storage, { operation })[READ_ENTRY](key, opts, operation);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** {@link readEntry} as a stream, optionally of a byte range (`end` inclusive); default operation `"getStream"`. */
export function readEntryStream(storage: Storage, key: string, opts?: RangeOptions, operation = "getStream"): Promise<StoredStream> {
  try {
    return entryReadable(storage, { operation })[READ_ENTRY_STREAM](key, opts, operation);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The put options that hand a resolved deadline to an inner storage (see
 * {@link RESOLVED_EXPIRY}): `deadline` in epoch ms, a `Date`, `null` for never, or
 * `undefined` to let the inner storage apply its own default TTL. Clears `ttl` and `expiresAt`.
 */
export function forwardedExpiry(deadline: number | Date | null | undefined): PutOptions {
  const value = deadline instanceof Date ? deadline.getTime() : deadline;
  return { ttl: undefined, expiresAt: undefined, [RESOLVED_EXPIRY]: value } as PutOptions;
}

/** What a `WriteRequest` says about expiry, for a storage forwarding it: see {@link forwardedExpiry}. */
export function requestExpiry(req: WriteRequest): number | null | undefined {
  if (req.expiresAt !== undefined) return req.expiresAt;
  const opts = req.options as PutOptions & { [RESOLVED_EXPIRY]?: number | null };
  return opts[RESOLVED_EXPIRY] === null || opts.ttl === Number.POSITIVE_INFINITY ? null : undefined;
}

/** Latest instant a `Date` can hold. */
const MAX_DATE_MS = 8.64e15;

/** Default operation timeout in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default concurrency of batch operations. */
export const DEFAULT_CONCURRENCY = 16;
/** Default page size of `iterate` and `listPage`. */
export const DEFAULT_PAGE_SIZE = 1000;

/** The signal drivers get when a call has neither a timeout nor a caller's signal. It never aborts. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * One signal shared by the calls of a batch. Every call listens for an abort; with the
 * caller's signal passed to each of them directly, a batch of more than ten keys made
 * Node print a MaxListenersExceededWarning about the caller's signal.
 */
function batchSignal(signal: AbortSignal | undefined): { signal: AbortSignal | undefined; done: () => void } {
  if (!signal || signal.aborted) return { signal, done: () => undefined };
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return { signal: controller.signal, done: () => signal.removeEventListener("abort", onAbort) };
}

/** Symbol of the method `createStorage` uses to apply config `default_ttl`. */
export const SET_DEFAULT_TTL: unique symbol = Symbol.for("@pepperpy/storage.set-default-ttl");

function checkTtl(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new StorageValidationError(`Invalid ${name}: expected a positive number of milliseconds (Infinity: never expires)`);
  }
}

function checkPositive(name: string, value: unknown, allowZero: boolean): void {
  if (value === undefined) return;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0 || (!allowZero && value === 0)) {
    throw new StorageValidationError(`Invalid option ${name}: expected a ${allowZero ? "non-negative" : "positive"} number`);
  }
}

/**
 * The context of one timed call. A class with the getter on its prototype: an object
 * literal with an accessor is created through a slow path, and this runs on every call.
 */
class CallContext implements DriverContext {
  readonly operation: string;
  readonly reads: ReadUse | undefined;
  private controller: AbortController | undefined;
  private reason: unknown;
  private aborted = false;

  constructor(operation: string, reads: ReadUse | undefined) {
    this.operation = operation;
    this.reads = reads;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Set by `run` while a deadline is armed: moves it `timeout` ms into the future. */
  rearm: (() => void) | undefined;

  /** Marks progress (a chunk of a streamed value): the timeout counts from now. */
  touch(): void {
    this.rearm?.();
  }

  /** True once the call was cut short (timed out or aborted). */
  get wasCutShort(): boolean {
    return this.aborted;
  }

  /** Aborts the call once; false when it was already cut short. */
  cutShort(reason: unknown): boolean {
    if (this.aborted) return false;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    return true;
  }
}

/**
 * True once the call of `ctx` timed out or was aborted; unlike `ctx.signal.aborted`, it does
 * not create the call's signal (the core makes one only for drivers that ask), so a layer
 * can check it on every call at no cost.
 */
export function wasCutShort(ctx: DriverContext): boolean {
  return ctx instanceof CallContext ? ctx.wasCutShort : ctx.signal.aborted;
}

/** Passes a stream through, re-arming the call's timeout at every chunk. */
async function* touchOnChunk(source: AsyncIterable<Uint8Array>, ctx: DriverContext): AsyncIterable<Uint8Array> {
  const touch = ctx instanceof CallContext ? () => ctx.touch() : undefined;
  for await (const chunk of source) {
    touch?.();
    yield chunk;
  }
}

/** Milliseconds since `started` (0 when the call began with no event listener). */
function elapsed(started: number): number {
  return started === 0 ? 0 : performance.now() - started;
}

/** A value now or later: drivers may answer synchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** True when `value` is a promise (a driver's later answer) rather than the answer itself. */
export function isPromiseLike<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}

/**
 * The one promise of a call whose work may finish now: what `f` returns (a value or a
 * promise) or throws, as a promise. The public methods use it so that a synchronous
 * driver answer costs a single promise, and a synchronous throw becomes a rejection.
 */
function promiseOf<T>(f: () => MaybePromise<T>): Promise<T> {
  try {
    const out = f();
    return isPromiseLike(out) ? out : Promise.resolve(out);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Applies `f` to a value now or later, without a promise when it is there now (exported as `andThen`). */
function then<T, R>(value: MaybePromise<T>, f: (v: T) => R): MaybePromise<R> {
  return isPromiseLike(value) ? value.then(f) : f(value);
}

export { then as andThen };

/**
 * Checks a driver's page before anyone trusts it: every key under `prefix`, strictly
 * increasing, and after `cursor`. Paging resumes after the last key of a page, so a server
 * that misorders a page would otherwise make `iterate` yield keys twice and drop others,
 * silently. One comparison per entry.
 */
function checkPage(page: ListPage, prefix: string, cursor: string | undefined, backend: string): ListPage {
  let previous = cursor;
  for (const { key } of page.items) {
    if (typeof key !== "string" || !key.startsWith(prefix) || (previous !== undefined && compareKeys(previous, key) >= 0)) {
      const where = typeof key !== "string" || !key.startsWith(prefix) ? `outside the prefix ${JSON.stringify(prefix)}` : `after ${JSON.stringify(previous)}`;
      throw new StorageIntegrityError(
        `Listing out of order: the backend returned ${JSON.stringify(key)} ${where}; keys must strictly increase past the cursor, so the listing cannot be trusted`,
        { operation: "listPage", backend },
      );
    }
    previous = key;
  }
  return page;
}

/** What a successful call emits (module constants: no allocation per call). */
interface SuccessEvent<T> {
  event: StorageEventName;
  bytes?: (result: T) => number | undefined;
}
const ON_READ: SuccessEvent<StoredEntry> = { event: "storage.get", bytes: (e) => e.data.byteLength };
const ON_WRITE: SuccessEvent<ObjectInfo> = { event: "storage.put", bytes: (info) => info.size };
const ON_GET: SuccessEvent<unknown> = { event: "storage.get" };
const ON_PUT: SuccessEvent<unknown> = { event: "storage.put" };
const ON_DELETE: SuccessEvent<unknown> = { event: "storage.delete" };

/**
 * Waits `ms` milliseconds, rejecting with the signal's storage error (`StorageAbortedError`
 * or `StorageTimeoutError`) as soon as it aborts. For layers that wait: retry backoff,
 * injected latency.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(fromAbortSignal(signal));
  if (ms <= 0) return Promise.resolve();
  // The shared never-aborting signal gets no listener: thousands of concurrent sleeps would
  // otherwise pile listeners onto one EventTarget.
  if (signal === NEVER_ABORTED) return new Promise((resolve) => setTimeout(resolve, ms));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(fromAbortSignal(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs `fn` over `items` with at most `limit` calls in flight; settles every call before rejecting. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let firstError: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !firstError) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        firstError ??= { error };
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  await Promise.all(workers);
  if (firstError) throw firstError.error;
  return results;
}

/**
 * One `putMany` entry taken at the call, as `put` takes its value: a `Uint8Array` or an
 * `ArrayBuffer` is copied (bytes marked with `handOver` are taken as they are) and a JSON
 * value is serialized, now, synchronously, so the batch stores every value as it was when
 * `putMany` was called, however long the entry waits for its turn. The result is handed
 * over, so the entry's `put` stores it without a second copy and marks it `owned` for the
 * layers and the backend below (one copy per stack). Strings cannot change and streams are
 * not copied; they pass as they are, as does a value the encoder rejects (its `put` fails
 * with the same error, with the batch's context and events).
 */
function takeEntry(key: string, value: StorageValue, putOpts: PutOptions, jsonOpts: PutOptions): [string, StorageValue, PutOptions] {
  if (typeof value === "string" || isByteStream(value)) return [key, value, putOpts];
  let encoded: ReturnType<typeof encodeValue>;
  try {
    encoded = encodeValue(value, key, valueTypeOf(putOpts));
  } catch {
    return [key, value, putOpts];
  }
  if (encoded.kind !== "bytes") return [key, value, putOpts];
  // JSON bytes keep their type through the entry's `put`; copied bytes keep the batch's options.
  return [key, handOver(encoded.data), encoded.valueType === "json" ? jsonOpts : putOpts];
}

/** Counts bytes of a stream and fails it once more than `max` have passed. */
async function* limitBytes(source: AsyncIterable<Uint8Array>, max: number, key: string): AsyncIterable<Uint8Array> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > max) {
      throw new StorageValidationError(`Value larger than maxSize (${max} bytes)`, { key, operation: "put" });
    }
    yield chunk;
  }
}

/**
 * The shared implementation of the public {@link Storage} surface over a
 * {@link StorageDriver}. Backends and layers extend it (or construct it with a driver)
 * and so all check keys, encode values, time out, batch, emit events and report errors
 * the same way.
 */
/**
 * Method of a storage that layers may compose onto: it returns its driver and what a stack
 * over it needs (see `driverOf` in layer.ts), or `undefined` when the storage must be
 * wrapped through its public methods (the testing kit's `MockStorage`, a `MountStorage`).
 */
export const STACK_BASE: unique symbol = Symbol.for("@pepperpy/storage.stack-base");

/** What {@link STACK_BASE} returns: the bottom of a layer stack. */
export interface StackBase {
  /** The storage's driver; the stack calls it directly. */
  readonly driver: StorageDriver;
  /** True once the storage was closed: the stack refuses calls, as the storage does. */
  isClosed(): boolean;
  /** Closes the storage (closing the stack closes it). */
  close(): Promise<void>;
  /** Maps what the driver threw into the error family, named after the storage (its `toStorageError`). */
  mapError(error: unknown, operation: string, key: string | undefined): StorageError;
  /** The storage's timeout, size limit, default TTL and clock, which the stack inherits. */
  readonly options: BaseStorageOptions;
}

export class BaseStorage implements Storage {
  /** The driver this storage runs on. */
  protected readonly driver: StorageDriver;
  /** Default timeout in ms (`0`: none). */
  protected readonly timeout: number;
  /** Default largest value in bytes. */
  protected readonly maxSize: number;
  /** The clock of expiry (epoch ms); `Date.now` unless injected. */
  protected readonly now: () => number;
  /** Default TTL of writes in ms; `undefined`: values never expire unless asked to. */
  protected defaultTtl: number | undefined;
  private readonly events = new StorageEvents();
  private closed = false;

  constructor(driver: StorageDriver, options: BaseStorageOptions = {}) {
    checkPositive("timeout", options.timeout, true);
    checkPositive("maxSize", options.maxSize, true);
    checkTtl("defaultTtl", options.defaultTtl);
    if (options.clock !== undefined && typeof options.clock !== "function") {
      throw new StorageValidationError("Invalid option clock: expected a function returning epoch milliseconds");
    }
    this.driver = driver;
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    this.maxSize = options.maxSize ?? Number.POSITIVE_INFINITY;
    this.now = options.clock ?? Date.now;
    this.defaultTtl = options.defaultTtl === Number.POSITIVE_INFINITY ? undefined : options.defaultTtl;
  }

  /** Sets the default TTL after construction (config `default_ttl`, applied by `createStorage`). */
  [SET_DEFAULT_TTL](ttl: number | undefined): void {
    checkTtl("defaultTtl", ttl);
    this.defaultTtl = ttl === Number.POSITIVE_INFINITY ? undefined : ttl;
  }

  /** The bottom of a layer stack over this storage: see {@link STACK_BASE}. */
  [STACK_BASE](): StackBase | undefined {
    return {
      driver: this.driver,
      isClosed: () => this.closed,
      close: () => this.close(),
      mapError: (error, operation, key) => this.toStorageError(error, operation, key),
      options: { timeout: this.timeout, maxSize: this.maxSize, defaultTtl: this.defaultTtl, clock: this.now },
    };
  }

  /** True when `info` has no deadline or its deadline is still ahead. */
  protected isLive(info: { expiresAt?: Date | undefined }): boolean {
    const deadline = info.expiresAt;
    return deadline === undefined || deadline.getTime() > this.now();
  }

  get name(): string {
    return this.driver.name;
  }

  get capabilities(): StorageCapabilities {
    return this.driver.capabilities;
  }

  /**
   * Runs one driver call with the caller's signal and timeout, maps any failure into the
   * error family with full context, and emits events.
   */
  protected run<T>(
    operation: string,
    key: string | undefined,
    opts: OperationOptions | undefined,
    fn: (ctx: DriverContext) => MaybePromise<T>,
    success?: SuccessEvent<T>,
  ): Promise<T> {
    return promiseOf(() => this.call(operation, key, opts, fn, success));
  }

  /**
   * `run` without the promise when the driver answers synchronously (memory, a cache hit):
   * a value, a promise, or a synchronous throw of the mapped error. `get` chains its
   * decoding onto it, so a synchronous read is decoded without a promise in between.
   */
  private call<T>(
    operation: string,
    key: string | undefined,
    opts: OperationOptions | undefined,
    fn: (ctx: DriverContext) => MaybePromise<T>,
    success: SuccessEvent<T> | undefined,
    reads?: ReadUse,
  ): MaybePromise<T> {
    // Durations are measured only while someone listens to events or traces operations.
    const started = this.events.active || tracing() ? performance.now() : 0;
    if (this.closed) {
      return this.fail(operation, key, started, new StorageUnavailableError("Storage is closed", { retryable: false }));
    }
    const timeout = opts?.timeout ?? this.timeout;
    const userSignal = opts?.signal;
    if (userSignal?.aborted) return this.fail(operation, key, started, fromAbortSignal(userSignal));

    const untimed = !(timeout > 0) && !userSignal;
    // The controller is created only when the driver asks for the signal or the call is
    // cut short: most calls finish first, and an AbortController per call is costly.
    const ctx: DriverContext = untimed ? { signal: NEVER_ABORTED, operation, reads } : new CallContext(operation, reads);
    let out: MaybePromise<T>;
    try {
      out = fn(ctx);
    } catch (error) {
      return this.fail(operation, key, started, error);
    }
    // A driver that answers synchronously cannot hang: no deadline is armed.
    if (!isPromiseLike(out)) return this.succeed(operation, key, started, out, success);
    if (untimed) {
      return out.then(
        (result) => this.succeed(operation, key, started, result, success),
        (error) => this.fail(operation, key, started, error),
      );
    }
    return this.await(operation, key, started, ctx as CallContext, timeout, userSignal, out, success);
  }

  /**
   * Waits for a driver's promise under the call's deadline and the caller's signal.
   * One promise, settled by whichever comes first (no `async` wrapper: every timed call
   * of every backend runs through here, and each extra promise hop showed in `exists`).
   */
  private await<T>(
    operation: string,
    key: string | undefined,
    started: number,
    ctx: CallContext,
    timeout: number,
    userSignal: AbortSignal | undefined,
    pending: Promise<T>,
    success: SuccessEvent<T> | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let deadline: Deadline | undefined;
      let onAbort: (() => void) | undefined;
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        ctx.rearm = undefined;
        if (deadline) cancelDeadline(deadline);
        if (onAbort) userSignal?.removeEventListener("abort", onAbort);
        return true;
      };
      const failWith = (error: unknown): void => {
        try {
          this.fail(operation, key, started, error);
        } catch (mapped) {
          reject(mapped);
        }
      };
      const abortWith = (reason: unknown): void => {
        // Once cut short, the driver call's own outcome is ignored.
        if (ctx.cutShort(reason) && finish()) failWith(fromAbortSignal(ctx.signal));
      };
      if (timeout > 0 && Number.isFinite(timeout)) {
        const fire = () => {
          const reason = new Error(`Timed out after ${timeout} ms`);
          reason.name = "TimeoutError";
          abortWith(reason);
        };
        deadline = addDeadline(timeout, fire);
        ctx.rearm = () => {
          if (!deadline || deadline.done) return;
          cancelDeadline(deadline);
          deadline = addDeadline(timeout, fire);
        };
      }
      if (userSignal) {
        onAbort = () => abortWith(userSignal.reason);
        userSignal.addEventListener("abort", onAbort, { once: true });
      }
      pending.then(
        (result) => {
          if (!finish()) return;
          try {
            resolve(this.succeed(operation, key, started, result, success));
          } catch (error) {
            reject(error);
          }
        },
        (error: unknown) => {
          if (finish()) failWith(error);
        },
      );
    });
  }

  /** Emits the success event, if anyone listens, and returns the result. */
  private succeed<T>(operation: string, key: string | undefined, started: number, result: T, success: SuccessEvent<T> | undefined): T {
    if (started !== 0 && tracing()) {
      traceOperation({ storage: this.name, operation, key, bytes: success?.bytes?.(result), durationMs: elapsed(started), error: undefined });
    }
    if (success && this.events.active && this.events.has(success.event)) {
      this.events.emit(success.event, {
        key,
        operation,
        bytes: success.bytes?.(result),
        durationMs: elapsed(started),
      });
    }
    return result;
  }

  /** Adds context to an error, emits `storage.error` and rethrows it. */
  private fail(operation: string, key: string | undefined, started: number, error: unknown): never {
    const mapped = this.toStorageError(error, operation, key);
    if (tracing()) traceOperation({ storage: this.name, operation, key, bytes: undefined, durationMs: elapsed(started), error: mapped });
    if (this.events.has("storage.error")) {
      this.events.emit("storage.error", { key, operation, durationMs: elapsed(started), error: mapped });
    }
    throw mapped;
  }

  /** Maps anything thrown into the error family with this storage's context. */
  protected toStorageError(error: unknown, operation: string, key?: string): StorageError {
    const ctx = { key, operation, backend: this.name };
    if (isStorageError(error)) return error.withContext(ctx);
    return fromNodeError(error, ctx);
  }

  /** Validates a key, turning the failure into an event-emitting rejection. */
  private checkKey(key: unknown, operation: string): asserts key is string {
    try {
      validateKey(key, operation);
    } catch (error) {
      this.fail(operation, typeof key === "string" ? key : undefined, performance.now(), error);
    }
  }

  private throwNotFound(key: string, operation: string): never {
    throw this.notFound(key, operation);
  }

  private notFound(key: string, operation: string): StorageNotFoundError {
    return new StorageNotFoundError("Key not found", { key, operation, backend: this.name });
  }

  /** Checks the key and reads its entry: now when the driver answers now; missing throws. */
  private readNow(key: string, operation: string, opts: OperationOptions | undefined, reads: ReadUse): MaybePromise<StoredEntry> {
    this.checkKey(key, operation);
    return this.call(
      operation,
      key,
      opts,
      (ctx) => then(this.driver.read(key, ctx), (entry) => (entry && this.isLive(entry.info) ? entry : this.throwNotFound(key, operation))),
      ON_READ,
      reads,
    );
  }

  private readEntry(key: string, operation: string, opts: OperationOptions | undefined, reads: ReadUse): Promise<StoredEntry> {
    return promiseOf(() => this.readNow(key, operation, opts, reads));
  }

  get<T = unknown>(key: string, opts?: OperationOptions): Promise<T> {
    return promiseOf(() => then(this.readNow(key, "get", opts, "value"), (entry) => this.decode<T>(entry, key)));
  }

  /** The value of an entry read by `get`, or a rejection naming the key. */
  private decode<T>(entry: StoredEntry, key: string): T {
    try {
      return decodeValue(entry.data, entry.info, key) as T;
    } catch (error) {
      return this.fail("get", key, performance.now(), error);
    }
  }

  /**
   * The stored bytes with their info, for a layer or a tool (see {@link readEntry}); errors
   * and events name `operation`, the public operation the read serves.
   */
  [READ_ENTRY](key: string, opts: OperationOptions | undefined, operation: string): Promise<StoredEntry> {
    return this.readEntry(key, operation, opts, "entry");
  }

  async getBytes(key: string, opts?: OperationOptions): Promise<Uint8Array> {
    return toBuffer((await this.readEntry(key, "getBytes", opts, "bytes")).data);
  }

  async getText(key: string, opts?: OperationOptions): Promise<string> {
    const entry = await this.readEntry(key, "getText", opts, "decoded");
    try {
      return decodeText(entry.data, key, "getText");
    } catch (error) {
      return this.fail("getText", key, performance.now(), error);
    }
  }

  async getJSON<T = JsonValue>(key: string, opts?: OperationOptions): Promise<T> {
    const entry = await this.readEntry(key, "getJSON", opts, "decoded");
    try {
      return decodeJSON<T>(entry.data, key, "getJSON");
    } catch (error) {
      return this.fail("getJSON", key, performance.now(), error);
    }
  }

  /** The stored bytes as a stream with their info, for a layer or a tool (see {@link readEntryStream}). */
  [READ_ENTRY_STREAM](key: string, opts: RangeOptions | undefined, operation: string): Promise<StoredStream> {
    return this.openStream(key, operation, opts);
  }

  async getStream(key: string, opts?: RangeOptions): Promise<Readable> {
    return (await this.openStream(key, "getStream", opts)).stream;
  }

  private async openStream(key: string, operation: string, opts: RangeOptions | undefined): Promise<StoredStream> {
    this.checkKey(key, operation);
    const start = opts?.start;
    const end = opts?.end;
    try {
      if (start !== undefined && (!Number.isInteger(start) || start < 0)) throw new StorageValidationError("Invalid range: start must be a non-negative integer");
      if (end !== undefined && (!Number.isInteger(end) || end < 0)) throw new StorageValidationError("Invalid range: end must be a non-negative integer");
      if (start !== undefined && end !== undefined && end < start) throw new StorageValidationError("Invalid range: end is before start");
    } catch (error) {
      return this.fail(operation, key, performance.now(), error);
    }
    const opened = await this.run(
      operation,
      key,
      opts,
      async (ctx) => {
        const range = { start, end };
        if (this.driver.readStream) {
          const s = await this.driver.readStream(key, range, ctx);
          if (!s) throw this.notFound(key, operation);
          if (!this.isLive(s.info)) {
            s.stream.destroy();
            throw this.notFound(key, operation);
          }
          return s;
        }
        const entry = await this.driver.read(key, ctx);
        if (!entry || !this.isLive(entry.info)) throw this.notFound(key, operation);
        const from = start ?? 0;
        const to = end === undefined ? entry.data.byteLength : Math.min(end + 1, entry.data.byteLength);
        const slice = toBuffer(entry.data).subarray(Math.min(from, entry.data.byteLength), Math.max(from, to));
        return { info: entry.info, stream: Readable.from([slice], { objectMode: false }) };
      },
      ON_GET,
    );
    return { info: opened.info, stream: this.mapStreamErrors(opened.stream, key, operation) };
  }

  /** Makes errors emitted by a returned stream storage errors with context. */
  private mapStreamErrors(stream: Readable, key: string, operation: string): Readable {
    const mapper = new Transform({
      transform(chunk, _enc, cb) {
        cb(null, chunk);
      },
    });
    stream.on("error", (error) => mapper.destroy(this.toStorageError(error, operation, key)));
    mapper.on("close", () => {
      if (!stream.destroyed) stream.destroy();
    });
    return stream.pipe(mapper);
  }

  put(key: string, value: StorageValue, opts?: PutOptions): Promise<ObjectInfo>;
  put<T>(key: string, value: T & PutValue<T>, opts?: PutOptions): Promise<ObjectInfo>;
  put(key: string, value: unknown, opts: PutOptions = {}): Promise<ObjectInfo> {
    return promiseOf(() => {
      this.checkKey(key, "put");
      let req: WriteRequest;
      try {
        req = this.buildWriteRequest(key, value as StorageValue, opts);
      } catch (error) {
        return this.fail("put", key, performance.now(), error);
      }
      const conditional = req.ifNoneMatch !== undefined || req.ifMatch !== undefined;
      const deadline = req.expiresAt;
      const write = (r: WriteRequest, ctx: DriverContext): MaybePromise<ObjectInfo> => {
        const info = conditional ? this.writeConditional(key, r, ctx) : this.driver.write(key, r, ctx);
        // The info of a write with a deadline shows it, whether or not the driver echoed it.
        return deadline === undefined ? info : then(info, (i) => (i.expiresAt === undefined ? { ...i, expiresAt: new Date(deadline) } : i));
      };
      if (req.body instanceof Uint8Array) return this.call("put", key, opts, (ctx) => write(req, ctx), ON_WRITE);
      // A streamed value may take longer than any fixed timeout (a 1 GiB upload through
      // compression): for streams `timeout` bounds the wait for the next chunk, so each chunk
      // that arrives re-arms it; a stalled stream still fails in time.
      const body = req.body;
      return this.call("put", key, opts, (ctx) => write({ ...req, body: touchOnChunk(body, ctx) }, ctx), ON_WRITE);
    });
  }

  /**
   * A conditional write that treats an expired value as absent, as every read does:
   * `ifMatch` against an expired value fails; `ifNoneMatch: "*"` over an expired value
   * replaces exactly that version (a compare-and-swap on its etag), so of two writers
   * taking over an expired key — a lock with a TTL — one wins.
   */
  private async writeConditional(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    // The look at the current value is a refinement: when it fails, the write's own answer stands.
    const current = (): Promise<ObjectInfo | undefined> => Promise.resolve(this.driver.stat(key, ctx)).catch(() => undefined);
    if (req.ifMatch !== undefined) {
      const info = await current();
      if (info && !this.isLive(info)) throw new StorageConflictError("Key does not exist (ifMatch): its value expired");
      return this.driver.write(key, req, ctx);
    }
    const takeOver = async (): Promise<ObjectInfo | undefined> => {
      const info = await current();
      if (!info || this.isLive(info) || info.etag === undefined) return undefined;
      return this.driver.write(key, { ...req, ifNoneMatch: undefined, ifMatch: info.etag }, ctx);
    };
    // A stream can be sent once: look first. Bytes: write first, look only on a conflict.
    if (!(req.body instanceof Uint8Array)) return (await takeOver()) ?? this.driver.write(key, req, ctx);
    try {
      return await this.driver.write(key, req, ctx);
    } catch (error) {
      if (!isStorageError(error, "CONFLICT")) throw error;
      const replaced = await takeOver();
      if (!replaced) throw error;
      return replaced;
    }
  }

  /**
   * The deadline of a write in epoch ms from its options (`ttl`, `expiresAt`, a deadline
   * forwarded by an outer storage) or the default TTL; `undefined`: never expires.
   */
  private resolveExpiry(opts: PutOptions): number | undefined {
    const forwarded = (opts as { [RESOLVED_EXPIRY]?: number | null })[RESOLVED_EXPIRY];
    if (forwarded !== undefined) return forwarded === null ? undefined : forwarded;
    const { ttl, expiresAt } = opts;
    if (ttl !== undefined && expiresAt !== undefined) throw new StorageValidationError("ttl and expiresAt cannot be combined");
    let deadline: number;
    if (ttl !== undefined) {
      checkTtl("ttl", ttl);
      if (ttl === Number.POSITIVE_INFINITY) return undefined;
      deadline = Math.ceil(this.now() + ttl);
    } else if (expiresAt !== undefined) {
      if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) throw new StorageValidationError("Invalid expiresAt: expected a valid Date");
      deadline = expiresAt.getTime();
      // A value that could never be read is a mistake (a clock, or seconds for milliseconds).
      if (deadline <= this.now()) throw new StorageValidationError(`Invalid expiresAt: ${expiresAt.toISOString()} is not in the future`);
    } else if (this.defaultTtl !== undefined) {
      deadline = Math.ceil(this.now() + this.defaultTtl);
    } else {
      return undefined;
    }
    if (deadline > MAX_DATE_MS) throw new StorageValidationError("Invalid ttl: the deadline is past the latest date JavaScript can hold");
    return deadline;
  }

  /**
   * Validates put options and encodes the value. Runs synchronously inside `put`, before its
   * first await: the bytes stored are the caller's buffer as it was at the call.
   */
  private buildWriteRequest(key: string, value: StorageValue, opts: PutOptions): WriteRequest {
    if (opts.contentType !== undefined && (typeof opts.contentType !== "string" || opts.contentType.length === 0 || /[\r\n]/.test(opts.contentType) || !isWellFormedText(opts.contentType))) {
      throw new StorageValidationError("Invalid contentType");
    }
    if (opts.ifNoneMatch !== undefined && opts.ifNoneMatch !== "*") throw new StorageValidationError('Invalid ifNoneMatch: only "*" is supported');
    if (opts.ifMatch !== undefined && (typeof opts.ifMatch !== "string" || opts.ifMatch.length === 0)) throw new StorageValidationError("Invalid ifMatch: expected an etag");
    if (opts.ifMatch !== undefined && opts.ifNoneMatch !== undefined) throw new StorageValidationError("ifMatch and ifNoneMatch cannot be combined");
    if ((opts.ifMatch !== undefined || opts.ifNoneMatch !== undefined) && !this.capabilities.conditionalWrite) {
      throw new StorageUnsupportedError(`Conditional writes are not supported by ${this.name}`);
    }
    checkPositive("maxSize", opts.maxSize, true);
    const metadata = validateMetadata(opts.metadata, key);
    const expiresAt = this.resolveExpiry(opts);
    const maxSize = opts.maxSize ?? this.maxSize;
    const encoded = encodeValue(value, key, valueTypeOf(opts));
    let body: WriteRequest["body"];
    let size: number | undefined;
    if (encoded.kind === "bytes") {
      if (encoded.data.byteLength > maxSize) {
        throw new StorageValidationError(`Value of ${encoded.data.byteLength} bytes is larger than maxSize (${maxSize} bytes)`);
      }
      // The encoder's own bytes (a copy of the caller's buffer, or new ones): a layer passing
      // them on to its inner storage hands them over instead of having them copied again.
      body = handOver(encoded.data);
      size = encoded.data.byteLength;
    } else {
      body = Number.isFinite(maxSize) ? limitBytes(encoded.stream, maxSize, key) : encoded.stream;
    }
    return {
      body,
      size,
      valueType: encoded.valueType,
      contentType: opts.contentType ?? DEFAULT_CONTENT_TYPES[encoded.valueType],
      metadata,
      ifNoneMatch: opts.ifNoneMatch,
      ifMatch: opts.ifMatch,
      expiresAt,
      owned: encoded.kind === "bytes" ? true : undefined,
      options: opts,
    };
  }

  delete(key: string, opts?: OperationOptions): Promise<void> {
    return promiseOf(() => {
      this.checkKey(key, "delete");
      return this.call("delete", key, opts, (ctx) => this.driver.delete(key, ctx), ON_DELETE);
    });
  }

  exists(key: string, opts?: OperationOptions): Promise<boolean> {
    return promiseOf(() => {
      this.checkKey(key, "exists");
      const driver = this.driver;
      // A driver's own `exists` is used only when it knows about deadlines; `stat` carries them.
      if (driver.exists && driver.honorsExpiry) return this.call("exists", key, opts, (ctx) => driver.exists!(key, ctx), undefined);
      return this.call("exists", key, opts, (ctx) => then(driver.stat(key, ctx), (info) => info !== undefined && this.isLive(info)), undefined);
    });
  }

  async stat(key: string, opts?: OperationOptions): Promise<ObjectInfo> {
    this.checkKey(key, "stat");
    return this.run("stat", key, opts, (ctx) => then(this.driver.stat(key, ctx), (info) => (info && this.isLive(info) ? info : this.throwNotFound(key, "stat"))));
  }

  async listPage(prefix = "", opts?: ListPageOptions): Promise<ListPage> {
    try {
      validatePrefix(prefix, "listPage");
      checkPositive("limit", opts?.limit, false);
      if (opts?.cursor !== undefined && typeof opts.cursor !== "string") throw new StorageValidationError("Invalid cursor");
    } catch (error) {
      return this.fail("listPage", prefix, performance.now(), error);
    }
    const limit = Math.floor(opts?.limit ?? DEFAULT_PAGE_SIZE);
    const request: ListPageRequest = { cursor: opts?.cursor, limit, keysOnly: opts?.keysOnly === true };
    return this.run("listPage", prefix || undefined, opts, async (ctx) => {
      let page = this.withoutExpired(checkPage(await this.driver.list(prefix, request, ctx), prefix, request.cursor, this.driver.name));
      // A page is empty only at the end of the listing, as callers expect: a page whose
      // entries all expired is followed by the next one.
      while (page.items.length === 0 && page.cursor !== undefined) {
        const cursor = page.cursor;
        page = this.withoutExpired(checkPage(await this.driver.list(prefix, { ...request, cursor }, ctx), prefix, cursor, this.driver.name));
      }
      return page;
    });
  }

  /**
   * The page without its expired entries. Its cursor stays the last key of the page (the
   * contract of `listPage`); a page left empty keeps the driver's cursor, and `listPage`
   * goes on to the next one.
   */
  private withoutExpired(page: ListPage): ListPage {
    const items = page.items;
    let i = 0;
    while (i < items.length && items[i]!.expiresAt === undefined) i++;
    if (i === items.length) return page;
    const now = this.now();
    const live = items.filter((e) => e.expiresAt === undefined || e.expiresAt.getTime() > now);
    if (page.cursor === undefined) return { items: live };
    return { items: live, cursor: live.length > 0 ? live[live.length - 1]!.key : page.cursor };
  }

  async purgeExpired(prefix = "", opts?: OperationOptions): Promise<number> {
    try {
      validatePrefix(prefix, "purgeExpired");
    } catch (error) {
      return this.fail("purgeExpired", prefix, performance.now(), error);
    }
    const now = this.now();
    const driver = this.driver;
    if (driver.purgeExpired) return this.run("purgeExpired", prefix || undefined, opts, (ctx) => driver.purgeExpired!(prefix, now, ctx));
    // The default: list everything under the prefix as the driver has it (expired entries
    // included), then per expired entry a fresh stat — the key may have been rewritten
    // since it was listed — and a delete. Between that stat and the delete a rewrite can
    // still be lost: drivers with a conditional delete implement purgeExpired themselves.
    let deleted = 0;
    let cursor: string | undefined;
    do {
      const page = await this.run("purgeExpired", prefix || undefined, opts, (ctx) => driver.list(prefix, { cursor, limit: DEFAULT_PAGE_SIZE }, ctx));
      const expired = page.items.filter((e) => e.expiresAt !== undefined && e.expiresAt.getTime() <= now).map((e) => e.key);
      await mapLimit(expired, DEFAULT_CONCURRENCY, (key) =>
        this.run("purgeExpired", key, opts, async (ctx) => {
          const info = await driver.stat(key, ctx);
          if (info?.expiresAt === undefined || info.expiresAt.getTime() > now) return;
          await driver.delete(key, ctx);
          deleted++;
        }, ON_DELETE),
      );
      cursor = page.cursor;
    } while (cursor !== undefined);
    return deleted;
  }

  /**
   * Every page under `prefix`, each fetched with `listPage` when the previous one is used:
   * the paging loop of `iterate` and `list`. Protected so that a subclass can wrap the
   * fetches (the testing kit's `MockStorage` marks them as internal calls).
   */
  protected async *pages(prefix: string, opts: ListPageOptions): AsyncIterable<ListPage> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage(prefix, { ...opts, cursor });
      yield page;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  async *iterate(prefix = "", opts?: IterateOptions): AsyncIterable<ListEntry> {
    for await (const page of this.pages(prefix, { limit: opts?.pageSize, signal: opts?.signal, timeout: opts?.timeout })) yield* page.items;
  }

  async list(prefix = "", opts?: OperationOptions): Promise<string[]> {
    const keys: string[] = [];
    // Keys only: a backend that pays per entry for size and time (a file lstat) skips it.
    const request = { limit: DEFAULT_PAGE_SIZE, keysOnly: true, signal: opts?.signal, timeout: opts?.timeout };
    for await (const page of this.pages(prefix, request)) for (const entry of page.items) keys.push(entry.key);
    return keys;
  }

  async getMany<T = unknown>(keys: readonly string[], opts?: BatchOptions): Promise<(T | undefined)[]> {
    const limit = this.batchLimit(opts, "getMany");
    for (const key of keys) this.checkKey(key, "getMany");
    const shared = batchSignal(opts?.signal);
    const callOpts = { ...opts, signal: shared.signal };
    try {
      return await mapLimit(keys, limit, async (key) => {
        try {
          return await this.get<T>(key, callOpts);
        } catch (error) {
          if (error instanceof StorageNotFoundError) return undefined;
          throw error;
        }
      });
    } finally {
      shared.done();
    }
  }

  /**
   * Writes the entries, at most `concurrency` at a time. Every entry is taken at the call, as
   * `put` takes its value (see `takeEntry`): a buffer changed after `putMany` is called, before
   * its entry's write starts, changes nothing stored.
   */
  async putMany(
    entries: Iterable<readonly [string, StorageValue]> | Record<string, StorageValue>,
    opts?: BatchOptions & PutOptions,
  ): Promise<void> {
    const limit = this.batchLimit(opts, "putMany");
    const list: (readonly [string, StorageValue])[] =
      typeof (entries as Iterable<unknown>)[Symbol.iterator] === "function"
        ? [...(entries as Iterable<readonly [string, StorageValue]>)]
        : Object.entries(entries as Record<string, StorageValue>);
    for (const [key] of list) this.checkKey(key, "putMany");
    const { concurrency: _, ...putOpts } = opts ?? {};
    const shared = batchSignal(opts?.signal);
    putOpts.signal = shared.signal;
    const jsonOpts: PutOptions = { ...putOpts, [VALUE_TYPE]: "json" } as PutOptions;
    // Every entry is taken now, before the first await, not when its write starts (SPEC §3).
    const batch = list.map(([key, value]) => takeEntry(key, value, putOpts, jsonOpts));
    try {
      await mapLimit(batch, limit, async ([key, value, entryOpts]) => {
        await this.put(key, value, entryOpts);
      });
    } finally {
      shared.done();
    }
  }

  async deleteMany(keys: readonly string[], opts?: BatchOptions): Promise<void> {
    const limit = this.batchLimit(opts, "deleteMany");
    for (const key of keys) this.checkKey(key, "deleteMany");
    const unique = [...new Set(keys)];
    if (unique.length === 0) return;
    if (this.driver.deleteMany) {
      const native = this.driver.deleteMany.bind(this.driver);
      await this.run("deleteMany", undefined, opts, (ctx) => native(unique, ctx));
      if (this.events.has("storage.delete")) {
        for (const key of unique) this.events.emit("storage.delete", { key, operation: "deleteMany", durationMs: 0 });
      }
      return;
    }
    const shared = batchSignal(opts?.signal);
    const callOpts = { ...opts, signal: shared.signal };
    try {
      await mapLimit(unique, limit, (key) =>
        this.run("deleteMany", key, callOpts, (ctx) => this.driver.delete(key, ctx), ON_DELETE),
      );
    } finally {
      shared.done();
    }
  }

  private batchLimit(opts: BatchOptions | undefined, operation: string): number {
    try {
      checkPositive("concurrency", opts?.concurrency, false);
    } catch (error) {
      this.fail(operation, undefined, performance.now(), error);
    }
    return Math.max(1, Math.floor(opts?.concurrency ?? DEFAULT_CONCURRENCY));
  }

  async copy(from: string, to: string, opts?: OperationOptions): Promise<void> {
    this.checkKey(from, "copy");
    this.checkKey(to, "copy");
    await this.run(
      "copy",
      from,
      opts,
      async (ctx) => {
        // An expired source is missing, as to every read (a backend copy would carry it).
        const check = from === to || (this.driver.copy !== undefined && !this.driver.honorsExpiry);
        const source = check ? await this.driver.stat(from, ctx) : true;
        if (!source || (source !== true && !this.isLive(source))) throw this.notFound(from, "copy");
        if (from === to) return;
        const copied = this.driver.copy ? await this.driver.copy(from, to, ctx) : await this.copyByReading(from, to, ctx);
        if (!copied) throw this.notFound(from, "copy");
      },
      ON_PUT,
    );
  }

  /** Copy fallback over this storage's driver, skipping an expired source. */
  private copyByReading(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return copyByReading(this.driver, from, to, ctx, (info) => this.isLive(info));
  }

  async move(from: string, to: string, opts?: OperationOptions): Promise<void> {
    this.checkKey(from, "move");
    this.checkKey(to, "move");
    await this.run(
      "move",
      from,
      opts,
      async (ctx) => {
        const check = from === to || !this.driver.honorsExpiry;
        const source = check ? await this.driver.stat(from, ctx) : true;
        if (!source || (source !== true && !this.isLive(source))) throw this.notFound(from, "move");
        if (from === to) return;
        let moved: boolean;
        if (this.driver.move) moved = await this.driver.move(from, to, ctx);
        else {
          moved = this.driver.copy ? await this.driver.copy(from, to, ctx) : await this.copyByReading(from, to, ctx);
          if (moved) await this.driver.delete(from, ctx);
        }
        if (!moved) throw this.notFound(from, "move");
      },
      ON_DELETE,
    );
  }

  /**
   * A view of the keys under `prefix` (a valid key followed by `/`), with keys relative to
   * it for every operation. See {@link PrefixDriver} for what the view reports; closing it
   * leaves this storage open.
   */
  withPrefix(prefix: string): Storage {
    let driver: PrefixDriver;
    try {
      driver = new PrefixDriver(this, prefix);
    } catch (error) {
      throw this.toStorageError(error, "withPrefix");
    }
    // Each call to this storage keeps its own default timeout and TTL; the view adds none,
    // and checks deadlines with this storage's clock.
    return new BaseStorage(driver, { timeout: 0, clock: this.now });
  }

  on(event: StorageEventName, listener: StorageListener): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: StorageEventName, listener: StorageListener): this {
    this.events.off(event, listener);
    return this;
  }

  once(event: StorageEventName, listener: StorageListener): this {
    this.events.once(event, listener);
    return this;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.driver.close?.();
    } catch (error) {
      throw this.toStorageError(error, "close");
    }
  }
}
