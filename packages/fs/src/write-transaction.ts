import type { Hash } from "node:crypto";
import { type BigIntStats, constants as C, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { compareKeys, type DriverContext, type ObjectInfo, StorageConflictError, type ValueType, type WriteRequest } from "@pepperpy/storage-core";
import { type BaseDir, type DirRef, isMissing } from "./contained-dir.js";
import { DirectoryVanished, settled } from "./driver-support.js";
import { closeFd, closeQuietly, CREATE_FLAGS, errorCode, fsyncFd, fstatFd, futimesFd, hashInChunks, lstatOrUndefined, openFd, sameVersion, unlinkQuietly, writeFullyFd, writeNewFile } from "./fd-io.js";
import { acquireKeyLock, LOCK_HOLDER } from "./key-lock.js";
import { acquire, type HolderPool, type LockHolder } from "./locks.js";
import { foreignEtag, makeRecord, newEtag, readSidecar, type SidecarRecord, serializeSidecar, sidecarName, sidecarRecords, tempName } from "./sidecar.js";
import { infoOf, type RecordCache, readsAsPlain, resolveRecord, uniqueStampMicros } from "./versions.js";

/**
 * The write transaction of FileStorage, shared by `put`, `copy` and `move`: stage (the value into a
 * unique temp file, hashed on the way, stamped — or, for `move`, the source file itself, whose
 * rename keeps its identity — and its sidecar temp from the key's current
 * records, both flushed together, unlocked) → lock (the key's in-process lock, unless the
 * caller holds it already, then its cross-process file lock: concurrent writers of one key
 * stage side by side and queue only for the commit) → check (the current version under
 * the lock: records redone if it changed, `ifMatch`) → commit (sidecar rename, then content
 * rename or `link` for `ifNoneMatch`, directory flush shared by concurrent writers) →
 * dispose (whatever is left of the temp files, the lock, the holder).
 */

/** Bytes gathered from a stream before one write(2): bounds memory and syscalls. */
const STREAM_WRITE_CHUNK = 64 * 1024;

/** What a write stores in the record besides the value's type, content type and metadata. */
export interface WriteContent {
  /** The SHA-256 (hex) of the bytes written, once they are (see sidecar.ts). */
  sha?: string | undefined;
}

/**
 * The source of a `move`: its file is the staged value (no bytes are written; the commit
 * renames it over the target, so the move is atomic), its identity is the moved value's.
 */
export interface MovedSource {
  key: string;
  dir: DirRef;
  name: string;
  /** The source's identity when the move was staged; a change by the time the locks are held is {@link SourceChanged}. */
  st: BigIntStats;
}

/** The source of a move changed (or vanished) between staging and the locks: the move starts again. */
export class SourceChanged extends Error {}

/** What a write transaction needs from its driver. */
export interface WriteHost {
  /** Flush files and directories before the write resolves. */
  readonly fsync: boolean;
  readonly records: RecordCache;
  readonly holders: HolderPool;
  /** Flushes `dir` after a rename, shared by concurrent writers (group commit). */
  syncDirGrouped(dir: DirRef): Promise<void>;
}

/** Writes the body into the temp file, feeding `hash` on the way. Streams flow through a 64 KiB buffer. */
export async function fillTemp(fd: number, body: WriteRequest["body"], ctx: DriverContext, hash: Hash | undefined): Promise<void> {
  if (body instanceof Uint8Array) {
    // The hash of each chunk is computed while the previous chunk is being written.
    if (!hash) return writeFullyFd(fd, body);
    await settled(writeFullyFd(fd, body), hashInChunks(hash, body));
    return;
  }
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    ctx.signal.throwIfAborted();
    hash?.update(chunk);
    if (chunk.byteLength >= STREAM_WRITE_CHUNK && pendingBytes === 0) {
      await writeFullyFd(fd, chunk);
      continue;
    }
    pending.push(chunk);
    pendingBytes += chunk.byteLength;
    if (pendingBytes >= STREAM_WRITE_CHUNK) {
      await writeFullyFd(fd, Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) await writeFullyFd(fd, Buffer.concat(pending, pendingBytes));
}

/**
 * The write path: temp file (created and filled by `create`), fsync, sidecar temp,
 * condition checks, rename sidecar, rename (or link) content, fsync directory.
 * Any failure before the content lands removes both temp files; the old value stays.
 */
export async function writeTransaction(
  host: WriteHost,
  dir: DirRef,
  key: string,
  name: string,
  req: {
    valueType: ValueType | undefined;
    contentType: string;
    metadata: Record<string, string>;
    ifMatch?: string | undefined;
    ifNoneMatch?: "*" | undefined;
    expiresAt?: number | undefined;
  },
  ctx: DriverContext,
  /** The key's in-process lock to take before the file lock; `undefined` when the caller holds it (copy). */
  localLock: string | undefined,
  content: WriteContent,
  /** Creates and fills the temp file; unused for a move. */
  create: (tmpPath: string) => Promise<number>,
  /** `etag`: the version's etag (a move keeps its source's); `moved`: the source of a move. */
  opts: { etag?: string | undefined; moved?: MovedSource | undefined } = {},
): Promise<ObjectInfo> {
  const etag = opts.etag ?? newEtag();
  const moved = opts.moved;
  const target = `${dir.path}/${name}`;
  if (req.ifNoneMatch === "*") {
    // Early answer before any byte is written; link(2) below is what makes it atomic.
    const exists = await fsp.lstat(target).then(
      () => true,
      (error) => (isMissing(error) ? false : Promise.reject(error)),
    );
    if (exists) throw new StorageConflictError("Key already exists (ifNoneMatch)");
  }
  // A move's staged value is its source file, which is never removed on failure.
  const tmpPath = moved ? `${moved.dir.path}/${moved.name}` : `${dir.path}/${tempName()}`;
  const sideTmpPath = `${dir.path}/${tempName()}`;
  /** The value's temp file, open (a bare descriptor) until it is closed. */
  let handle: number | undefined;
  let sideFd: number | undefined;
  let tmpExists = false;
  let sideTmpExists = false;
  let unlock: (() => Promise<void>) | undefined;
  /** The source key's file lock, for a move. */
  let unlockSource: (() => Promise<void>) | undefined;
  let unlockLocal: (() => void) | undefined;
  // Set once our sidecar replaced a missing one and until the content lands: on failure
  // the sidecar would describe nothing, so it is removed again.
  let sidecarOnlyOurs = false;
  // A plain write — bytes that read back exactly as a file without any record does (see
  // readsAsPlain) — writes no sidecar: its mtime stamp carries the plain mark, its etag is
  // its identity (unique per version: the stamp), and any sidecar of the key is stale once
  // the value landed. Not where stamps do not hold (a file system with coarse times).
  // A moved file keeps its stamp: it is never a new plain write.
  let plain = !moved && host.records.stampsHold && readsAsPlain(key, req);
  // No value type: a copy of a foreign file stays foreign (no record at all).
  const wantsRecord = req.valueType !== undefined && !plain;
  // The lock file a write without a sidecar temp links (see takeHolder).
  let holder: LockHolder | undefined;
  // The sidecar temp is created while the value's temp file is created and filled: each
  // creation is a thread-pool call that can take a while (it allocates an inode).
  if (wantsRecord) sideTmpExists = true; // the name is ours alone: removing it when absent is harmless
  const opening = wantsRecord
    ? openFd(sideTmpPath, CREATE_FLAGS, 0o666).then(
        (fd) => {
          sideFd = fd;
        },
        (error) => {
          // The directory was removed (emptied by a delete or move elsewhere) since the walk:
          // the caller walks again. A move stages no temp file, so this is its first creation.
          throw errorCode(error) === "ENOENT" ? new DirectoryVanished(error) : error;
        },
      )
    : undefined;
  opening?.catch(() => undefined); // awaited below, or in `finally` on an earlier failure
  try {
    if (!moved) {
      try {
        handle = await create(tmpPath);
      } catch (error) {
        // The name is ours alone (unique), so whatever part of it was created goes.
        await unlinkQuietly(tmpPath);
        if (errorCode(error) === "ENOENT") throw new DirectoryVanished(error);
        throw error;
      }
      tmpExists = true;
    }
    // A modification time unique to this version (see uniqueStampMicros), so its identity
    // is new even when the inode number of a just-replaced version is reused.
    // libuv keeps whole microseconds, rounding down: the half microsecond absorbs the
    // floating-point error of the seconds it takes. The identity (inode, size, mtime) is
    // final then: fsync and rename keep it.
    const h = handle;
    const identify = async (): Promise<BigIntStats> => {
      // rename(2) keeps inode, size and times: the moved value's identity is its source's.
      if (h === undefined) return (moved as MovedSource).st;
      const stamp = uniqueStampMicros(plain);
      if (host.records.stampsHold) await futimesFd(h, (stamp + 0.5) / 1e6, (stamp + 0.5) / 1e6);
      const id = await fstatFd(h);
      // A file system that keeps coarser times than microseconds cannot tell versions apart
      // by identity alone: the record cache is then turned off for this storage.
      if (host.records.stampsHold && id.mtimeNs / 1000n !== BigInt(stamp)) {
        host.records.stampsDoNotHold();
      }
      return id;
    };
    const recordOf = (id: BigIntStats): SidecarRecord | undefined =>
      req.valueType === undefined || plain ? undefined : makeRecord(id, etag, { ...req, valueType: req.valueType, sha: content.sha });
    const writeSidecarTemp = async (records: SidecarRecord[]): Promise<void> => {
      sideTmpExists = true; // the name is ours alone: removing it when absent is harmless
      await writeNewFile(sideTmpPath, serializeSidecar(name, records, LOCK_HOLDER), host.fsync);
    };
    // The sidecar temp is written BEFORE either file is flushed (and before the key lock),
    // from the records of the content as it is now; with fsync both are then flushed
    // together: both files' changes sit in one journal transaction, so the first flush
    // commits both and the second finds it done. Under the lock that guess is checked and
    // redone if the key changed. The sidecar temp, which names this process (`by`), then
    // becomes the key's lock by a hard link (no new inode; see acquireKeyLock).
    // A plain write needs no records of the current version (only `ifMatch` does, under the lock).
    const guessPrevious = async (): Promise<{ current: BigIntStats | undefined; previous: SidecarRecord[] }> => {
      const current = plain ? undefined : await lstatOrUndefined(target);
      return { current, previous: current === undefined ? [] : (host.records.get(key, current) ?? (await readSidecar(dir.path, name))) };
    };
    const [st, guess] = await settled(identify(), guessPrevious(), opening);
    const guessCurrent = guess.current;
    const previousGuess = guess.previous;
    if (plain && !host.records.stampsHold) {
      // This very write found that the file system keeps coarser times than the stamps:
      // identities cannot tell versions apart, so the value gets its sidecar after all.
      plain = false;
      sideTmpExists = true;
      sideFd = await openFd(sideTmpPath, CREATE_FLAGS, 0o666);
    }
    const firstRecord = recordOf(st);
    const guessedRecords = firstRecord ? sidecarRecords(firstRecord, previousGuess) : [];
    const guessed = { current: guessCurrent, previous: previousGuess, records: guessedRecords };
    const side = sideFd;
    if (side !== undefined) await writeFullyFd(side, serializeSidecar(name, guessedRecords, LOCK_HOLDER));
    if (host.fsync) await settled(h === undefined ? undefined : fsyncFd(h), side === undefined ? undefined : fsyncFd(side));
    ctx.signal.throwIfAborted();
    // The slow part ran unlocked: the value is written and flushed before the key lock is
    // taken, while both temp files close.
    sideFd = undefined;
    handle = undefined;
    const closing = Promise.all([h === undefined ? undefined : closeFd(h), side === undefined ? undefined : closeFd(side)]);
    // Without a sidecar temp, the lock links the holder file shared with deletes.
    if (side === undefined) holder = await host.holders.take();
    // In-process first, then the file lock: the order every caller takes them in.
    if (localLock !== undefined) unlockLocal = await acquire(localLock);
    const lockTarget = async (): Promise<void> => {
      unlock = await acquireKeyLock(dir.path, name, ctx.signal, side === undefined ? holder?.path : sideTmpPath);
    };
    const lockSource = async (): Promise<void> => {
      if (moved) unlockSource = await acquireKeyLock(moved.dir.path, moved.name, ctx.signal);
    };
    // A move takes both keys' file locks in key order, so two opposite moves in two
    // processes cannot deadlock.
    const locking = moved && compareKeys(moved.key, key) < 0 ? lockSource().then(lockTarget) : lockTarget().then(lockSource);
    await settled(closing, locking);
    // Under the locks: the source of a move as it is now (another process may have changed it).
    if (moved && !sameVersion(moved.st, await lstatOrUndefined(tmpPath))) throw new SourceChanged();
    const record = guessed.records[0];
    // The current content's identity; when this process remembers the records of exactly
    // that version, the sidecar need not be read again (see CachedRecords).
    // The critical section is metadata calls only (lstat, renames).
    let current: BigIntStats | undefined;
    let previous: SidecarRecord[] = [];
    let records: SidecarRecord[] = [];
    if (!plain) {
      current = await lstatOrUndefined(target);
      if (sameVersion(guessed.current, current)) {
        records = guessed.records;
        previous = guessed.previous;
      } else {
        previous = current === undefined ? [] : (host.records.get(key, current) ?? (await readSidecar(dir.path, name)));
        records = record ? sidecarRecords(record, previous) : [];
        if (record) {
          await fsp.unlink(sideTmpPath).catch(() => undefined);
          await writeSidecarTemp(records);
        }
      }
    } else if (req.ifMatch !== undefined) {
      current = await lstatOrUndefined(target);
      if (current !== undefined) previous = host.records.get(key, current) ?? (await readSidecar(dir.path, name));
    }
    if (req.ifMatch !== undefined) {
      const etag = current?.isFile() ? ((await resolveRecord(dir.path, name, current, previous)).record?.etag ?? foreignEtag(current)) : undefined;
      if (etag === undefined) throw new StorageConflictError("Key does not exist (ifMatch)");
      if (etag !== req.ifMatch) throw new StorageConflictError("Etag does not match (ifMatch)");
    }
    // The last moment an abort or timeout can stop the write: after this it lands.
    ctx.signal.throwIfAborted();
    // Sidecar first: it still holds the previous records, so the old content keeps its
    // metadata if we crash before the content lands.
    if (record) {
      await fsp.rename(sideTmpPath, `${dir.path}/${sidecarName(name)}`);
      sideTmpExists = false;
      sidecarOnlyOurs = previous.length === 0;
    }
    if (req.ifNoneMatch === "*" && !moved) {
      // link(2) fails with EEXIST if anything (file, directory, symlink) holds the name: an atomic create-only.
      try {
        await fsp.link(tmpPath, target);
      } catch (error) {
        if (errorCode(error) === "EEXIST") throw new StorageConflictError("Key already exists (ifNoneMatch)", { cause: error });
        throw error;
      }
      await unlinkQuietly(tmpPath);
    } else {
      await fsp.rename(tmpPath, target);
    }
    tmpExists = false;
    sidecarOnlyOurs = false;
    // Without a record (a plain write, a copy of a foreign file) any sidecar of the key
    // describes older versions only (this version's identity is new): it goes, after the
    // content landed — a crash in between leaves the new content with a stale sidecar,
    // which reads the same.
    if (!record) await unlinkQuietly(`${dir.path}/${sidecarName(name)}`);
    if (moved) {
      // The source's sidecar describes nothing now; it goes under the source's lock.
      await unlinkQuietly(`${moved.dir.path}/${sidecarName(moved.name)}`);
      host.records.forget(moved.key);
    }
    host.records.remember(key, st, records);
    const release = unlock as () => Promise<void>;
    unlock = undefined;
    // The locks go while the directory is flushed (releasing never fails).
    const releaseSource = unlockSource;
    unlockSource = undefined;
    const releasing = Promise.all([release(), releaseSource?.()]).finally(() => {
      unlockLocal?.();
      unlockLocal = undefined;
    });
    // A move flushes both directories: the target's new name and the source's removed one.
    const sourceDir = moved && moved.dir !== dir && moved.dir.path !== dir.path ? moved.dir : undefined;
    await Promise.all([
      releasing,
      host.fsync ? host.syncDirGrouped(dir) : undefined,
      host.fsync && sourceDir ? host.syncDirGrouped(sourceDir) : undefined,
    ]);
    return infoOf(key, st, record);
  } finally {
    if (handle !== undefined) await closeQuietly(handle);
    if (opening) await opening.catch(() => undefined);
    if (sideFd !== undefined) await closeQuietly(sideFd);
    if (tmpExists) await unlinkQuietly(tmpPath);
    if (sideTmpExists) await unlinkQuietly(sideTmpPath);
    if (sidecarOnlyOurs) await unlinkQuietly(`${dir.path}/${sidecarName(name)}`);
    if (unlock) await unlock();
    if (unlockSource) await unlockSource();
    unlockLocal?.();
    if (holder) host.holders.drop(holder);
  }
}

/**
 * Copies the open source into a new temp file. With /proc the kernel copies
 * (`copy_file_range`, or a reflink where the file system has them) from the already
 * opened file, so no path is resolved twice; otherwise it streams through 64 KiB buffers.
 */
export async function copyInto(base: BaseDir, source: FileHandle, tmpPath: string): Promise<number> {
  if (base.procfd) {
    await fsp.copyFile(`/proc/self/fd/${source.fd}`, tmpPath, C.COPYFILE_EXCL);
    return openFd(tmpPath, C.O_RDWR | C.O_NOFOLLOW, 0);
  }
  const fd = await openFd(tmpPath, CREATE_FLAGS, 0o666);
  try {
    const buf = Buffer.allocUnsafe(STREAM_WRITE_CHUNK);
    let position = 0;
    for (;;) {
      const { bytesRead } = await source.read(buf, 0, buf.byteLength, position);
      if (bytesRead === 0) break;
      await writeFullyFd(fd, buf.subarray(0, bytesRead));
      position += bytesRead;
    }
    return fd;
  } catch (error) {
    await closeQuietly(fd);
    throw error;
  }
}
