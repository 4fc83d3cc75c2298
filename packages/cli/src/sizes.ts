import {
  BaseStorage,
  CachedStorage,
  CompositeStorage,
  type ListEntry,
  MetricsStorage,
  RetryStorage,
  type Storage,
  StorageNotFoundError,
} from "@pepperpy/storage";

/**
 * Whether the sizes in `storage`'s listings may differ from the sizes of the values users
 * stored. Listings pass through layers to the backend, so they report what the backend
 * holds: a compressed or encrypted object's stored size. Backends store what they are
 * given; cache, retry and metrics layers do not change bytes; any other layer (compression,
 * encryption, one from a plugin) is assumed to.
 */
export function listsStoredSizes(storage: Storage): boolean {
  if (storage instanceof CachedStorage || storage instanceof RetryStorage || storage instanceof MetricsStorage) return listsStoredSizes(storage.backend);
  if (storage instanceof CompositeStorage) return storage.backends.some(listsStoredSizes);
  if ("backend" in storage) return true;
  // A backend built on the core: its listings are its values' sizes. A storage of unknown
  // make might wrap another one; stat tells for sure.
  return !(storage instanceof BaseStorage);
}

/** The storage that holds the bytes (the innermost backend under every layer), for stored sizes. */
export function innermost(storage: Storage): Storage {
  let s = storage;
  while ("backend" in s && typeof (s as { backend?: unknown }).backend === "object") s = (s as unknown as { backend: Storage }).backend;
  if (s instanceof CompositeStorage && s.backends[0]) return innermost(s.backends[0]);
  return s;
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
