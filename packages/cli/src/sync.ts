import { type ListEntry, type Storage, StorageAbortedError, compareKeys } from "@pepperpy/storage";
import { abortable } from "./io.js";

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

/**
 * Compares the two listings in one pass (both are sorted by code point, so this is a
 * merge join in constant memory apart from the plan itself).
 *
 * A key is copied when the destination lacks it, when the sizes differ, or when the
 * source is newer than the destination copy (a copy is always newer than its source,
 * so a second sync copies nothing). Sizes are those the storages report: a layer that
 * changes stored sizes (compression, encryption) on one side only makes every key look
 * changed, and sync copies it again, which is safe but slower.
 */
export async function planSync(from: Storage, to: Storage, prefix: string, opts: { delete: boolean; signal?: AbortSignal | undefined }): Promise<SyncPlan> {
  const plan: SyncPlan = { actions: [], unchanged: 0, copyObjects: 0, copyBytes: 0, deleteObjects: 0 };
  const src = from.iterate(prefix, { signal: opts.signal })[Symbol.asyncIterator]();
  const dst = to.iterate(prefix, { signal: opts.signal })[Symbol.asyncIterator]();
  const next = async (it: AsyncIterator<ListEntry>) => {
    const r = await it.next();
    return r.done ? undefined : r.value;
  };
  const copy = (e: ListEntry, reason: CopyReason) => {
    plan.actions.push({ op: "copy", key: e.key, size: e.size, reason });
    plan.copyObjects++;
    plan.copyBytes += e.size;
  };
  let a = await next(src);
  let b = await next(dst);
  while (a || b) {
    const order = a && b ? compareKeys(a.key, b.key) : a ? -1 : 1;
    if (order < 0 && a) {
      copy(a, "new");
      a = await next(src);
    } else if (order > 0 && b) {
      if (opts.delete) {
        plan.actions.push({ op: "delete", key: b.key, size: b.size });
        plan.deleteObjects++;
      }
      b = await next(dst);
    } else if (a && b) {
      if (a.size !== b.size) copy(a, "size");
      else if (a.lastModified.getTime() > b.lastModified.getTime()) copy(a, "newer");
      else plan.unchanged++;
      a = await next(src);
      b = await next(dst);
    }
  }
  return plan;
}

/**
 * Streams one value from `from` to `to` with its value type, content type and metadata,
 * so it reads back exactly as it was written. `onBytes` sees each chunk as it passes.
 */
export async function copyAcross(
  from: Storage,
  fromKey: string,
  to: Storage,
  toKey: string,
  opts: { signal?: AbortSignal | undefined; onBytes?: (n: number) => void },
): Promise<number> {
  const { info, stream } = await from.getEntryStream(fromKey, { signal: opts.signal });
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
