import { type BigIntStats, promises as fsp } from "node:fs";
import {
  contentTypeFromKey,
  type DriverContext,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  type StorageCapabilities,
  type StorageDriver,
  StorageConflictError,
  StorageUnavailableError,
  type StoredEntry,
  type StoredStream,
  type WriteRequest,
} from "@pepperpy/storage-core";
import { type BaseDir, DirCache, type DirLease, type DirRef, isMissing, openBase, syncDir, walk } from "./contained-dir.js";
import { DirectoryVanished, FALL_BACK, keyError, settled, splitKey } from "./driver-support.js";
import { CREATE_FLAGS, closeQuietly, contentHash, errorCode, openFd, unlinkQuietly } from "./fd-io.js";
import { acquireKeyLock } from "./key-lock.js";
import { TreeLister } from "./listing.js";
import { HolderPool, type LockHolder, withLocks } from "./locks.js";
import { removeOrphans } from "./orphans.js";
import { entryExists, openEntry, readEntry, readEntryStream, statEntry } from "./reads.js";
import { foreignEtag, makeRecord, readSidecar, sidecarName } from "./sidecar.js";
import { infoOf, RecordCache, readsAsPlain, resolveRecord } from "./versions.js";
import { copyInto, fillTemp, SourceChanged, type WriteContent, writeTransaction } from "./write-transaction.js";

/** Default {@link FileStorageOptions.orphanAge}: 10 minutes. */
export const DEFAULT_ORPHAN_AGE_MS = 10 * 60 * 1000;

/**
 * The file-system driver of {@link FileStorage}: the dispatch of the driver contract onto
 * the modules of this package (reads.ts, write-transaction.ts, listing.ts, orphans.ts,
 * locks.ts), the base directory and the cache of open directories, and `delete` / `move`.
 * See the package README for the on-disk layout and the guarantees. Members not in the
 * driver contract are internal to this package.
 */
export class FileDriver implements StorageDriver {
  readonly name = "file";
  readonly capabilities: StorageCapabilities = {
    rangeRead: true,
    // ifNoneMatch is atomic across processes (link(2)); ifMatch is atomic within a process
    // (per-key lock, check, rename); see the README for the cross-process limit of ifMatch.
    conditionalWrite: true,
    serverSideCopy: true,
    keyIsAlsoPrefix: false,
    durable: true,
    persistent: true,
  };
  private readonly basePath: string;
  /** Flush files and directories before a write or delete resolves. */
  readonly fsync: boolean;
  /** Default age (ms) after which crash leftovers are removed. */
  readonly orphanAge: number;
  private opening: Promise<BaseDir> | undefined;
  /** The base once opened (skips a promise on hot paths). */
  private ready: BaseDir | undefined;
  /** Open, verified parent directories of recent keys (procfd mode only). */
  dirs: DirCache | undefined;
  /** Sidecar records by key, valid while the content keeps its identity (see versions.ts). */
  readonly records = new RecordCache();
  /** Directory fsyncs in flight and queued, per open directory (group commit). */
  /** Deletes under way in this process, per directory (`a/b`): only the last to finish tries to remove the directory. */
  private readonly deletesIn = new Map<string, number>();
  /** The lock holder files of this driver (see locks.ts). */
  readonly holders = new HolderPool(() => (this.closed ? undefined : this.ready?.root.path));
  /** The listing side (see listing.ts). */
  private readonly lister = new TreeLister(this);
  private readonly dirSyncs = new WeakMap<DirRef, { running: Promise<void> | undefined; queued: Promise<void> | undefined }>();
  private closed = false;
  /** The storage's expiry clock (epoch ms): `exists`, `copy` and `move` treat a value whose deadline passed as missing. */
  readonly now: () => number;
  /**
   * `exists`, `copy` and `move` check deadlines (the sidecar's `exp`) with {@link now}, so
   * the core takes the driver's one-`lstat` `exists`. `read`, `stat`, `readStream` and `list`
   * return expired values with their `expiresAt`: the core hides them, and `purgeExpired`
   * and conditional writes over an expired value need to see them.
   */
  readonly honorsExpiry = true;

  constructor(options: { basePath: string; fsync?: boolean | undefined; orphanAge?: number | undefined; clock?: (() => number) | undefined }) {
    this.basePath = options.basePath;
    this.now = options.clock ?? Date.now;
    this.fsync = options.fsync ?? true;
    this.orphanAge = options.orphanAge ?? DEFAULT_ORPHAN_AGE_MS;
    if (!this.fsync) this.capabilities = { ...this.capabilities, durable: false };
  }

  /** The base directory, opened (and created) on first use; a failed open is retried by the next call. */
  base(): Promise<BaseDir> {
    if (this.closed) return Promise.reject(new StorageUnavailableError("Storage is closed", { retryable: false }));
    if (!this.opening) {
      this.opening = openBase(this.basePath).then((base) => {
        if (base.procfd) this.dirs = new DirCache(base);
        if (!this.closed) this.ready = base;
        return base;
      });
      this.opening.catch(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  private lockId(base: BaseDir, key: string): string {
    return `${base.id}\u0000${key}`;
  }

  /** The open base without a promise once it is open (and the storage not closed). */
  readyBase(): BaseDir | Promise<BaseDir> {
    return this.ready && !this.closed ? this.ready : this.base();
  }

  /** The cached, verified parent directory of `key`; `undefined` on a miss. */
  async cachedDirOf(key: string): Promise<DirLease | undefined> {
    const slash = key.lastIndexOf("/");
    return await this.dirs?.hit(slash < 0 ? "" : key.slice(0, slash));
  }

  /**
   * Runs the read-only `fn` in the cached directory of `key` while the directory's check
   * runs (shared with the other calls in flight, see {@link DirCache.hitChecked}).
   * `FALL_BACK` when no directory is cached or the check fails: whatever `fn` saw is then
   * discarded, unused, and the caller walks again. `fn` must release what it opens.
   */
  async inCachedDir<T>(key: string, fn: (dir: DirRef) => Promise<T>): Promise<T | typeof FALL_BACK> {
    if (!this.ready || this.closed || !this.dirs) return FALL_BACK;
    const slash = key.lastIndexOf("/");
    const lease = this.dirs.hitChecked(slash < 0 ? "" : key.slice(0, slash));
    if (!lease) return FALL_BACK;
    if (lease.verified === true) {
      try {
        return await fn(lease.dir);
      } finally {
        lease.release();
      }
    }
    const [ok, result] = await Promise.allSettled([lease.verified, fn(lease.dir)]);
    lease.release();
    if (ok.status !== "fulfilled" || !ok.value) return FALL_BACK;
    if (result.status === "rejected") throw result.reason;
    return result.value;
  }

  /**
   * Flushes `dir` after a rename (group commit): concurrent writers of one directory share
   * an fsync, but each waits for one that STARTED after its own rename, so every `put`
   * still resolves only once its rename is durable.
   */
  syncDirGrouped(dir: DirRef): Promise<void> {
    let state = this.dirSyncs.get(dir);
    if (!state) {
      state = { running: undefined, queued: undefined };
      this.dirSyncs.set(dir, state);
    }
    const s = state;
    const start = (): Promise<void> => {
      const p = syncDir(dir).finally(() => {
        if (s.running === p) s.running = undefined;
      });
      s.running = p;
      return p;
    };
    if (!s.running) return start();
    if (!s.queued) {
      const q = s.running.then(
        () => undefined,
        () => undefined,
      ).then(() => {
        s.queued = undefined;
        return start();
      });
      s.queued = q;
    }
    return s.queued;
  }

  /**
   * The open directory `parents` (contained walk): from the cache of verified descriptors
   * on Linux, else walked now. Release the lease when done.
   */
  private async lease(base: BaseDir, parents: readonly string[], create: boolean): Promise<DirLease> {
    if (this.dirs) return this.dirs.acquire(parents, create);
    const w = await walk(base, parents, create);
    return { dir: w.dir, release: () => void w.close() };
  }

  /** Opens the parent directories of a key for reading; `undefined` when one is missing. */
  async walkToRead(base: BaseDir, parents: readonly string[]): Promise<DirLease | undefined> {
    try {
      return await this.lease(base, parents, false);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    return readEntry(this, key, ctx);
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    return readEntryStream(this, key, range, ctx);
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    return statEntry(this, key, ctx);
  }

  async exists(key: string, ctx: DriverContext): Promise<boolean> {
    return entryExists(this, key, ctx);
  }

  /** True when `exp` (a record's deadline, epoch ms) has not passed by the storage's clock. */
  isLiveDeadline(exp: number | undefined): boolean {
    return exp === undefined || exp > this.now();
  }

  /** Opens (creating) a key's parent directories for a write; a file or symlink in the way is a conflict. */
  private async walkToWrite(base: BaseDir, key: string, parents: readonly string[]): Promise<DirLease> {
    try {
      return await this.lease(base, parents, true);
    } catch (error) {
      throw keyError(error, key);
    }
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const base = await this.base();
    const { parents, name } = splitKey(key);
    // The key's in-process lock is taken by the transaction for its commit only: concurrent
    // puts of one key write and flush their temp files side by side.
    for (let attempt = 0; ; attempt++) {
      const w = await this.walkToWrite(base, key, parents);
      // A value that needs a record gets the hash of its bytes in it (see sidecar.ts).
      const hash = readsAsPlain(key, req) ? undefined : contentHash();
      const content: WriteContent = {};
      try {
        return await writeTransaction(this, w.dir, key, name, req, ctx, this.lockId(base, key), content, async (tmpPath) => {
          const fd = await openFd(tmpPath, CREATE_FLAGS, 0o666);
          try {
            await fillTemp(fd, req.body, ctx, hash);
            content.sha = hash?.digest("hex");
          } catch (error) {
            await closeQuietly(fd);
            throw error;
          }
          return fd;
        });
      } catch (error) {
        // A concurrent delete removed the (then empty) directory between our walk and the
        // temp file's creation: walk again. The body has not been consumed yet.
        if (error instanceof DirectoryVanished && attempt < 5) continue;
        throw keyError(error instanceof DirectoryVanished ? error.cause : error, key);
      } finally {
        w.release();
      }
    }
  }

  /**
   * Removes the content, then its sidecar (a crash in between leaves an orphaned sidecar,
   * swept later, never content without its metadata), under the key's lock so that no
   * writer's sidecar + content pair interleaves with them. With `fsync`, the directory is
   * flushed before the call resolves (shared by concurrent deletes and writes of one
   * directory), so a delete, like a write, survives a power loss once it resolved.
   */
  async delete(key: string, ctx: DriverContext): Promise<void> {
    const base = await this.readyBase();
    const { parents, name } = splitKey(key);
    await withLocks([this.lockId(base, key)], async () => {
      const w = (await this.cachedDirOf(key)) ?? (await this.walkToRead(base, parents));
      if (!w) return;
      try {
        const path = `${w.dir.path}/${name}`;
        // A key this process remembers was a file a moment ago: the lock is taken at once.
        // Otherwise an lstat first spares a missing key (or a directory) the lock.
        if (!this.records.has(key)) {
          let st: import("node:fs").Stats;
          try {
            st = await fsp.lstat(path);
          } catch (error) {
            if (isMissing(error)) return;
            throw keyError(error, key);
          }
          // A directory is a prefix of other keys, not a key: nothing to delete.
          if (st.isDirectory()) return;
        }
        const dirKey = parents.join("/");
        this.deletesIn.set(dirKey, (this.deletesIn.get(dirKey) ?? 0) + 1);
        let removed = false;
        let synced: Promise<void> | undefined;
        let last = false;
        let failed = true;
        let holder: LockHolder | undefined;
        try {
          // The holder stays while this delete runs, so deletes (and writes) in flight share one.
          holder = await this.holders.take();
          const unlock = await acquireKeyLock(w.dir.path, name, ctx.signal, holder?.path);
          try {
            const notThere = (error: unknown): boolean => {
              if (isMissing(error) || errorCode(error) === "EISDIR") return false;
              throw keyError(error, key);
            };
            removed = await fsp.unlink(path).then(() => true, notThere);
            if (removed) await unlinkQuietly(`${w.dir.path}/${sidecarName(name)}`);
          } finally {
            this.records.forget(key);
            // The flush starts after both unlinks; the lock goes meanwhile.
            synced = removed && this.fsync ? this.syncDirGrouped(w.dir) : undefined;
            synced?.catch(() => undefined);
            await unlock();
          }
          failed = false;
        } finally {
          if (holder !== undefined) this.holders.drop(holder);
          const left = this.deletesIn.get(dirKey)! - 1;
          if (left > 0) this.deletesIn.set(dirKey, left);
          else this.deletesIn.delete(dirKey);
          last = left === 0;
          // Failed (an abort while waiting for the lock): others may have left the attempt to us.
          if (failed && last && parents.length > 0) await this.removeEmptyDirs(base, parents);
        }
        // Only with the lock gone can the directory be empty. While other deletes in it are
        // under way, the last of them to finish tries (it finishes after every unlink of the
        // others). The attempt runs alongside the flush; a removed directory's parent is
        // flushed in turn.
        await settled(synced, last && parents.length > 0 ? this.removeEmptyDirs(base, parents) : undefined);
      } finally {
        w.release();
      }
    });
  }

  /** Removes the now-empty parent directories of a deleted key, up to (not including) the base. */
  private async removeEmptyDirs(base: BaseDir, parents: readonly string[]): Promise<void> {
    for (let i = parents.length; i >= 1; i--) {
      let parent: DirLease;
      try {
        parent = await this.lease(base, parents.slice(0, i - 1), false);
      } catch {
        return; // the parent itself is gone or replaced: nothing to climb
      }
      try {
        try {
          await fsp.rmdir(`${parent.dir.path}/${parents[i - 1]!}`);
        } catch {
          return; // ENOTEMPTY, EEXIST, ENOENT, EBUSY: stop climbing.
        }
        this.dirs?.forget(parents.slice(0, i).join("/"));
        if (this.fsync) await syncDir(parent.dir).catch(() => undefined);
      } finally {
        parent.release();
      }
    }
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const base = await this.base();
    return withLocks([this.lockId(base, from), this.lockId(base, to)], async () => {
      const source = await openEntry(this, from, ctx);
      if (!source) return false;
      try {
        // An expired source is missing (honorsExpiry): the target is left alone.
        if (!this.isLiveDeadline(source.record?.exp)) return false;
        const { parents, name } = splitKey(to);
        for (let attempt = 0; ; attempt++) {
          const w = await this.walkToWrite(base, to, parents);
          try {
            await writeTransaction(this, 
              w.dir,
              to,
              name,
              {
                valueType: source.info.valueType,
                contentType: source.info.contentType,
                metadata: source.info.metadata,
                // A copy keeps the source's deadline, like its metadata.
                expiresAt: source.record?.exp,
              },
              ctx,
              undefined, // copy holds both keys' in-process locks already
              // The same bytes: the same content hash (a source without one gets none).
              { sha: source.record?.sha },
              (tmpPath) => copyInto(base, source.handle, tmpPath),
            );
            return true;
          } catch (error) {
            if (error instanceof DirectoryVanished && attempt < 5) continue;
            throw keyError(error instanceof DirectoryVanished ? error.cause : error, to);
          } finally {
            w.release();
          }
        }
      } finally {
        await source.handle.close();
      }
    });
  }

  /**
   * Moves through the write transaction put and copy use, staged with the source file itself:
   * the destination's sidecar learns the source's record, then one rename lands the file
   * (atomic: after a crash the value is under one of the two keys), under both keys' locks.
   */
  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const base = await this.base();
    return withLocks([this.lockId(base, from), this.lockId(base, to)], async () => {
      const src = splitKey(from);
      const dst = splitKey(to);
      let vanished = 0;
      for (let attempt = 0; ; attempt++) {
        const sw = await this.walkToRead(base, src.parents);
        if (!sw) return false;
        let moved = false;
        try {
          let st: BigIntStats;
          try {
            st = await fsp.lstat(`${sw.dir.path}/${src.name}`, { bigint: true });
          } catch (error) {
            if (isMissing(error)) return false;
            throw keyError(error, from);
          }
          if (!st.isFile()) return false;
          let record = (await resolveRecord(sw.dir.path, src.name, st, await readSidecar(sw.dir.path, src.name), ctx.signal)).record;
          // An expired source is missing (honorsExpiry): nothing moves.
          if (!this.isLiveDeadline(record?.exp)) return false;
          if (!record) {
            // A plain value (see readsAsPlain) reads as bytes with its key's content type; under a
            // key whose extension gives another type it needs a record to read the same.
            const plain = infoOf(from, st, undefined);
            if (plain.valueType !== undefined && contentTypeFromKey(to) !== plain.contentType) {
              record = makeRecord(st, plain.etag ?? foreignEtag(st), { valueType: plain.valueType, contentType: plain.contentType, metadata: {} });
            }
          }
          ctx.signal.throwIfAborted();
          const dw = await this.walkToWrite(base, to, dst.parents);
          try {
            await writeTransaction(
              this,
              dw.dir,
              to,
              dst.name,
              // No record (a foreign or plain file that reads the same under `to`): none is written.
              { valueType: record?.type, contentType: record?.ct ?? "", metadata: record?.meta ?? {}, expiresAt: record?.exp },
              ctx,
              undefined, // move holds both keys' in-process locks already
              { sha: record?.sha },
              () => Promise.reject(new Error("a move stages no temp file")),
              { etag: record?.etag, moved: { key: from, dir: sw.dir, name: src.name, st } },
            );
            moved = true;
          } catch (error) {
            // The source changed between its lstat and the locks, or a directory vanished: again.
            // (A source replaced by writers again and again is moved once one of them pauses.)
            if (error instanceof SourceChanged && attempt < 100) continue;
            if (error instanceof DirectoryVanished && ++vanished < 5) continue;
            if (error instanceof SourceChanged) throw new StorageConflictError("The source kept changing during the move", { key: from, cause: error });
            throw keyError(error instanceof DirectoryVanished ? error.cause : error, to);
          } finally {
            dw.release();
          }
        } finally {
          sw.release();
        }
        if (moved) await this.removeEmptyDirs(base, src.parents);
        return true;
      }
    });
  }

  /** Removes crash leftovers older than `olderThan` ms anywhere under the base (see orphans.ts). */
  async removeOrphans(olderThan: number, signal?: AbortSignal): Promise<number> {
    return removeOrphans(await this.base(), olderThan, signal);
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    return this.lister.list(prefix, page, ctx);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.holders.close();
    this.dirs?.close();
    const opening = this.opening;
    this.opening = undefined;
    if (opening) {
      const base = await opening.catch(() => undefined);
      await base?.root.handle?.close().catch(() => undefined);
    }
  }
}
