import { handOver } from "./codec.js";
import { StorageNotFoundError, StorageUnavailableError } from "./errors.js";
import { putOptionsOf } from "./prefixed.js";
import {
  BaseStorage,
  type BaseStorageOptions,
  DEFAULT_CONCURRENCY,
  DEFAULT_PAGE_SIZE,
  type MaybePromise,
  NEVER_ABORTED,
  STACK_BASE,
  type StackBase,
  andThen,
  copyByReading,
  entryReadable,
  isPromiseLike,
  mapLimit,
  readEntry,
  readEntryStream,
} from "./storage.js";
import type {
  DriverContext,
  ListPage,
  ListPageRequest,
  ObjectInfo,
  Storage,
  StorageCapabilities,
  StorageDriver,
  StoredEntry,
  StoredStream,
  WriteRequest,
} from "./types.js";
import { Readable } from "node:stream";

/** Turns "missing" into `undefined`, the driver contract's way of saying it. */
export async function orUndefined<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof StorageNotFoundError) return undefined;
    throw error;
  }
}

/**
 * Operation options for a call to a public `Storage` from a driver: the outer call's
 * signal, so an outer abort or timeout stops the inner work.
 */
export function innerOptions(ctx: DriverContext): { signal?: AbortSignal } {
  return ctx.signal === NEVER_ABORTED ? {} : { signal: ctx.signal };
}

/**
 * The context of a read whose entry a layer keeps or changes (a cache fill, a decompression):
 * `reads: "entry"`, so the driver underneath hands out bytes and info of its own. The signal
 * is read only when a driver asks for it, as the core's context does.
 */
export function entryContext(ctx: DriverContext): DriverContext {
  if (ctx.reads === undefined || ctx.reads === "entry") return ctx;
  return {
    get signal() {
      return ctx.signal;
    },
    operation: ctx.operation,
    reads: "entry",
  };
}

/** A transform of drivers, as OpenDAL's `Layer`: it wraps the driver underneath and returns the driver of the stack. */
export type Layer = (inner: StorageDriver) => StorageDriver;

/** False for a `StorageDriver` (what layers compose: it reads and writes), true for anything else, taken as a `Storage`. */
function isStorage(value: StorageDriver | Storage): value is Storage {
  const driver = value as Partial<StorageDriver>;
  return typeof driver.read !== "function" || typeof driver.write !== "function";
}

/**
 * The bottom of a stack over a storage that extends `BaseStorage`: its own driver, called
 * directly, so key checks, encoding, timeouts and events run once, in the stack. Calls
 * after the storage was closed are refused; what the driver throws is named after the
 * storage, as its own calls would be; closing the stack closes the storage.
 */
class StackBaseDriver implements StorageDriver {
  readonly name: string;
  readonly honorsExpiry: boolean;
  readonly options: BaseStorageOptions;
  /** The storage whose driver this is. */
  readonly storage: Storage;
  private readonly base: StackBase;
  private readonly driver: StorageDriver;

  constructor(base: StackBase, storage: Storage) {
    this.base = base;
    this.driver = base.driver;
    this.storage = storage;
    this.name = storage.name;
    this.honorsExpiry = base.driver.honorsExpiry === true;
    this.options = base.options;
  }

  get capabilities(): StorageCapabilities {
    return this.driver.capabilities;
  }

  /** Runs one driver call: refused once the storage is closed, errors mapped with the storage's context. */
  private call<T>(ctx: DriverContext, key: string | undefined, fn: () => MaybePromise<T>): MaybePromise<T> {
    const base = this.base;
    if (base.isClosed()) throw new StorageUnavailableError("Storage is closed", { retryable: false, key, operation: ctx.operation, backend: this.name });
    let out: MaybePromise<T>;
    try {
      out = fn();
    } catch (error) {
      throw base.mapError(error, ctx.operation, key);
    }
    if (!isPromiseLike(out)) return out;
    return out.then(undefined, (error: unknown) => {
      throw base.mapError(error, ctx.operation, key);
    });
  }

  read(key: string, ctx: DriverContext): MaybePromise<StoredEntry | undefined> {
    return this.call(ctx, key, () => this.driver.read(key, ctx));
  }

  stat(key: string, ctx: DriverContext): MaybePromise<ObjectInfo | undefined> {
    return this.call(ctx, key, () => this.driver.stat(key, ctx));
  }

  write(key: string, req: WriteRequest, ctx: DriverContext): MaybePromise<ObjectInfo> {
    return this.call(ctx, key, () => this.driver.write(key, req, ctx));
  }

  delete(key: string, ctx: DriverContext): MaybePromise<void> {
    return this.call(ctx, key, () => this.driver.delete(key, ctx));
  }

  list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    return this.call(ctx, prefix || undefined, () => this.driver.list(prefix, page, ctx)) as Promise<ListPage>;
  }

  exists(key: string, ctx: DriverContext): MaybePromise<boolean> {
    const d = this.driver;
    return this.call(ctx, key, () => existsOf(d, key, ctx));
  }

  readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const d = this.driver;
    return Promise.resolve(this.call(ctx, key, () => readStreamOf(d, key, range, ctx)));
  }

  copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const d = this.driver;
    return Promise.resolve(this.call(ctx, from, () => copyOf(d, from, to, ctx)));
  }

  move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const d = this.driver;
    return Promise.resolve(this.call(ctx, from, () => moveOf(d, from, to, ctx)));
  }

  deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    const d = this.driver;
    return Promise.resolve(this.call(ctx, undefined, () => deleteManyOf(d, keys, ctx)));
  }

  purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    const d = this.driver;
    return Promise.resolve(this.call(ctx, prefix || undefined, () => purgeExpiredOf(d, prefix, now, ctx)));
  }

  close(): Promise<void> {
    return this.base.close();
  }
}

/**
 * A driver over any other `Storage` (one that is not a `BaseStorage`, or opts out of
 * stacking): every call goes through the storage's public methods, with the outer call's
 * signal. The storage applies its own checks, timeout and events.
 */
class PublicApiDriver implements StorageDriver {
  readonly name: string;
  /** `exists`, `copy` and `move` forward to a `Storage`, which treats expired keys as missing itself. */
  readonly honorsExpiry = true;
  readonly storage: Storage;

  constructor(storage: Storage, layer: string) {
    // Checked now, so a storage that cannot be wrapped fails where the stack is built.
    entryReadable(storage, { backend: layer });
    this.storage = storage;
    this.name = storage.name;
  }

  get capabilities(): StorageCapabilities {
    return this.storage.capabilities;
  }

  read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    return orUndefined(readEntry(this.storage, key, innerOptions(ctx), ctx.operation));
  }

  readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    return orUndefined(readEntryStream(this.storage, key, { ...range, ...innerOptions(ctx) }, ctx.operation));
  }

  stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    return orUndefined(this.storage.stat(key, innerOptions(ctx)));
  }

  exists(key: string, ctx: DriverContext): Promise<boolean> {
    return this.storage.exists(key, innerOptions(ctx));
  }

  write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    // Bytes that belong to the write are handed over, so the storage does not copy them again.
    const body = req.owned === true && req.body instanceof Uint8Array ? handOver(req.body) : req.body;
    return this.storage.put(key, body, putOptionsOf(req, ctx));
  }

  delete(key: string, ctx: DriverContext): Promise<void> {
    return this.storage.delete(key, innerOptions(ctx));
  }

  list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    return this.storage.listPage(prefix, { ...page, ...innerOptions(ctx) });
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return (await orUndefined(this.storage.copy(from, to, innerOptions(ctx)).then(() => true))) ?? false;
  }

  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return (await orUndefined(this.storage.move(from, to, innerOptions(ctx)).then(() => true))) ?? false;
  }

  deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return this.storage.deleteMany(keys, innerOptions(ctx));
  }

  /** The storage purges with its own clock and its own conditional delete. */
  purgeExpired(prefix: string, _now: number, ctx: DriverContext): Promise<number> {
    return this.storage.purgeExpired(prefix, innerOptions(ctx));
  }

  close(): Promise<void> {
    return this.storage.close();
  }
}

/**
 * The driver a layer composes onto: a driver as it is; the driver of a `BaseStorage`
 * behind a guard that keeps the storage's closed state and error names; any other
 * `Storage` through its public methods.
 *
 * @param layer - the name of the layer that wraps it, for errors at construction
 */
export function driverOf(inner: StorageDriver | Storage, layer: string): StorageDriver {
  if (!isStorage(inner)) return inner;
  const base = (inner as Partial<Pick<BaseStorage, typeof STACK_BASE>>)[STACK_BASE]?.();
  return base ? new StackBaseDriver(base, inner) : new PublicApiDriver(inner, layer);
}

/**
 * The timeout, size limit, default TTL and clock a stack over `driver` inherits from the
 * storage at its bottom; a storage wrapped through its public methods applies its own, so
 * the stack adds no timeout.
 */
export function stackOptions(driver: StorageDriver): BaseStorageOptions {
  let d: StorageDriver = driver;
  while (d instanceof ForwardingDriver) d = d.inner;
  return d instanceof StackBaseDriver ? d.options : { timeout: 0 };
}

/** `readStream` for a driver without one: its `read`, sliced to the range, as a stream. */
function streamByReading(
  driver: StorageDriver,
  key: string,
  range: { start?: number | undefined; end?: number | undefined },
  ctx: DriverContext,
): MaybePromise<StoredStream | undefined> {
  return andThen(driver.read(key, ctx), (entry) => {
    if (!entry) return undefined;
    const size = entry.data.byteLength;
    const from = Math.min(range.start ?? 0, size);
    const to = range.end === undefined ? size : Math.max(from, Math.min(range.end + 1, size));
    const slice = Buffer.from(entry.data.buffer, entry.data.byteOffset + from, to - from);
    return { info: entry.info, stream: Readable.from([slice], { objectMode: false }) };
  });
}

/** `move` for a driver without one: copy (native or by reading), then delete the source. */
async function moveByCopying(driver: StorageDriver, from: string, to: string, ctx: DriverContext): Promise<boolean> {
  const copied = await copyOf(driver, from, to, ctx);
  if (copied) await driver.delete(from, ctx);
  return copied;
}

/** `deleteMany` for a driver without one: `delete` per key, bounded concurrency. */
async function deleteEach(driver: StorageDriver, keys: readonly string[], ctx: DriverContext): Promise<void> {
  await mapLimit(keys, DEFAULT_CONCURRENCY, async (key) => driver.delete(key, ctx));
}

/**
 * `purgeExpired` for a driver without one: list under the prefix, and per expired entry a
 * fresh `stat` (it may have been rewritten since it was listed) and a `delete`.
 */
async function purgeByListing(driver: StorageDriver, prefix: string, now: number, ctx: DriverContext): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await driver.list(prefix, { cursor, limit: DEFAULT_PAGE_SIZE }, ctx);
    const expired = page.items.filter((e) => e.expiresAt !== undefined && e.expiresAt.getTime() <= now).map((e) => e.key);
    await mapLimit(expired, DEFAULT_CONCURRENCY, async (key) => {
      const info = await driver.stat(key, ctx);
      if (info?.expiresAt === undefined || info.expiresAt.getTime() > now) return;
      await driver.delete(key, ctx);
      deleted++;
    });
    cursor = page.cursor;
  } while (cursor !== undefined);
  return deleted;
}

// A driver's optional method, or the core's default for it when the driver has none: what
// the guard and every ForwardingDriver call, so the choice is written once.
function existsOf(d: StorageDriver, key: string, ctx: DriverContext): MaybePromise<boolean> {
  return d.exists ? d.exists(key, ctx) : andThen(d.stat(key, ctx), (info) => info !== undefined);
}
function readStreamOf(d: StorageDriver, key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
  return d.readStream ? d.readStream(key, range, ctx) : Promise.resolve(streamByReading(d, key, range, ctx));
}
function copyOf(d: StorageDriver, from: string, to: string, ctx: DriverContext): Promise<boolean> {
  return d.copy ? d.copy(from, to, ctx) : copyByReading(d, from, to, ctx);
}
function moveOf(d: StorageDriver, from: string, to: string, ctx: DriverContext): Promise<boolean> {
  return d.move ? d.move(from, to, ctx) : moveByCopying(d, from, to, ctx);
}
function deleteManyOf(d: StorageDriver, keys: readonly string[], ctx: DriverContext): Promise<void> {
  return d.deleteMany ? d.deleteMany(keys, ctx) : deleteEach(d, keys, ctx);
}
function purgeExpiredOf(d: StorageDriver, prefix: string, now: number, ctx: DriverContext): Promise<number> {
  return d.purgeExpired ? d.purgeExpired(prefix, now, ctx) : purgeByListing(d, prefix, now, ctx);
}

/**
 * A driver that forwards every call to the driver underneath: the base of a layer, which
 * overrides only what it changes. Optional methods the driver underneath lacks get the
 * core's defaults (`exists` from `stat`, `copy` by reading and writing, …), so a layer can
 * always call `super.copy(…)`.
 *
 * Give it a `Storage` and it composes onto that storage's driver (see {@link driverOf}).
 */
export class ForwardingDriver implements StorageDriver {
  /** The driver underneath. */
  readonly inner: StorageDriver;
  readonly name: string;

  /** @param layer - the layer's name; the driver is named `layer(inner)` in errors and events */
  constructor(inner: StorageDriver | Storage, layer: string) {
    this.inner = driverOf(inner, layer);
    this.name = `${layer}(${this.inner.name})`;
  }

  get capabilities(): StorageCapabilities {
    return this.inner.capabilities;
  }

  /** As the driver underneath: whether `exists`, `copy` and `move` treat an expired key as missing. */
  get honorsExpiry(): boolean {
    return this.inner.honorsExpiry === true;
  }

  read(key: string, ctx: DriverContext): MaybePromise<StoredEntry | undefined> {
    return this.inner.read(key, ctx);
  }

  readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    return readStreamOf(this.inner, key, range, ctx);
  }

  stat(key: string, ctx: DriverContext): MaybePromise<ObjectInfo | undefined> {
    return this.inner.stat(key, ctx);
  }

  exists(key: string, ctx: DriverContext): MaybePromise<boolean> {
    return existsOf(this.inner, key, ctx);
  }

  write(key: string, req: WriteRequest, ctx: DriverContext): MaybePromise<ObjectInfo> {
    return this.inner.write(key, req, ctx);
  }

  delete(key: string, ctx: DriverContext): MaybePromise<void> {
    return this.inner.delete(key, ctx);
  }

  list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    return this.inner.list(prefix, page, ctx);
  }

  copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return copyOf(this.inner, from, to, ctx);
  }

  move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return moveOf(this.inner, from, to, ctx);
  }

  deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return deleteManyOf(this.inner, keys, ctx);
  }

  purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    return purgeExpiredOf(this.inner, prefix, now, ctx);
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }
}

/** `options`, with what it leaves unset taken from `inherited` (a stack's backend). */
function inherit(options: BaseStorageOptions, inherited: BaseStorageOptions): BaseStorageOptions {
  return {
    timeout: options.timeout ?? inherited.timeout,
    maxSize: options.maxSize ?? inherited.maxSize,
    defaultTtl: options.defaultTtl ?? inherited.defaultTtl,
    clock: options.clock ?? inherited.clock,
  };
}

/** Options every layer accepts. */
export interface LayerOptions extends BaseStorageOptions {
  /** The storage this layer wraps. */
  backend: Storage;
}

/**
 * Base class of the built-in layers: one `BaseStorage` over the layer's driver, composed
 * onto the driver of the storage it wraps (see {@link driverOf}), so a user call is checked,
 * timed and reported once however many layers it crosses. The stack inherits the wrapped
 * storage's timeout, size limit, default TTL and clock unless given its own. Closing a
 * layer closes the storage it wraps.
 */
export class LayerStorage<D extends StorageDriver = ForwardingDriver> extends BaseStorage {
  protected declare readonly driver: D;
  private readonly wrapped: Storage | undefined;

  constructor(driver: D, options: BaseStorageOptions & { backend?: Storage | undefined } = {}) {
    super(driver, inherit(options, stackOptions(driver)));
    this.wrapped = options.backend;
  }

  /** The storage this layer wraps. */
  get backend(): Storage {
    if (this.wrapped) return this.wrapped;
    const inner = (this.driver as unknown as { inner?: StorageDriver }).inner;
    if (inner instanceof PublicApiDriver || inner instanceof StackBaseDriver) return inner.storage;
    throw new StorageUnavailableError("This stack was built from drivers: it wraps no Storage", { backend: this.name, retryable: false });
  }
}

/**
 * Composes layers onto a storage: `stack(backend, [retry, cache])` is one storage whose
 * calls run through `cache`, then `retry` (the last layer is outermost, as each wraps the
 * result so far), then the backend's driver. The stack inherits the backend's timeout,
 * size limit, default TTL and clock unless `options` sets them; closing it closes the backend.
 *
 * @example
 * const storage = stack(new FileStorage("./data"), [(d) => new RetryDriver(d, {}), (d) => new CacheDriver(d, {})]);
 */
export function stack(backend: Storage, layers: readonly Layer[], options: BaseStorageOptions = {}): Storage {
  const bottom = driverOf(backend, "stack");
  let driver = bottom;
  for (const layer of layers) driver = layer(driver);
  // From the bottom, not by walking the layers: a layer need not extend ForwardingDriver.
  return new LayerStorage(driver, { ...inherit(options, stackOptions(bottom)), backend });
}
