import {
  STACK_BASE,
  type StackBase,
  type Storage,
  StorageNotFoundError,
  StorageValidationError,
  type StorageValue,
  decodeKey,
  encodeKey,
} from "@pepperpy/storage-core";
import type { Driver, StorageValue as UnstorageValue } from "unstorage";

/**
 * How unstorage keys become storage keys (unstorage hands drivers normalized keys: `a:b:c`,
 * no query, no `/`).
 * - `"plain"` (default): `:` becomes `/` (`users:1` is stored as `users/1`). Keys the storage
 *   refuses (a `..` segment, a 300-byte segment on a file system, control characters) reject
 *   with a `StorageValidationError` naming the key.
 * - `"escape"`: after `:` → `/`, each segment is encoded with `encodeKey` from
 *   `@pepperpy/storage-core` into one every backend accepts, reversibly (long segments are
 *   cut in 200-byte pieces). Ordinary keys are unchanged; `%` and a leading `.` are escaped.
 */
export type KeyEncoding = "plain" | "escape";

/** Options of {@link storageDriver}. */
export interface StorageDriverOptions {
  /** The storage values are kept in (any backend, with any layers). */
  storage: Storage;
  /** See {@link KeyEncoding}. Default `"plain"`. */
  keyEncoding?: KeyEncoding | undefined;
}

/** unstorage's per-call options (`ttl` in seconds, as its other drivers take it). */
export interface TransactionOptions {
  ttl?: number | undefined;
  [option: string]: unknown;
}

/** What `getMeta` returns: unstorage's `mtime`, `size` and `ttl` (seconds left), plus the stored info. */
export interface StorageMeta {
  mtime: Date;
  size: number;
  /** Seconds until the value expires (by the storage's clock), when it was written with a TTL. */
  ttl?: number | undefined;
  /** The deadline, when the value was written with a TTL. */
  expiresAt?: Date | undefined;
  contentType: string;
  etag?: string | undefined;
  /** User metadata given at `put`. */
  metadata: Record<string, string>;
  [field: string]: UnstorageValue | Date | undefined;
}

/** This driver as unstorage sees it: its `Driver`, with the options and the `Storage` as instance. */
export type StorageDriverInstance = Driver<StorageDriverOptions, Storage>;

/** How many keys `clear` deletes per batch. */
const CLEAR_BATCH = 1000;

async function orNull<T>(promise: Promise<T>): Promise<T | null> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof StorageNotFoundError) return null;
    throw error;
  }
}

/**
 * The clock the storage judges deadlines by (its `clock` option, which layers and prefix
 * views inherit), so `getMeta().ttl` agrees with what the storage hides. A storage used
 * through its public methods only (a `MountStorage`, the testing kit's `MockStorage`)
 * does not expose one: `Date.now` then.
 */
function clockOf(storage: Storage): () => number {
  const base = (storage as { [STACK_BASE]?: () => StackBase | undefined })[STACK_BASE]?.();
  return base?.options.clock ?? Date.now;
}

/** unstorage's `ttl` (seconds) as put options. */
function ttlOptions(opts: TransactionOptions | undefined): { ttl?: number } {
  const ttl = opts?.ttl;
  return typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? { ttl: ttl * 1000 } : {};
}

/**
 * An unstorage driver over any `Storage`:
 * `createStorage({ driver: storageDriver({ storage }) })`.
 *
 * - Keys: unstorage's `:` is the storage's `/` (`users:1` ⇄ `users/1`), so other tools see
 *   one folder per segment; see {@link KeyEncoding} for keys the storage refuses.
 * - TTL is native (`flags.ttl`): `setItem(key, value, { ttl })` (seconds, as unstorage's Redis
 *   and KV drivers take it) is `put(key, value, { ttl: seconds * 1000 })`; the storage hides
 *   the value from its deadline on, and `getMeta` reports the seconds left.
 * - `getMeta` comes from `stat`: `mtime`, `size`, `ttl`, `expiresAt`, `contentType`, `etag`
 *   and the user `metadata`; `ttl` (seconds left) is counted by the storage's clock.
 * - Raw values (`setItemRaw` / `getItemRaw`) are stored as bytes, not base64.
 * - `dispose()` closes the storage. No `watch`: the storage has no change feed.
 */
export function storageDriver(options: StorageDriverOptions): StorageDriverInstance {
  const storage = options?.storage;
  if (!storage || typeof storage.listPage !== "function") {
    throw new StorageValidationError("storageDriver needs { storage }: a @pepperpy/storage Storage", { backend: "unstorage" });
  }
  const keyEncoding = options.keyEncoding ?? "plain";
  if (keyEncoding !== "plain" && keyEncoding !== "escape") {
    throw new StorageValidationError(`Invalid keyEncoding ${JSON.stringify(keyEncoding)}: expected "plain" or "escape"`, { backend: "unstorage" });
  }
  const escaped = keyEncoding === "escape";
  const now = clockOf(storage);

  const toKey = (key: string): string => {
    const slashed = key.replaceAll(":", "/");
    return escaped ? encodeKey(slashed) : slashed;
  };
  const fromKey = (key: string): string => (escaped ? decodeKey(key) : key).replaceAll("/", ":");
  /** unstorage bases end in `:` (`users:`) or are empty. */
  const toPrefix = (base: string): string => {
    if (!base) return "";
    const whole = base.endsWith(":");
    const body = toKey(whole ? base.slice(0, -1) : base);
    return whole ? `${body}/` : body;
  };
  const keysUnder = async (base: string): Promise<string[]> => storage.list(toPrefix(base));

  return {
    name: "pepperpy-storage",
    flags: { ttl: true, maxDepth: false },
    options,
    getInstance: () => storage,
    hasItem: (key) => storage.exists(toKey(key)),
    getItem: (key) => orNull(storage.get<UnstorageValue>(toKey(key))),
    async getItems(items) {
      const values = await storage.getMany<UnstorageValue>(items.map((i) => toKey(i.key)));
      return items.map((item, i) => ({ key: item.key, value: values[i] ?? null }));
    },
    getItemRaw: (key) => orNull(storage.getBytes(toKey(key))),
    async setItem(key, value, opts) {
      await storage.put(toKey(key), value, ttlOptions(opts));
    },
    async setItems(items, common) {
      await Promise.all(items.map((item) => storage.put(toKey(item.key), item.value, ttlOptions({ ...common, ...item.options } as TransactionOptions))));
    },
    async setItemRaw(key, value, opts) {
      await storage.put(toKey(key), value as StorageValue, ttlOptions(opts));
    },
    removeItem: (key) => storage.delete(toKey(key)),
    async getMeta(key): Promise<StorageMeta | null> {
      const info = await orNull(storage.stat(toKey(key)));
      if (!info) return null;
      const meta: StorageMeta = {
        mtime: info.lastModified,
        size: info.size,
        contentType: info.contentType,
        etag: info.etag,
        metadata: info.metadata,
      };
      if (info.expiresAt) {
        meta.expiresAt = info.expiresAt;
        meta.ttl = Math.max(0, Math.ceil((info.expiresAt.getTime() - now()) / 1000));
      }
      return meta;
    },
    async getKeys(base) {
      return (await keysUnder(base)).map(fromKey);
    },
    async clear(base) {
      const keys = await keysUnder(base);
      for (let i = 0; i < keys.length; i += CLEAR_BATCH) await storage.deleteMany(keys.slice(i, i + CLEAR_BATCH));
    },
    dispose: () => storage.close(),
  };
}
