import { unlinkSyncQuietly } from "./key-lock.js";
import { unlinkQuietly, writeNewFile } from "./fd-io.js";
import { tempName } from "./sidecar.js";
import { LOCK_HOLDER } from "./key-lock.js";

/**
 * The two levels of key locking of FileStorage, which compose: an in-process lock per key
 * ({@link withLocks}) orders the calls of this process, so at most one of them at a time
 * contends for the key's cross-process file lock (key-lock.ts), which orders processes.
 * Plus the pool of holder files the file locks of deletes and sidecar-free writes link to.
 */

// ---------------------------------------------------------------------------------------
// In-process per-key locks. Every write, delete, copy and move of a key runs under its
// lock, so one process never interleaves two updates of the same content + sidecar pair
// and `ifMatch` is a true compare-and-swap within the process. Keyed by the base
// directory's dev:ino, so two FileStorage instances on one directory share them.
const locks = new Map<string, Promise<void>>();

/** Takes the in-process lock `id` (waiting for the holders before it); resolves to its release. */
export function acquire(id: string): Promise<() => void> {
  const previous = locks.get(id) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = previous.then(() => mine);
  locks.set(id, tail);
  return previous.then(() => () => {
    release();
    if (locks.get(id) === tail) locks.delete(id);
  });
}

export async function withLocks<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(ids)].sort();
  const releases: (() => void)[] = [];
  try {
    for (const id of sorted) releases.push(await acquire(id));
    return await fn();
  } finally {
    for (const r of releases.reverse()) r();
  }
}

/** A file hard-linked as key locks (see {@link HolderPool.take}): `users` calls hold it now. */
export interface LockHolder {
  path: string;
  users: number;
  /** When it was created (ms). */
  born: number;
  /** When its last user gave it back (ms). */
  idleSince: number;
}

/**
 * A holder is replaced after this long (ms), so that it is always far younger than any
 * orphan age a sweep uses; and removed once unused for {@link HOLDER_IDLE_MS}.
 */
const HOLDER_MAX_AGE_MS = 5_000;
const HOLDER_IDLE_MS = 1_000;
/** Ends the (temp file) name of a holder. */
const HOLDER_SUFFIX = ".holder";

/** Holder files of this process not yet removed: a process that exits without `close` removes them on its way out. */
const liveHolders = new Set<string>();
let exitHookSet = false;

function holderCreated(path: string): void {
  liveHolders.add(path);
  if (exitHookSet) return;
  exitHookSet = true;
  // The exit hook can run nothing asynchronous: the one synchronous unlink left (not an operation path).
  process.once("exit", () => {
    for (const p of liveHolders) unlinkSyncQuietly(p);
  });
}

function removeHolderFile(path: string): Promise<void> {
  liveHolders.delete(path);
  return unlinkQuietly(path).then(() => undefined);
}

/**
 * A file in the base naming this process (`by`), hard-linked as the key lock of deletes
 * and of writes without a sidecar temp (see acquireKeyLock): one file created per burst
 * of calls (at most one per {@link HOLDER_MAX_AGE_MS}) instead of one per call. Removed
 * once unused for {@link HOLDER_IDLE_MS}, and at `close`.
 */
export class HolderPool {
  private holder: LockHolder | undefined;
  private holderTimer: ReturnType<typeof setTimeout> | undefined;
  /** The holder being created, shared by the calls that wait for it. */
  private creatingHolder: Promise<LockHolder | undefined> | undefined;
  private closed = false;

  /** @param rootPath - the open base directory's path, or `undefined` before it is open or once closed */
  constructor(private readonly rootPath: () => string | undefined) {}

  /**
   * The lock holder file (see {@link holder}) for one more user, created when there is none
   * or the current one is older than {@link HOLDER_MAX_AGE_MS}; `undefined` if it cannot be
   * created (the lock is then a symlink). Give it back with {@link drop}.
   */
  async take(): Promise<LockHolder | undefined> {
    const current = this.holder;
    if (current && Date.now() - current.born < HOLDER_MAX_AGE_MS) {
      current.users++;
      return current;
    }
    // One creation at a time: concurrent callers share the new holder.
    this.creatingHolder ??= this.createHolder().finally(() => {
      this.creatingHolder = undefined;
    });
    const holder = await this.creatingHolder;
    if (holder) holder.users++;
    return holder;
  }

  /** Retires the current holder and creates a new one (with no users yet); `undefined` if it cannot be created. */
  private async createHolder(): Promise<LockHolder | undefined> {
    const now = Date.now();
    const current = this.holder;
    // Retired: removed now if unused, else by its last user.
    if (current) {
      this.holder = undefined;
      if (current.users === 0) void removeHolderFile(current.path);
    }
    const root = this.rootPath();
    if (root === undefined || this.closed) return undefined;
    // A temp file's name (swept like one when a crash leaves it), marked as the holder.
    const path = `${root}/${tempName()}${HOLDER_SUFFIX}`;
    try {
      await writeNewFile(path, Buffer.from(JSON.stringify({ by: LOCK_HOLDER }), "utf8"), false);
    } catch {
      await unlinkQuietly(path);
      return undefined; // the lock falls back to a symlink
    }
    holderCreated(path);
    const holder: LockHolder = { path, users: 0, born: now, idleSince: now };
    if (this.closed) {
      await removeHolderFile(path);
      return undefined;
    }
    this.holder = holder;
    return holder;
  }

  /** Gives back a holder taken by {@link take}; an unused holder is removed once idle for {@link HOLDER_IDLE_MS}. */
  drop(h: LockHolder): void {
    if (--h.users > 0) return;
    if (this.holder !== h || this.closed) {
      void removeHolderFile(h.path);
      return;
    }
    h.idleSince = Date.now();
    if (this.holderTimer) return;
    const check = (): void => {
      this.holderTimer = undefined;
      const cur = this.holder;
      if (!cur || cur.users > 0) return;
      const idle = Date.now() - cur.idleSince;
      if (idle >= HOLDER_IDLE_MS) {
        this.holder = undefined;
        void removeHolderFile(cur.path);
      } else {
        this.holderTimer = setTimeout(check, HOLDER_IDLE_MS - idle).unref();
      }
    };
    this.holderTimer = setTimeout(check, HOLDER_IDLE_MS).unref();
  }

  /**
   * Removes the holder if unused (a holder in use goes with its last user); resolves once
   * the file is gone, so a closed storage leaves nothing of its own in the base.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.holderTimer) clearTimeout(this.holderTimer);
    this.holderTimer = undefined;
    const creating = this.creatingHolder;
    const holder = this.holder;
    this.holder = undefined;
    if (holder && holder.users === 0) await removeHolderFile(holder.path);
    // A holder being created sees `closed` and removes itself: wait for that too.
    if (creating) await creating.catch(() => undefined);
  }
}
