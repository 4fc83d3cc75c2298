import { promises as fsp, symlinkSync, unlinkSync } from "node:fs";
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
const holder = `${host}:${process.pid}`;

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

/** True when the lock at `path` was left by a dead process on this host, or is older than the stale limit. */
export async function isStaleLock(path: string, now = Date.now()): Promise<boolean> {
  try {
    const st = await fsp.lstat(path);
    if (now - st.mtimeMs > STALE_LOCK_MS) return true;
    if (!st.isSymbolicLink()) return false;
    const [h, pid] = (await fsp.readlink(path)).split(":");
    const n = Number(pid);
    return h === host && Number.isInteger(n) && n > 0 && n !== process.pid && !alive(n);
  } catch {
    return false; // gone (released) or unreadable: try again
  }
}

/**
 * Unlinks a lock or another small file synchronously (a metadata call of a few µs, where
 * the asynchronous form is a thread-pool round trip); missing or not ours is fine.
 */
export function unlinkSyncQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already (a lock broken as stale by another process), or not ours to remove.
  }
}

/** Removes a lock we hold. */
function release(path: string): Promise<void> {
  unlinkSyncQuietly(path);
  return Promise.resolve();
}

/**
 * Acquires the lock of `name` in the directory at `dirPath`; resolves to its release
 * function. The lock is a symlink whose target names the holder (`host:pid`), never
 * followed: `symlink(2)` creates it atomically and fails with EEXIST when it is held,
 * in one system call.
 *
 * Taking and releasing it are synchronous calls: each is one metadata operation on the
 * key's directory (a few µs on a local disk), where the asynchronous form costs a round
 * trip to libuv's thread pool (about 100 µs on the machine of docs/benchmarks.md) — and
 * every write and delete takes the lock once. On a network file system each blocks the
 * event loop for one round trip to the server.
 */
export async function acquireKeyLock(dirPath: string, name: string, signal: AbortSignal): Promise<() => Promise<void>> {
  const path = `${dirPath}/${lockName(name)}`;
  for (let attempt = 0; ; attempt++) {
    try {
      symlinkSync(holder, path);
      return () => release(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (await isStaleLock(path)) {
      await fsp.unlink(path).catch(() => undefined);
      continue;
    }
    signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, Math.min(1 + attempt, 25)));
  }
}
