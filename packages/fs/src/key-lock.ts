import { constants as C, promises as fsp, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { RESERVED_SEGMENT_PREFIX } from "@pepperpy/storage-core";
import { hashedName } from "./sidecar.js";

/**
 * A short cross-process lock per key: the symlink `.pepperpy-lock.<name>` next to the
 * content (its target, `host:pid`, names the holder; it is never followed). It guards only the few steps that must not interleave
 * between processes (read the sidecar, check `ifMatch`, write the sidecar, rename the
 * content), never the slow part (writing and flushing the value), so lock files live for
 * milliseconds. A lock left by a killed process is broken at once when its pid is dead on
 * this host, otherwise after {@link STALE_LOCK_MS}.
 */
export const LOCK_PREFIX = `${RESERVED_SEGMENT_PREFIX}-lock.`;
/** A lock older than this is considered abandoned (a hung or remote holder). */
export const STALE_LOCK_MS = 30_000;

const host = hostname().replace(/:/g, "_");
/** Who holds a lock this process takes: `host:pid`. Also written into sidecars (`by`), see {@link acquireKeyLock}. */
export const LOCK_HOLDER = `${host}:${process.pid}`;
const holder = LOCK_HOLDER;
/** Largest lock file read by a stale check (a hard-linked sidecar temp; see {@link acquireKeyLock}). */
const LOCK_READ_MAX = 64 * 1024;

/** File name of the lock of content file `name`. */
export function lockName(name: string): string {
  return hashedName(`${LOCK_PREFIX}${name}`, `${LOCK_PREFIX.slice(0, -1)}#`, name);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The `host:pid` a lock names: a symlink's target, or the `by` field of the JSON file it is a hard link of. */
async function lockHolder(path: string, symlink: boolean): Promise<string | undefined> {
  if (symlink) return fsp.readlink(path);
  const h = await fsp.open(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  try {
    const buf = Buffer.allocUnsafe(LOCK_READ_MAX);
    const { bytesRead } = await h.read(buf, 0, buf.byteLength, 0);
    const by = (JSON.parse(buf.toString("utf8", 0, bytesRead)) as { by?: unknown }).by;
    return typeof by === "string" ? by : undefined;
  } finally {
    await h.close();
  }
}

/**
 * True when the lock at `path` was left by a dead process on this host, or is older than
 * the stale limit. Its age is its inode's change time: set when a symlink lock is created
 * and when a file is hard-linked as the lock (`link(2)` changes the inode).
 */
export async function isStaleLock(path: string, now = Date.now()): Promise<boolean> {
  try {
    const st = await fsp.lstat(path);
    if (now - st.ctimeMs > STALE_LOCK_MS) return true;
    if (!st.isSymbolicLink() && !st.isFile()) return false;
    const [h, pid] = ((await lockHolder(path, st.isSymbolicLink())) ?? "").split(":");
    const n = Number(pid);
    return h === host && Number.isInteger(n) && n > 0 && n !== process.pid && !alive(n);
  } catch {
    return false; // gone (released), unreadable or not one of ours: try again
  }
}

/**
 * Unlinks a file synchronously, ignoring errors. Only for the process `exit` hook (where
 * nothing asynchronous runs any more): never on an operation path.
 */
export function unlinkSyncQuietly(path: string): void {
  try {
    unlinkSync(path); // sync-ok: the process exit hook, where nothing asynchronous runs
  } catch {
    // Gone already, or not ours to remove.
  }
}

/** Removes a lock we hold (a lock broken as stale by another process may be gone already). */
async function release(path: string): Promise<void> {
  await fsp.unlink(path).catch(() => undefined);
}

/**
 * Acquires the lock of `name` in the directory at `dirPath`; resolves to its release
 * function. The lock is created atomically and fails with EEXIST while it is held, in one
 * system call, and names its holder (`host:pid`) so a lock left by a killed process can be
 * broken at once:
 * - with `linkFrom` (a write's sidecar temp, or the holder file shared by the deletes in
 *   flight; both name this process in their JSON's `by`), the lock is a hard link to that
 *   file: `link(2)` allocates no inode, which on ext4 under load costs far more (hundreds
 *   of µs of kernel time) than the link itself (tens of µs);
 * - otherwise (no file to link; a file system refusing hard links), a symlink whose target
 *   is `host:pid`, never followed.
 *
 * Taking and releasing it are asynchronous calls (one thread-pool round trip each), so a
 * write or delete always yields to the event loop (SPEC §3).
 */
export async function acquireKeyLock(dirPath: string, name: string, signal: AbortSignal, linkFrom?: string): Promise<() => Promise<void>> {
  const path = `${dirPath}/${lockName(name)}`;
  let from = linkFrom;
  for (let attempt = 0; ; attempt++) {
    try {
      if (from !== undefined) await fsp.link(from, path);
      else await fsp.symlink(holder, path);
      return () => release(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") {
        // No hard links here (EPERM, EXDEV, EMLINK, ENOSYS…): the symlink form, at once.
        if (from === undefined) throw error;
        from = undefined;
        continue;
      }
    }
    if (await isStaleLock(path)) {
      await fsp.unlink(path).catch(() => undefined);
      continue;
    }
    signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, Math.min(1 + attempt, 25)));
  }
}
