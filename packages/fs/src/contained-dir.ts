import { close as closeCb, constants as C, open as openCb, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";

/**
 * Race-free path walking inside a base directory.
 *
 * Node has no `openat`, but on Linux `/proc/self/fd/N/name` resolves `name` relative to
 * the directory open as descriptor `N` exactly as `openat(N, name)` would: the magic link
 * is the open directory itself, not a path that could be swapped. So every directory of
 * a key is opened one component at a time with `O_DIRECTORY | O_NOFOLLOW` relative to the
 * already-verified parent, and every leaf operation (open, rename, link, unlink) names
 * the leaf relative to its parent's descriptor. A symlink planted before or during an
 * operation is never followed: opening it fails (`ELOOP` / `ENOTDIR`), and `rename` /
 * `unlink` act on the link itself.
 *
 * Elsewhere (macOS, a Linux without /proc) the walk falls back to `lstat` per component,
 * which refuses symlinks planted before an operation but not one swapped in during it.
 */

/** Flags of a directory opened during a walk: never through a symlink. */
const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/** An open directory of the walk; `path` names it for `${path}/${leaf}` operations. */
export interface DirRef {
  /** A path that resolves to this directory without following any attacker-controlled link. */
  readonly path: string;
  /** The open descriptor (procfd mode), closed by {@link Walk.close}. */
  readonly handle: FileHandle | undefined;
}

/** The directories opened for a key, from the base (index 0) to the key's parent. */
export class Walk {
  constructor(
    readonly chain: DirRef[],
    private readonly ownsFirst: boolean,
  ) {}

  /** The key's parent directory. */
  get dir(): DirRef {
    return this.chain[this.chain.length - 1]!;
  }

  /** Closes every descriptor this walk opened (never the base's). */
  async close(): Promise<void> {
    const start = this.ownsFirst ? 0 : 1;
    await Promise.all(this.chain.slice(start).map((d) => d.handle?.close().catch(() => undefined)));
  }
}

/** The base directory, opened once per storage. */
export interface BaseDir {
  /** The real path (symlinks in the configured path resolved once). */
  readonly realPath: string;
  readonly root: DirRef;
  /** True when walks use `/proc/self/fd` (race-free); false on the lstat fallback. */
  readonly procfd: boolean;
  /** Identifies the base directory across instances in this process (`dev:ino`). */
  readonly id: string;
  /** What the kernel reports as the base's path (`readlink /proc/self/fd/N`), to revalidate cached directories. */
  readonly kernelPath: Buffer | undefined;
}

/** An error with an errno code, as the walk raises for a component that is not a real directory. */
export function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(`${message} (${code})`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** Opens (creating when missing) the base directory. */
export async function openBase(basePath: string): Promise<BaseDir> {
  await fsp.mkdir(basePath, { recursive: true });
  const realPath = await fsp.realpath(basePath);
  const handle = await fsp.open(realPath, DIR_FLAGS);
  try {
    const st = await handle.stat({ bigint: true });
    const id = `${st.dev}:${st.ino}`;
    if (process.platform === "linux") {
      const viaProc = `/proc/self/fd/${handle.fd}`;
      try {
        const ps = await fsp.stat(viaProc, { bigint: true });
        if (ps.ino === st.ino && ps.dev === st.dev) {
          const kernelPath = await fsp.readlink(viaProc, { encoding: "buffer" });
          return { realPath, root: { path: viaProc, handle }, procfd: true, id, kernelPath };
        }
      } catch {
        // No usable /proc: fall back below.
      }
    }
    await handle.close();
    return { realPath, root: { path: realPath, handle: undefined }, procfd: false, id, kernelPath: undefined };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** True on errors meaning "this path does not lead to a real directory or file". */
export function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP";
}

/**
 * Opens the child directory `name` of `parent` without following a symlink; with
 * `create`, makes it first when missing. Throws `ENOTDIR` when `name` is a file or a
 * symlink (never followed), `ENOENT` when missing and not created.
 */
export async function openChildDir(base: BaseDir, parent: DirRef, name: string, create: boolean): Promise<DirRef> {
  const path = `${parent.path}/${name}`;
  if (base.procfd) {
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await fsp.open(path, DIR_FLAGS);
        return { path: `/proc/self/fd/${handle.fd}`, handle };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ELOOP" || code === "ENOTDIR") throw errnoError("ENOTDIR", "A parent of the key is a file or a symlink");
        if (code !== "ENOENT" || !create || attempt > 2) throw error;
      }
      try {
        await fsp.mkdir(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
  }
  // Fallback: lstat refuses links planted before the call (not during it).
  for (let attempt = 0; ; attempt++) {
    try {
      const st = await fsp.lstat(path);
      if (!st.isDirectory()) throw errnoError("ENOTDIR", "A parent of the key is a file or a symlink");
      return { path, handle: undefined };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || !create || attempt > 2) throw error;
    }
    try {
      await fsp.mkdir(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

/**
 * A directory opened only for reading its entries (`list`): a bare descriptor, lighter
 * than a `FileHandle`, named `/proc/self/fd/N`. Opened like {@link openChildDir}
 * (`O_NOFOLLOW | O_DIRECTORY` relative to the open parent, so never through a symlink);
 * on the fallback without /proc, the path checked by `lstat`.
 */
export interface ScanDir {
  readonly ref: DirRef;
  /** The descriptor, `-1` on the fallback. */
  readonly fd: number;
}

/** Opens the child directory `name` of `parent` for a scan; throws like {@link openChildDir} (never creates). */
export async function openScanDir(base: BaseDir, parent: DirRef, name: string): Promise<ScanDir> {
  if (!base.procfd) return { ref: await openChildDir(base, parent, name, false), fd: -1 };
  const fd = await new Promise<number>((resolve, reject) => {
    openCb(`${parent.path}/${name}`, DIR_FLAGS, (error, opened) => (error ? reject(error) : resolve(opened)));
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ELOOP" || error.code === "ENOTDIR") throw errnoError("ENOTDIR", "Not a real directory");
    throw error;
  });
  return { ref: { path: `/proc/self/fd/${fd}`, handle: undefined }, fd };
}

/** Closes a scan's directory (errors ignored: a descriptor we own, opened read-only). */
export async function closeScanDir(dir: ScanDir): Promise<void> {
  if (dir.fd < 0) return;
  await new Promise<void>((resolve) => {
    closeCb(dir.fd, () => resolve());
  });
}

/** Opens the directories `segments` below the base, one component at a time. */
export async function walk(base: BaseDir, segments: readonly string[], create: boolean): Promise<Walk> {
  const chain: DirRef[] = [base.root];
  const w = new Walk(chain, false);
  try {
    for (const seg of segments) chain.push(await openChildDir(base, chain[chain.length - 1]!, seg, create));
  } catch (error) {
    await w.close();
    throw error;
  }
  return w;
}

/** Flushes a directory's entries (renames, unlinks) to disk. */
export async function syncDir(dir: DirRef): Promise<void> {
  if (dir.handle) {
    await dir.handle.sync();
    return;
  }
  const h = await fsp.open(dir.path, C.O_RDONLY | C.O_DIRECTORY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** `dev:ino` of a directory, to stop `list` from looping through bind mounts. */
export async function dirIdentity(dir: DirRef): Promise<string> {
  const st = dir.handle ? await dir.handle.stat({ bigint: true }) : await fsp.lstat(dir.path, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

/** A directory borrowed from a {@link DirCache}; `release` it when the operation is done. */
export interface DirLease {
  readonly dir: DirRef;
  release(): void;
}

interface CachedDir {
  readonly key: string;
  readonly ref: DirRef;
  /** The kernel's path of the directory while it is where its key says. */
  readonly expect: Buffer;
  refs: number;
  dead: boolean;
  /** Value of the use counter when last moved to the young end. */
  used: number;
  /** The check in flight (see {@link DirCache.hitChecked}) and the one queued behind it. */
  running: Promise<boolean> | undefined;
  queued: Promise<boolean> | undefined;
}

/** A lease from {@link DirCache.hitChecked}: `verified` is the check's verdict, or a promise of it. */
export interface CheckedLease extends DirLease {
  readonly verified: true | Promise<boolean>;
}

const ROOT_RELEASE = (): void => undefined;

/**
 * Open, verified directories of recent keys, so a hot key's operation does not walk (open
 * and close every parent) again. Containment is unchanged: an entry is a descriptor
 * opened by the contained walk (one component at a time, `O_NOFOLLOW | O_DIRECTORY`), so
 * it was a real directory inside the base when opened; and on every use the kernel's own
 * path of the descriptor (`readlink /proc/self/fd/N`, in memory, no disk I/O) must still
 * be exactly `<base>/<dir key>`. A directory moved (inside or out of the base), or
 * removed, or replaced by a symlink, no longer has that path: the entry is dropped and the
 * walk runs again (and then refuses the symlink). What is left is the race every walk
 * has: a directory moved away after the check, during the operation, is followed there.
 *
 * Entries are reference-counted: a descriptor is closed only once no operation uses its
 * `/proc/self/fd/N` path (a closed number could be reused by an unrelated open).
 */
export class DirCache {
  private readonly entries = new Map<string, CachedDir>();
  private closed = false;
  private uses = 0;

  constructor(
    private readonly base: BaseDir,
    private readonly max = 512,
  ) {}

  /** The cached directory of `key` (`a/b`) once checked still valid; `undefined` on a miss. */
  async hit(key: string): Promise<DirLease | undefined> {
    if (key === "") return { dir: this.base.root, release: ROOT_RELEASE };
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const lease = this.borrow(key, entry);
    if (await this.groupCheck(entry)) return lease;
    lease.release();
    return undefined;
  }

  /** Takes a reference to `entry` and marks it recently used. */
  private borrow(key: string, entry: CachedDir): DirLease {
    entry.refs++;
    // Most recently used last (Map keeps insertion order); moving it costs two map operations,
    // so only entries in the older half are moved.
    if (++this.uses - entry.used > this.max >> 1) {
      entry.used = this.uses;
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return this.lease(entry);
  }

  /**
   * Like {@link hit}, but when other operations are using the directory right now (calls
   * in flight together), its check is shared: one `readlink`, started after this call,
   * serves every operation waiting for it (group check), and runs on the thread pool,
   * alongside the caller's own read-only call. The caller must not use what it read
   * through the directory unless `verified` resolves to true. Alone, the check is made at
   * once, by the same asynchronous `readlink`.
   */
  hitChecked(key: string): CheckedLease | undefined {
    if (key === "") return { dir: this.base.root, release: ROOT_RELEASE, verified: true };
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    return { ...this.borrow(key, entry), verified: this.groupCheck(entry) };
  }

  /** A check of `entry` that starts after this call: the queued one when one is already running. */
  private groupCheck(entry: CachedDir): Promise<boolean> {
    if (!entry.running) return this.startCheck(entry);
    if (!entry.queued) {
      entry.queued = entry.running.then(() => {
        entry.queued = undefined;
        return this.startCheck(entry);
      });
    }
    return entry.queued;
  }

  private startCheck(entry: CachedDir): Promise<boolean> {
    const check: Promise<boolean> = fsp
      .readlink(entry.ref.path, { encoding: "buffer" })
      .then(
        (path) => path.equals(entry.expect),
        () => false,
      )
      .then((ok) => {
        if (entry.running === check) entry.running = undefined;
        if (!ok) this.drop(entry);
        return ok;
      });
    entry.running = check;
    return check;
  }

  /** Borrows the open directory of `segments` (`[]`: the base); `create` makes missing ones. Throws like {@link walk}. */
  async acquire(segments: readonly string[], create: boolean): Promise<DirLease> {
    const key = segments.join("/");
    const cached = await this.hit(key);
    if (cached) return cached;
    const parent = await this.acquire(segments.slice(0, -1), create);
    let ref: DirRef;
    try {
      ref = await openChildDir(this.base, parent.dir, segments[segments.length - 1]!, create);
    } finally {
      parent.release();
    }
    const entry: CachedDir = { key, ref, expect: this.expectedPath(key), refs: 1, dead: false, used: ++this.uses, running: undefined, queued: undefined };
    if (this.closed) {
      entry.dead = true;
      return this.lease(entry);
    }
    const other = this.entries.get(key);
    if (other) this.drop(other);
    this.entries.set(key, entry);
    if (this.entries.size > this.max) {
      const oldest = this.entries.values().next().value;
      if (oldest) this.drop(oldest);
    }
    return this.lease(entry);
  }

  /** Forgets the directory of `key` (after removing it). */
  forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry) this.drop(entry);
  }

  /** Drops every entry; descriptors in use close when their operation releases them. */
  close(): void {
    this.closed = true;
    for (const entry of [...this.entries.values()]) this.drop(entry);
  }

  private expectedPath(key: string): Buffer {
    const base = this.base.kernelPath!;
    const sep = base[base.length - 1] === 0x2f ? "" : "/";
    return Buffer.concat([base, Buffer.from(`${sep}${key}`, "utf8")]);
  }

  private lease(entry: CachedDir): DirLease {
    let released = false;
    return {
      dir: entry.ref,
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        if (entry.dead && entry.refs === 0) void entry.ref.handle?.close().catch(() => undefined);
      },
    };
  }

  private drop(entry: CachedDir): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (entry.dead) return;
    entry.dead = true;
    if (entry.refs === 0) void entry.ref.handle?.close().catch(() => undefined);
  }
}
