// Imported by storage.ts (for `withPrefix`), so this module must not import layer.ts or
// anything that extends BaseStorage at load time: the cycle would reach `extends BaseStorage`
// before storage.ts has defined it. It uses storage.ts only inside functions.
import { StorageNotFoundError, StorageValidationError, isStorageError } from "./errors.js";
import { isValidKey } from "./keys.js";
import { NEVER_ABORTED, forwardedExpiry, forwardedValueType, readEntry, readEntryStream, requestExpiry } from "./storage.js";
import type {
  DriverContext,
  ListEntry,
  ListPage,
  ListPageRequest,
  ObjectInfo,
  PutOptions,
  Storage,
  StorageCapabilities,
  StorageDriver,
  StoredEntry,
  StoredStream,
  WriteRequest,
} from "./types.js";

/** Options for a call to the storage underneath: the outer call's signal (see `innerOptions` in layer.ts). */
function signalOf(ctx: DriverContext): { signal?: AbortSignal } {
  return ctx.signal === NEVER_ABORTED ? {} : { signal: ctx.signal };
}

/** `undefined` for "missing", as the driver contract says it. */
async function orMissing<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof StorageNotFoundError) return undefined;
    throw error;
  }
}

/**
 * The put options that carry a {@link WriteRequest} to a storage underneath: the user's
 * layer options, the resolved type, content type, metadata and conditions, and the expiry
 * deadline the outer storage resolved (none: the storage underneath applies its default TTL).
 */
export function putOptionsOf(req: WriteRequest, ctx: DriverContext): PutOptions {
  return {
    ...req.options,
    contentType: req.contentType,
    metadata: req.metadata,
    ...forwardedValueType(req.valueType),
    ifNoneMatch: req.ifNoneMatch,
    ifMatch: req.ifMatch,
    // The outer storage already enforced its limit; the inner one applies its own.
    maxSize: undefined,
    ...forwardedExpiry(requestExpiry(req)),
    ...signalOf(ctx),
  };
}

/**
 * Checks a namespace prefix for `withPrefix` and mount points: a valid key followed by `/`
 * (`"tenant-a/"`, `"a/b/"`), so that every key of the view is a whole key below it.
 */
export function checkNamespacePrefix(prefix: unknown, operation: string, backend?: string): asserts prefix is string {
  if (typeof prefix !== "string" || !prefix.endsWith("/") || !isValidKey(prefix.slice(0, -1))) {
    throw new StorageValidationError(
      `Invalid prefix ${JSON.stringify(typeof prefix === "string" ? prefix : String(prefix))}: expected a valid key followed by "/", such as "tenant-a/"`,
      { operation, backend },
    );
  }
}

/**
 * The driver of `storage.withPrefix(prefix)`: every key is `prefix + key` on the storage
 * underneath, and every key it returns (entries, infos, cursors, errors) is relative again.
 *
 * - The storage underneath, its layers included, sees full keys: an encryption layer under
 *   the view binds each value to its full key, so a value cannot be moved between tenants
 *   unnoticed.
 * - Errors name the relative key, and the view as backend: `prefix[tenant-a/](memory)`.
 * - Events of the view carry relative keys; listeners on the storage underneath see full keys.
 * - Closing the view does not close the storage it views (other views may share it).
 */
export class PrefixDriver implements StorageDriver {
  /** The storage the view reads and writes. */
  readonly inner: Storage;
  /** The prefix, ending in `/`. */
  readonly prefix: string;
  readonly name: string;

  constructor(inner: Storage, prefix: string) {
    checkNamespacePrefix(prefix, "withPrefix", inner.name);
    this.inner = inner;
    this.prefix = prefix;
    this.name = `prefix[${prefix}](${inner.name})`;
  }

  get capabilities(): StorageCapabilities {
    return this.inner.capabilities;
  }

  /** `exists` asks a `Storage`, which leaves out expired keys itself. */
  readonly existsHonorsExpiry = true;

  private full(key: string): string {
    return this.prefix + key;
  }

  private relative<T extends ListEntry>(entry: T): T {
    return entry.key.startsWith(this.prefix) ? { ...entry, key: entry.key.slice(this.prefix.length) } : entry;
  }

  /** Rewrites an error of the storage underneath: the relative key, and this view as backend. */
  private readonly relabel = (error: unknown): never => {
    if (isStorageError(error)) {
      if (error.key?.startsWith(this.prefix)) error.key = error.key.slice(this.prefix.length);
      error.backend = undefined;
      error.withContext({ backend: this.name });
    }
    throw error;
  };

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const entry = await orMissing(readEntry(this.inner, this.full(key), signalOf(ctx), ctx.operation)).catch(this.relabel);
    return entry && { info: this.relative(entry.info), data: entry.data };
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const opened = await orMissing(readEntryStream(this.inner, this.full(key), { ...range, ...signalOf(ctx) }, ctx.operation)).catch(this.relabel);
    return opened && { info: this.relative(opened.info), stream: opened.stream };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const info = await orMissing(this.inner.stat(this.full(key), signalOf(ctx))).catch(this.relabel);
    return info && this.relative(info);
  }

  exists(key: string, ctx: DriverContext): Promise<boolean> {
    return this.inner.exists(this.full(key), signalOf(ctx)).catch(this.relabel);
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    return this.relative(await this.inner.put(this.full(key), req.body, putOptionsOf(req, ctx)).catch(this.relabel));
  }

  delete(key: string, ctx: DriverContext): Promise<void> {
    return this.inner.delete(this.full(key), signalOf(ctx)).catch(this.relabel);
  }

  deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return this.inner.deleteMany(
      keys.map((k) => this.full(k)),
      signalOf(ctx),
    ).catch(this.relabel);
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const inner = await this.inner
      .listPage(this.full(prefix), {
        limit: page.limit,
        keysOnly: page.keysOnly,
        cursor: page.cursor === undefined ? undefined : this.full(page.cursor),
        ...signalOf(ctx),
      })
      .catch(this.relabel);
    const items = inner.items.map((e) => this.relative(e));
    return inner.cursor === undefined ? { items } : { items, cursor: inner.cursor.slice(this.prefix.length) };
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return (await orMissing(this.inner.copy(this.full(from), this.full(to), signalOf(ctx)).then(() => true)).catch(this.relabel)) ?? false;
  }

  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return (await orMissing(this.inner.move(this.full(from), this.full(to), signalOf(ctx)).then(() => true)).catch(this.relabel)) ?? false;
  }

  /** The storage underneath purges the prefixed range with its own clock and conditional delete. */
  purgeExpired(prefix: string, _now: number, ctx: DriverContext): Promise<number> {
    return this.inner.purgeExpired(this.full(prefix), signalOf(ctx)).catch(this.relabel);
  }

  /** A view owns nothing: closing it leaves the storage underneath open. */
  async close(): Promise<void> {}
}
