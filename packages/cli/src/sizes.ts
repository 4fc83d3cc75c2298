import {
  BaseStorage,
  CachedStorage,
  CompositeStorage,
  type ListEntry,
  MetricsStorage,
  MountStorage,
  type OperationOptions,
  RetryStorage,
  type Storage,
  StorageNotFoundError,
} from "@pepperpy/storage";

/** Layers that hand bytes to the storage they wrap unchanged: cache, retry, metrics. */
function keepsBytes(storage: Storage): storage is CachedStorage | RetryStorage | MetricsStorage {
  return storage instanceof CachedStorage || storage instanceof RetryStorage || storage instanceof MetricsStorage;
}

/** Whether `storage` is a layer (it has a `backend`). */
function isLayer(storage: Storage): boolean {
  return "backend" in storage;
}

/** The storage a layer wraps; `undefined` if it is no layer, or a stack built from drivers (it wraps no `Storage`). */
function wrapped(storage: Storage): Storage | undefined {
  if (!isLayer(storage)) return undefined;
  try {
    const backend = (storage as { backend?: unknown }).backend;
    return typeof backend === "object" && backend !== null ? (backend as Storage) : undefined;
  } catch {
    return undefined;
  }
}

/** The storages whose listings a composite or a mount merges, if `storage` is one. */
function merged(storage: Storage): readonly Storage[] | undefined {
  if (storage instanceof CompositeStorage) return storage.backends;
  if (storage instanceof MountStorage) return [...storage.mounts.values()];
  return undefined;
}

/**
 * Whether the sizes in `storage`'s listings may differ from the sizes of the values users
 * stored. Listings pass through layers to the backend, so they report what the backend
 * holds: a compressed or encrypted object's stored size. Backends store what they are
 * given; cache, retry and metrics layers do not change bytes; any other layer (compression,
 * encryption, one from a plugin) is assumed to. A composite or a mount lists what the
 * storages it merges list: it reports stored sizes if any of them does, whatever layers
 * each has, at any depth.
 */
export function listsStoredSizes(storage: Storage): boolean {
  if (keepsBytes(storage)) return listsStoredSizes(storage.backend);
  const parts = merged(storage);
  if (parts) return parts.some(listsStoredSizes);
  if (isLayer(storage)) return true;
  // A backend built on the core: its listings are its values' sizes. A storage of unknown
  // make might wrap another one; stat tells for sure.
  return !(storage instanceof BaseStorage);
}

/**
 * The size `key` has in the storage that holds its bytes, under every layer: what a listing
 * with `--stored` shows for it. A mount routes the key to the storage mounted at its longest
 * point (which sees the key without the point); a composite answers from the first of its
 * storages that has the key, as its `stat` does.
 */
export async function storedSize(storage: Storage, key: string, opts: OperationOptions = {}): Promise<number> {
  const inner = wrapped(storage);
  if (inner) return storedSize(inner, key, opts);
  if (storage instanceof MountStorage) {
    let point: string | undefined;
    for (const p of storage.mounts.keys()) if (key.startsWith(p) && (point === undefined || p.length > point.length)) point = p;
    const mounted = point === undefined ? undefined : storage.mounts.get(point);
    if (point !== undefined && mounted) return storedSize(mounted, key.slice(point.length), opts);
  }
  if (storage instanceof CompositeStorage) {
    const backends = storage.backends;
    for (let i = 0; i < backends.length; i++) {
      try {
        return await storedSize(backends[i] as Storage, key, opts);
      } catch (error) {
        if (!(error instanceof StorageNotFoundError) || i === backends.length - 1) throw error;
      }
    }
  }
  return (await storage.stat(key, opts)).size;
}

/** How many `stat` calls are in flight while listings are turned into logical sizes. */
export const STAT_CONCURRENCY = 16;

/**
 * Entries with the size users stored (what `stat` and `get` see), in listing order.
 * Where the listing already reports it, entries pass through untouched; otherwise each
 * entry is stat-ed, {@link STAT_CONCURRENCY} at a time, holding at most that many entries.
 * Entries deleted between the listing and the stat are left out.
 */
export async function* logicalEntries(storage: Storage, entries: AsyncIterable<ListEntry>, signal?: AbortSignal): AsyncIterable<ListEntry> {
  if (!listsStoredSizes(storage)) {
    yield* entries;
    return;
  }
  const window: Promise<ListEntry | undefined>[] = [];
  const logical = async (entry: ListEntry): Promise<ListEntry | undefined> => {
    try {
      const info = await storage.stat(entry.key, { signal });
      return { ...entry, size: info.size };
    } catch (error) {
      if (error instanceof StorageNotFoundError) return undefined;
      throw error;
    }
  };
  try {
    for await (const entry of entries) {
      window.push(logical(entry));
      if (window.length >= STAT_CONCURRENCY) {
        const done = await window.shift()!;
        if (done) yield done;
      }
    }
    while (window.length > 0) {
      const done = await window.shift()!;
      if (done) yield done;
    }
  } finally {
    // An early stop (an error, `ls | head`) must not leave rejections unhandled.
    for (const p of window) p.catch(() => undefined);
  }
}
