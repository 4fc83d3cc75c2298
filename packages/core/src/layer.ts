import { StorageNotFoundError } from "./errors.js";
import { putOptionsOf } from "./prefixed.js";
import { BaseStorage, type BaseStorageOptions, NEVER_ABORTED, entryReadable, readEntry, readEntryStream } from "./storage.js";
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
 * Operation options for a call to the inner storage: the outer call's signal, so an
 * outer abort or timeout stops the inner work; the inner storage's own default timeout
 * still bounds each inner call.
 */
export function innerOptions(ctx: DriverContext): { signal?: AbortSignal } {
  return ctx.signal === NEVER_ABORTED ? {} : { signal: ctx.signal };
}

/**
 * A driver that forwards every call to an inner {@link Storage}. A layer extends it and
 * overrides only what it changes; everything else (list, delete, copy, batches, close)
 * passes through. Inner calls get the outer call's signal, so an outer timeout or
 * abort reaches the backend.
 */
export class ForwardingDriver implements StorageDriver {
  /** The wrapped storage. */
  readonly inner: Storage;
  readonly name: string;

  /** @param layer - the layer's name; the driver is named `layer(inner)` in errors and events */
  constructor(inner: Storage, layer: string) {
    // Checked now, so a storage that cannot be wrapped fails where the stack is built.
    entryReadable(inner, { backend: layer });
    this.inner = inner;
    this.name = `${layer}(${inner.name})`;
  }

  get capabilities(): StorageCapabilities {
    return this.inner.capabilities;
  }

  /** `exists`, `copy` and `move` forward to a `Storage`, which treats expired keys as missing itself. */
  readonly honorsExpiry: boolean = true;

  /** Declared as the driver contract allows (a value now or later), so a layer may answer synchronously (a cache hit). */
  read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> | StoredEntry | undefined {
    return orUndefined(readEntry(this.inner, key, innerOptions(ctx), ctx.operation));
  }

  readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    return orUndefined(readEntryStream(this.inner, key, { ...range, ...innerOptions(ctx) }, ctx.operation));
  }

  /** Declared as the driver contract allows, like {@link ForwardingDriver.read}. */
  stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> | ObjectInfo | undefined {
    return orUndefined(this.inner.stat(key, innerOptions(ctx)));
  }

  /**
   * The inner storage's `exists` (one `lstat` on files, where `stat` also reads metadata).
   * A layer that changes which keys exist overrides it along with `read` and `stat`.
   */
  exists(key: string, ctx: DriverContext): Promise<boolean> | boolean {
    return this.inner.exists(key, innerOptions(ctx));
  }

  write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    return this.inner.put(key, req.body, putOptionsOf(req, ctx));
  }

  delete(key: string, ctx: DriverContext): Promise<void> {
    return this.inner.delete(key, innerOptions(ctx));
  }

  list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    return this.inner.listPage(prefix, { ...page, ...innerOptions(ctx) });
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return (await orUndefined(this.inner.copy(from, to, innerOptions(ctx)).then(() => true))) ?? false;
  }

  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return (await orUndefined(this.inner.move(from, to, innerOptions(ctx)).then(() => true))) ?? false;
  }

  deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return this.inner.deleteMany(keys, innerOptions(ctx));
  }

  /** The inner storage purges with its own clock and its own conditional delete. */
  purgeExpired(prefix: string, _now: number, ctx: DriverContext): Promise<number> {
    return this.inner.purgeExpired(prefix, innerOptions(ctx));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Options every layer accepts. */
export interface LayerOptions extends BaseStorageOptions {
  /** The storage this layer wraps. */
  backend: Storage;
}

/**
 * Base class of the built-in layers: a `BaseStorage` over a {@link ForwardingDriver}
 * subclass. Closing a layer closes the storage it wraps.
 */
export class LayerStorage<D extends ForwardingDriver = ForwardingDriver> extends BaseStorage {
  protected declare readonly driver: D;

  constructor(driver: D, options: BaseStorageOptions = {}) {
    // The inner storage keeps its own timeout; the layer's default is none, so a call is
    // bounded by the innermost timeout unless the caller or config sets one here.
    super(driver, { timeout: options.timeout ?? 0, maxSize: options.maxSize, defaultTtl: options.defaultTtl, clock: options.clock });
  }

  /** The storage this layer wraps. */
  get backend(): Storage {
    return this.driver.inner;
  }
}
