import { type ListEntry, type ObjectInfo, type Storage, StorageAbortedError, StorageNotFoundError, compareKeys, mapLimit, readEntryStream } from "@pepperpy/storage";
import { abortable } from "./io.js";
import { listsStoredSizes } from "./sizes.js";

/** Why `sync` copies a key. */
export type CopyReason = "new" | "size" | "newer";

/** One step of a sync plan. */
export type SyncAction = { op: "copy"; key: string; size: number; reason: CopyReason } | { op: "delete"; key: string; size: number };

/** What `sync` will do (or, with `--dry-run`, would do). */
export interface SyncPlan {
  actions: SyncAction[];
  /** Keys present on both sides with the same size and a destination at least as new. */
  unchanged: number;
  /** Objects and bytes to copy. */
  copyObjects: number;
  copyBytes: number;
  /** Keys to delete from the destination (`--delete` only). */
  deleteObjects: number;
}

/** Keys whose logical sizes are fetched together while a plan is made (bounds memory). */
const STAT_BATCH = 256;
/** `stat` calls in flight while a plan is made. */
const STAT_CONCURRENCY = 16;

/** One step of the merge join, in key order; `stat` ones are decided once sizes are known. */
type Pending =
  | { kind: "action"; action: SyncAction }
  | { kind: "unchanged" }
  | { kind: "stat"; a: ListEntry; b: ListEntry | undefined; info?: { a: number | undefined; b: number | undefined } };

/**
 * Compares the two listings in one pass (both are sorted by code point, so this is a
 * merge join in constant memory apart from the plan itself).
 *
 * A key is copied when the destination lacks it, when the values' sizes differ, or when
 * the source is newer than the destination copy (a copy is always newer than its source,
 * so a second sync copies nothing), as rsync decides by default.
 *
 * Sizes are the values' (logical) sizes, whatever layers either side has: listings report
 * what the backend stores, which compression and encryption change, so on a side whose
 * listings report stored sizes (see `listsStoredSizes`) each key is `stat`-ed for its value's
 * size. Plain backends on both sides cost no extra call. Every size in the plan is logical.
 */
export async function planSync(from: Storage, to: Storage, prefix: string, opts: { delete: boolean; signal?: AbortSignal | undefined }): Promise<SyncPlan> {
  const plan: SyncPlan = { actions: [], unchanged: 0, copyObjects: 0, copyBytes: 0, deleteObjects: 0 };
  const srcStored = listsStoredSizes(from);
  const dstStored = listsStoredSizes(to);
  const src = from.iterate(prefix, { signal: opts.signal })[Symbol.asyncIterator]();
  const dst = to.iterate(prefix, { signal: opts.signal })[Symbol.asyncIterator]();
  const next = async (it: AsyncIterator<ListEntry>) => {
    const r = await it.next();
    return r.done ? undefined : r.value;
  };
  const logicalSize = async (storage: Storage, key: string): Promise<number | undefined> => {
    try {
      return (await storage.stat(key, { signal: opts.signal })).size;
    } catch (error) {
      if (error instanceof StorageNotFoundError) return undefined;
      throw error;
    }
  };
  const copy = (key: string, size: number, reason: CopyReason) => {
    plan.actions.push({ op: "copy", key, size, reason });
    plan.copyObjects++;
    plan.copyBytes += size;
  };
  const decide = (a: ListEntry, aSize: number, b: ListEntry | undefined, bSize: number | undefined) => {
    if (!b || bSize === undefined) copy(a.key, aSize, "new");
    else if (aSize !== bSize) copy(a.key, aSize, "size");
    else if (a.lastModified.getTime() > b.lastModified.getTime()) copy(a.key, aSize, "newer");
    else plan.unchanged++;
  };
  let pending: Pending[] = [];
  let stats = 0;
  const flush = async () => {
    const toStat = pending.filter((p): p is Extract<Pending, { kind: "stat" }> => p.kind === "stat");
    await mapLimit(toStat, STAT_CONCURRENCY, async (p) => {
      const [aSize, bSize] = await Promise.all([
        srcStored ? logicalSize(from, p.a.key) : p.a.size,
        p.b === undefined ? undefined : dstStored ? logicalSize(to, p.b.key) : p.b.size,
      ]);
      p.info = { a: aSize, b: bSize };
    });
    for (const p of pending) {
      if (p.kind === "action") {
        plan.actions.push(p.action);
        if (p.action.op === "delete") plan.deleteObjects++;
        else {
          plan.copyObjects++;
          plan.copyBytes += p.action.size;
        }
      } else if (p.kind === "unchanged") plan.unchanged++;
      // A source key deleted since the listing has nothing to copy.
      else if (p.info?.a !== undefined) decide(p.a, p.info.a, p.b, p.info.b);
    }
    pending = [];
    stats = 0;
  };
  const push = async (p: Pending) => {
    pending.push(p);
    if (p.kind === "stat") stats++;
    if (stats >= STAT_BATCH) await flush();
  };
  let a = await next(src);
  let b = await next(dst);
  while (a || b) {
    const order = a && b ? compareKeys(a.key, b.key) : a ? -1 : 1;
    if (order < 0 && a) {
      if (srcStored) await push({ kind: "stat", a, b: undefined });
      else await push({ kind: "action", action: { op: "copy", key: a.key, size: a.size, reason: "new" } });
      a = await next(src);
    } else if (order > 0 && b) {
      if (opts.delete) await push({ kind: "action", action: { op: "delete", key: b.key, size: b.size } });
      b = await next(dst);
    } else if (a && b) {
      if (srcStored || dstStored) await push({ kind: "stat", a, b });
      else if (a.size !== b.size) await push({ kind: "action", action: { op: "copy", key: a.key, size: a.size, reason: "size" } });
      else if (a.lastModified.getTime() > b.lastModified.getTime()) await push({ kind: "action", action: { op: "copy", key: a.key, size: a.size, reason: "newer" } });
      else await push({ kind: "unchanged" });
      a = await next(src);
      b = await next(dst);
    }
  }
  await flush();
  return plan;
}

/**
 * Streams one value from `from` to `to` with its value type, content type, metadata and
 * expiry, so it reads back exactly as it was written. Memory stays at a chunk or two,
 * whatever the size. `onOpen` sees the source's info (its size) before the first byte;
 * `onBytes` sees each chunk as it passes.
 */
export async function copyAcross(
  from: Storage,
  fromKey: string,
  to: Storage,
  toKey: string,
  opts: { signal?: AbortSignal | undefined; onBytes?: (n: number) => void; onOpen?: (info: ObjectInfo) => void },
): Promise<number> {
  const { info, stream } = await readEntryStream(from, fromKey, { signal: opts.signal }, "get");
  opts.onOpen?.(info);
  let moved = 0;
  async function* counted(): AsyncIterable<Uint8Array> {
    const source = stream as AsyncIterable<Uint8Array>;
    for await (const chunk of opts.signal ? abortable(source, opts.signal) : source) {
      moved += chunk.byteLength;
      opts.onBytes?.(chunk.byteLength);
      yield chunk;
    }
  }
  try {
    await to.put(toKey, counted(), {
      signal: opts.signal,
      // A large value may take longer than the per-operation timeout; Ctrl-C still stops it.
      timeout: 0,
      ...(info.valueType ? { valueType: info.valueType } : {}),
      contentType: info.contentType,
      metadata: info.metadata,
      ...(info.expiresAt ? { expiresAt: info.expiresAt } : {}),
    });
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
  return moved;
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. The first failure aborts the
 * others (through the signal each call gets) and is what this rejects with.
 */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal | undefined,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const failed = new AbortController();
  const combined = signal ? AbortSignal.any([signal, failed.signal]) : failed.signal;
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && !combined.aborted && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item, combined);
      } catch (error) {
        if (!failure) {
          failure = { error };
          failed.abort(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  if (signal?.aborted) throw new StorageAbortedError("Operation aborted", { cause: signal.reason });
}
