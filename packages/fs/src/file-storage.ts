import { type BigIntStats, constants as C, promises as fsp } from "node:fs";
import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import {
  BaseStorage,
  type BaseStorageOptions,
  compareKeys,
  contentTypeFromKey,
  type DriverContext,
  inferValueType,
  type ListEntry,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  isValidKey,
  RESERVED_SEGMENT_PREFIX,
  type StorageCapabilities,
  StorageConflictError,
  type StorageDriver,
  StorageUnavailableError,
  StorageValidationError,
  type StoredEntry,
  type StoredStream,
  type ValueType,
  type WriteRequest,
} from "@pepperpy/storage-core";
import { acquireKeyLock, isStaleLock, LOCK_HOLDER, LOCK_PREFIX, unlinkSyncQuietly } from "./key-lock.js";
import {
  CREATE_FLAGS,
  closeFd,
  closeQuietly,
  contentHash,
  errorCode,
  fstatFd,
  fsyncFd,
  futimesFd,
  hashFile,
  hashInChunks,
  lstatOrUndefined,
  openFd,
  READ_FLAGS,
  readFd,
  unlinkQuietly,
  writeFullyFd,
  writeNewFile,
} from "./fd-io.js";
import {
  type BaseDir,
  closeScanDir,
  DirCache,
  type DirLease,
  type DirRef,
  dirIdentity,
  isMissing,
  openBase,
  openChildDir,
  openScanDir,
  type ScanDir,
  syncDir,
  walk,
} from "./contained-dir.js";
import {
  foreignEtag,
  adoptRecord,
  contentCandidates,
  makeRecord,
  matchRecord,
  newEtag,
  readSidecar,
  SIDECAR_PREFIX,
  type SidecarRecord,
  serializeSidecar,
  sidecarRecords,
  sidecarName,
  sidecarOwner,
  TEMP_PREFIX,
  tempName,
} from "./sidecar.js";

/** Options of {@link FileStorage}. */
export interface FileStorageOptions extends BaseStorageOptions {
  /** Directory holding the data; created when missing. Symlinks in it are resolved once, at open. */
  basePath: string;
  /**
   * `true` (default): `put` resolves only after the file, its sidecar and the directory
   * entry are on disk (`fsync`), so a power loss keeps the value. `false`: writes are still
   * atomic against process crashes (temp file + rename) but the last writes may be lost,
   * or read back as an older value, after a power loss or kernel crash. Several times faster.
   */
  fsync?: boolean | undefined;
  /**
   * Age in ms after which a temp file or orphaned sidecar left by a crashed writer is
   * removed when `list` or {@link FileStorage.removeOrphans} meets it (default 10 minutes).
   * It must exceed the longest write, or a slow write in another process loses its temp file and fails.
   */
  orphanAge?: number | undefined;
}

/** Default {@link FileStorageOptions.orphanAge}: 10 minutes. */
export const DEFAULT_ORPHAN_AGE_MS = 10 * 60 * 1000;

/** Bytes gathered from a stream before one write(2): bounds memory and syscalls. */
const STREAM_WRITE_CHUNK = 64 * 1024;
// ---------------------------------------------------------------------------------------
// In-process per-key locks. Every write, delete, copy and move of a key runs under its
// lock, so one process never interleaves two updates of the same content + sidecar pair
// and `ifMatch` is a true compare-and-swap within the process. Keyed by the base
// directory's dev:ino, so two FileStorage instances on one directory share them.
const locks = new Map<string, Promise<void>>();

function acquire(id: string): Promise<() => void> {
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

async function withLocks<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(ids)].sort();
  const releases: (() => void)[] = [];
  try {
    for (const id of sorted) releases.push(await acquire(id));
    return await fn();
  } finally {
    for (const r of releases.reverse()) r();
  }
}

/** Most keys whose sidecar records a driver keeps in memory (a few hundred bytes each). */
const RECORD_CACHE_MAX = 16_384;

/**
 * A key's sidecar records as they were when its content file had this identity. Valid
 * for as long as the content file still has exactly this identity: every write makes a
 * new file whose modification time this library stamps with a value unique to the
 * microsecond (see {@link uniqueStampMicros}), so a new version never has an old
 * version's identity even when the file system reuses the inode number at once.
 */
interface CachedRecords {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  records: SidecarRecord[];
}

let lastStampMicros = 0;
/**
 * Stamps of plain writes (bytes without a sidecar, see {@link FileDriver.writeIn}) are the
 * microseconds congruent to {@link PLAIN_MARK} modulo {@link PLAIN_MARK_MOD}; every other
 * write's stamp avoids that residue. A file without a record whose mtime carries the mark
 * was written by this library as bytes (see {@link isPlainMarked}).
 */
const PLAIN_MARK_MOD = 8;
const PLAIN_MARK = 5;

/**
 * A modification time for a new version, in microseconds: the wall clock to the
 * microsecond, strictly increasing within the process. The coarse clock the kernel stamps files with
 * ticks every few milliseconds, so two quick writes of one key that reuse a freed inode
 * and have the same size would otherwise share their identity (inode, size, mtime).
 * `plain`: the stamp carries the mark of a plain write; otherwise it never does.
 */
function uniqueStampMicros(plain: boolean): number {
  let micros = Math.max(Math.round((performance.timeOrigin + performance.now()) * 1000), lastStampMicros + 1);
  const r = micros % PLAIN_MARK_MOD;
  if (plain) micros += (PLAIN_MARK - r + PLAIN_MARK_MOD) % PLAIN_MARK_MOD;
  else if (r === PLAIN_MARK) micros += 1;
  lastStampMicros = micros;
  return micros;
}

/**
 * True when the mtime of `st` carries the mark of a plain write: its whole microseconds have
 * the plain residue, and its nanoseconds within the microsecond are what stamping `stamp + 0.5`
 * µs leaves. Node up to 22 sets times to the microsecond (truncated: 0 ns); Node 24 passes the
 * double's nanoseconds through, and a double holds seconds near 2^31 only to about 240 ns, so
 * the stamp lands within about ±120 ns of the half microsecond. A file stamped by the kernel
 * matches by chance about 1 time in 30 (1/8 of residues × about a quarter of sub-µs values).
 */
function isPlainMarked(st: BigIntStats): boolean {
  if ((st.mtimeNs / 1000n) % BigInt(PLAIN_MARK_MOD) !== BigInt(PLAIN_MARK)) return false;
  const sub = st.mtimeNs % 1000n;
  return sub === 0n || (sub >= 375n && sub <= 625n);
}

/**
 * True when a file of `key` without any record reads back exactly as a value written with
 * these options and a sidecar would: bytes, no metadata, and the content type the key's
 * extension gives, which decodes as bytes. Such a write needs no sidecar.
 */
function readsAsPlain(
  key: string,
  req: { valueType: ValueType | undefined; contentType: string; metadata: Record<string, string>; expiresAt?: number | undefined },
): boolean {
  // A value with an expiry always gets a sidecar: the deadline lives there.
  if (req.valueType !== "bytes" || req.expiresAt !== undefined || req.contentType !== contentTypeFromKey(key)) return false;
  for (const _ in req.metadata) return false;
  return inferValueType({ contentType: req.contentType }) === "bytes";
}

/** Waits for every promise (so nothing is left running), then throws the first failure or returns the values. */
async function settled<T extends readonly unknown[]>(...promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "rejected") throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/**
 * Largest remembered value `read` takes by its fast path (one read call, no abort check in
 * between); larger ones are read by the ordinary path, which checks the signal between reads.
 */
const FAST_READ_MAX = 16n * 1024n * 1024n;
/** Marks a fast path that could not answer. */
const FALL_BACK = Symbol("fall back");

/** True when `a` and `b` are the same version of a content file (or both missing). */
function sameVersion(a: BigIntStats | undefined, b: BigIntStats | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.mode === b.mode;
}

/** True when `path` is a regular file now (never followed). */
async function isFileNow(path: string, key: string): Promise<boolean> {
  try {
    return (await lstatOrUndefined(path))?.isFile() === true;
  } catch (error) {
    throw keyError(error, key);
  }
}

function splitKey(key: string): { parents: string[]; name: string } {
  const parents = key.split("/");
  const name = parents.pop()!;
  return { parents, name };
}

/** Maps file-system conditions that mean something specific for keys. */
function keyError(error: unknown, key: string): unknown {
  const code = errorCode(error);
  if (code === "ENAMETOOLONG") {
    return new StorageValidationError("Key has a segment longer than the file system allows (255 bytes)", { key, cause: error });
  }
  if (code === "ENOTDIR" || code === "ELOOP") {
    return new StorageConflictError("A parent of the key is a file or a symlink (a key cannot also be a prefix here)", { key, cause: error });
  }
  return error;
}

/** A content file opened for reading with its identity and record. */
interface OpenedEntry {
  handle: FileHandle;
  info: ObjectInfo;
  /** Its record, when it has one (a copy reuses its content hash and expiry). */
  record: SidecarRecord | undefined;
}

/** What a write stores in the record besides the value's type, content type and metadata. */
interface WriteContent {
  /** The SHA-256 (hex) of the bytes written, once they are (see sidecar.ts). */
  sha?: string | undefined;
}

/** The sort name of a directory entry: a directory sorts as `name/`, which is where its keys sort. */
interface DirEntry {
  name: string;
  sortName: string;
  dir: boolean;
}

/** One `list` page being gathered by {@link FileDriver.walkDir}. */
interface TreeWalk {
  base: BaseDir;
  ctx: DriverContext;
  cursor: string | undefined;
  /** Only keys are wanted: no `lstat` per file. */
  keysOnly: boolean;
  /** Stop once `items` holds this many. */
  want: number;
  items: ListEntry[];
  /** `dev:ino` of the directories on the current path (a bind mount cannot make a loop). */
  seen: Set<string>;
}

/** What {@link FileDriver.walkDir} fetched ahead for an entry: a child directory, opened and read, or a file's `lstat`. */
interface Fetched {
  child?: { dir: ScanDir; id: string; entries: DirEntry[] };
  st?: import("node:fs").Stats;
}

/** A file hard-linked as key locks (see {@link FileDriver.takeHolder}): `users` calls hold it now. */
interface LockHolder {
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

function removeHolderFile(path: string): void {
  liveHolders.delete(path);
  void unlinkQuietly(path);
}

/** Subdirectories (and, for full entries, files) `list` fetches ahead of its walk, per directory. */
const LIST_AHEAD = 6;
/** A listing is remembered only when its directory had not changed for this long (ns) when the read began. */
const LISTING_SETTLED_NS = 100_000_000n;
/** The same, on a file system keeping times to the millisecond or coarser. */
const LISTING_SETTLED_COARSE_NS = 3_000_000_000n;
/** Most directory listings remembered, and most names in them together. */
const LISTING_CACHE_DIRS = 256;
const LISTING_CACHE_NAMES = 65_536;

/** A directory's sorted entries, remembered while its identity and change time are these. */
interface Listing {
  dev: bigint;
  ino: bigint;
  ctimeNs: bigint;
  mtimeNs: bigint;
  entries: DirEntry[];
}

function byKeyOrder(a: DirEntry, b: DirEntry): number {
  return compareKeys(a.sortName, b.sortName);
}

/** First index whose sort name is not below `s`. */
function lowerBound(entries: readonly DirEntry[], s: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(entries[mid]!.sortName, s) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose sort name is above `s`. */
function upperBound(entries: readonly DirEntry[], s: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(entries[mid]!.sortName, s) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Identity and times of an open directory: `fstat` of its descriptor, or without one (no /proc) `lstat` of its path. */
function statDir(dir: DirRef, fd = dir.handle?.fd ?? -1): Promise<BigIntStats> {
  return fd >= 0 ? fstatFd(fd) : fsp.lstat(dir.path, { bigint: true });
}

/**
 * The file-system driver of {@link FileStorage}. See the package README for the on-disk
 * layout and the guarantees.
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
  private readonly fsync: boolean;
  /** Default age (ms) after which crash leftovers are removed. */
  readonly orphanAge: number;
  private opening: Promise<BaseDir> | undefined;
  /** The base once opened (skips a promise on hot paths). */
  private ready: BaseDir | undefined;
  /** Open, verified parent directories of recent keys (procfd mode only). */
  private dirs: DirCache | undefined;
  /** Sidecar records by key, valid while the content keeps its identity (see {@link CachedRecords}). */
  private readonly recordCache = new Map<string, CachedRecords>();
  /** False once the file system is seen to keep modification times coarser than our stamps: no record cache then. */
  private stampsHold = true;
  /** Directory fsyncs in flight and queued, per open directory (group commit). */
  /** Deletes under way in this process, per directory (`a/b`): only the last to finish tries to remove the directory. */
  private readonly deletesIn = new Map<string, number>();
  /** Sorted directory listings by key prefix (`""`, `a/b/`), valid while the directory is unchanged (see {@link readListing}). */
  private readonly listings = new Map<string, Listing>();
  private listingNames = 0;
  /**
   * A file in the base naming this process (`by`), hard-linked as the key lock of deletes
   * and of writes without a sidecar temp (see acquireKeyLock): one file created per burst
   * of calls (at most one per {@link HOLDER_MAX_AGE_MS}) instead of one per call. Removed
   * once unused for {@link HOLDER_IDLE_MS}, and at `close`.
   */
  private holder: LockHolder | undefined;
  private holderTimer: ReturnType<typeof setTimeout> | undefined;
  /** The holder being created, shared by the calls that wait for it. */
  private creatingHolder: Promise<LockHolder | undefined> | undefined;
  private readonly dirSyncs = new WeakMap<DirRef, { running: Promise<void> | undefined; queued: Promise<void> | undefined }>();
  private closed = false;

  constructor(options: { basePath: string; fsync?: boolean | undefined; orphanAge?: number | undefined }) {
    this.basePath = options.basePath;
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
  private readyBase(): BaseDir | Promise<BaseDir> {
    return this.ready && !this.closed ? this.ready : this.base();
  }

  /** The cached, verified parent directory of `key`; `undefined` on a miss. */
  private async cachedDirOf(key: string): Promise<DirLease | undefined> {
    const slash = key.lastIndexOf("/");
    return await this.dirs?.hit(slash < 0 ? "" : key.slice(0, slash));
  }

  /**
   * Runs the read-only `fn` in the cached directory of `key` while the directory's check
   * runs (shared with the other calls in flight, see {@link DirCache.hitChecked}).
   * `FALL_BACK` when no directory is cached or the check fails: whatever `fn` saw is then
   * discarded, unused, and the caller walks again. `fn` must release what it opens.
   */
  private async inCachedDir<T>(key: string, fn: (dir: DirRef) => Promise<T>): Promise<T | typeof FALL_BACK> {
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

  /** The records of `key` remembered for exactly the content identity `st`. */
  private cachedRecords(key: string, st: BigIntStats): SidecarRecord[] | undefined {
    const c = this.recordCache.get(key);
    return c && c.ino === st.ino && c.mtimeNs === st.mtimeNs && c.size === st.size ? c.records : undefined;
  }

  /** Remembers the records of `key` for its content identity `st`. */
  private rememberRecords(key: string, st: BigIntStats, records: SidecarRecord[]): void {
    if (!this.stampsHold) return;
    const cache = this.recordCache;
    if (!cache.has(key) && cache.size >= RECORD_CACHE_MAX) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, records });
  }

  /**
   * Flushes `dir` after a rename (group commit): concurrent writers of one directory share
   * an fsync, but each waits for one that STARTED after its own rename, so every `put`
   * still resolves only once its rename is durable.
   */
  private syncDirGrouped(dir: DirRef): Promise<void> {
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
  private async walkToRead(base: BaseDir, parents: readonly string[]): Promise<DirLease | undefined> {
    try {
      return await this.lease(base, parents, false);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /**
   * The info of the content file `st` of `key` with its record. Without one it is a plain
   * file: etag from its identity, content type from the key's extension, no metadata, and
   * value type `bytes` when its mtime carries the mark of a plain write (see
   * {@link FileDriver.writeIn}) and that content type decodes as bytes anyway — exactly
   * what a record of that write would have said. Otherwise (a foreign file) no value type.
   */
  private info(key: string, st: BigIntStats, record: SidecarRecord | undefined): ObjectInfo {
    if (record) {
      const info: ObjectInfo = {
        key,
        size: Number(st.size),
        lastModified: new Date(Number(st.mtimeNs / 1_000_000n)),
        etag: record.etag,
        contentType: record.ct,
        metadata: { ...record.meta },
        valueType: record.type,
      };
      if (record.exp !== undefined) info.expiresAt = new Date(record.exp);
      return info;
    }
    const contentType = contentTypeFromKey(key);
    return {
      key,
      size: Number(st.size),
      lastModified: new Date(Number(st.mtimeNs / 1_000_000n)),
      etag: foreignEtag(st),
      contentType,
      metadata: {},
      valueType: isPlainMarked(st) && inferValueType({ contentType }) === "bytes" ? "bytes" : undefined,
    };
  }

  /**
   * The record among `records` (the sidecar of `name` in `dirPath`) that describes the
   * content file `st`: by identity, else by content — a record of the same size whose
   * SHA-256 is the file's, read and hashed now (a copy of the data folder: new inode, new
   * times, same bytes; see sidecar.ts). `records` comes back with such a record
   * re-identified as `st`, so remembering them serves the next read without hashing.
   */
  private async resolveRecord(
    dirPath: string,
    name: string,
    st: BigIntStats,
    records: SidecarRecord[],
    signal?: AbortSignal,
  ): Promise<{ record: SidecarRecord | undefined; records: SidecarRecord[] }> {
    const record = matchRecord(records, st);
    if (record) return { record, records };
    const candidates = contentCandidates(records, st);
    if (candidates.length === 0) return { record: undefined, records };
    const sha = await hashFile(`${dirPath}/${name}`, st.size, signal);
    const found = sha === undefined ? undefined : candidates.find((r) => r.sha === sha);
    if (!found) return { record: undefined, records };
    const adopted = adoptRecord(found, st);
    return { record: adopted, records: [adopted, ...records.filter((r) => r !== found)] };
  }

  /**
   * Finds the record of the content file `st` (see {@link resolveRecord}). A file carrying
   * the plain mark needs none (see {@link info}). For any other file without a matching
   * record, a concurrent writer may have replaced the file and its sidecar between our two
   * reads — a plain write removes the sidecar, a delete too — so the file must still be at
   * its name: if not, `raced` tells the caller to read again. (A foreign file pays that
   * `lstat` once per version: its empty records are then remembered.)
   */
  private async recordFor(
    dir: DirRef,
    name: string,
    st: BigIntStats,
    sidecar: SidecarRecord[],
  ): Promise<{ record?: SidecarRecord; records: SidecarRecord[]; raced: boolean }> {
    // Content first: a copied file's new mtime may carry the plain mark by chance (about 1 in 30).
    const { record, records } = await this.resolveRecord(dir.path, name, st, sidecar);
    if (record || isPlainMarked(st)) return { record, records, raced: false };
    try {
      const now = await fsp.lstat(`${dir.path}/${name}`, { bigint: true });
      return { records, raced: now.ino !== st.ino || now.mtimeNs !== st.mtimeNs };
    } catch {
      return { records, raced: true };
    }
  }

  /**
   * The info and record of version `st` of `key`: from its remembered records, else from
   * its sidecar (then remembered). `undefined` when a concurrent writer replaced the file
   * between our reads (see {@link recordFor}) and this is not the `last` attempt: the
   * caller reads again.
   */
  private async versionOf(
    dir: DirRef,
    key: string,
    name: string,
    st: BigIntStats,
    last: boolean,
  ): Promise<{ info: ObjectInfo; record: SidecarRecord | undefined } | undefined> {
    const known = this.cachedRecords(key, st);
    if (known) {
      const record = matchRecord(known, st);
      return { info: this.info(key, st, record), record };
    }
    const { record, records, raced } = await this.recordFor(dir, name, st, await readSidecar(dir.path, name));
    if (raced && !last) return undefined;
    if (!raced) this.rememberRecords(key, st, records);
    return { info: this.info(key, st, record), record };
  }

  /** The info of version `st` of `key` (see {@link versionOf}). */
  private async versionInfo(dir: DirRef, key: string, name: string, st: BigIntStats, last: boolean): Promise<ObjectInfo | undefined> {
    return (await this.versionOf(dir, key, name, st, last))?.info;
  }

  /** Opens a key's content file for reading, with its info; `undefined` when missing. */
  private async openEntry(key: string, ctx: DriverContext): Promise<OpenedEntry | undefined> {
    const base = await this.readyBase();
    const name = key.slice(key.lastIndexOf("/") + 1);
    const w = (await this.cachedDirOf(key)) ?? (await this.walkToRead(base, splitKey(key).parents));
    if (!w) return undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        // (The core already rejects the call on abort; a retry still stops here.)
        if (attempt > 0) ctx.signal.throwIfAborted();
        let handle: FileHandle;
        try {
          handle = await fsp.open(`${w.dir.path}/${name}`, READ_FLAGS);
        } catch (error) {
          if (isMissing(error)) return undefined;
          throw keyError(error, key);
        }
        try {
          const st = await handle.stat({ bigint: true });
          // A directory (a prefix of other keys), FIFO, socket or device is not a value.
          if (!st.isFile()) {
            await handle.close();
            return undefined;
          }
          const version = await this.versionOf(w.dir, key, name, st, attempt >= 3);
          if (version) return { handle, ...version };
          await handle.close();
        } catch (error) {
          await handle.close().catch(() => undefined);
          throw error;
        }
      }
    } finally {
      w.release();
    }
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    // A version this process remembers: its sidecar need not be read (see readKnownIn);
    // anything else, or a file that changed, takes the ordinary path.
    const size = this.recordCache.get(key)?.size;
    if (size !== undefined && size <= FAST_READ_MAX) {
      const fast = await this.readKnown(key, Number(size));
      if (fast !== FALL_BACK) return fast;
    }
    const base = await this.readyBase();
    const name = key.slice(key.lastIndexOf("/") + 1);
    const w = (await this.cachedDirOf(key)) ?? (await this.walkToRead(base, splitKey(key).parents));
    if (!w) return undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) ctx.signal.throwIfAborted();
        let fd: number;
        try {
          fd = await openFd(`${w.dir.path}/${name}`, READ_FLAGS);
        } catch (error) {
          if (isMissing(error)) return undefined;
          throw keyError(error, key);
        }
        try {
          const st = await fstatFd(fd);
          // A directory (a prefix of other keys), FIFO, socket or device is not a value.
          if (!st.isFile()) return undefined;
          const info = await this.versionInfo(w.dir, key, name, st, attempt >= 3);
          if (!info) continue; // raced: read again (the descriptor is closed below)
          // Files this library wrote never change after the rename, so the size from fstat is
          // exact; a foreign file that is being appended to is read as of that fstat.
          const data = Buffer.allocUnsafe(info.size);
          // Short only when another tool truncated the file meanwhile.
          const length = await readFd(fd, data, 0, ctx.signal);
          info.size = length;
          return { info, data: length === data.byteLength ? data : data.subarray(0, length) };
        } finally {
          await closeQuietly(fd);
        }
      }
    } finally {
      w.release();
    }
  }

  /**
   * `read` of a remembered version: open, fstat, then a read of its `size` bytes (no sidecar read). The result stands only when the fstat shows exactly the remembered version
   * (a regular file with that identity) and the read returned exactly its size; anything
   * else falls back to the ordinary path.
   */
  private async readKnown(key: string, size: number): Promise<StoredEntry | undefined | typeof FALL_BACK> {
    const name = key.slice(key.lastIndexOf("/") + 1);
    const got = await this.inCachedDir(key, (dir) => this.readKnownIn(dir, key, name, size));
    return got === FALL_BACK ? FALL_BACK : got;
  }

  private async readKnownIn(dir: DirRef, key: string, name: string, size: number): Promise<StoredEntry | undefined | typeof FALL_BACK> {
    let fd: number;
    try {
      fd = await openFd(`${dir.path}/${name}`, READ_FLAGS);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw keyError(error, key);
    }
    try {
      const st = await fstatFd(fd);
      if (!st.isFile() || Number(st.size) !== size) return FALL_BACK;
      const known = this.cachedRecords(key, st);
      if (!known) return FALL_BACK;
      const data = Buffer.allocUnsafe(size);
      if ((await readFd(fd, data, 0)) !== size) return FALL_BACK;
      return { info: this.info(key, st, matchRecord(known, st)), data };
    } finally {
      await closeQuietly(fd);
    }
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const opened = await this.openEntry(key, ctx);
    if (!opened) return undefined;
    const stream: Readable = opened.handle.createReadStream({
      start: range.start,
      end: range.end,
      autoClose: true,
      highWaterMark: 64 * 1024,
    });
    return { info: opened.info, stream };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const base = await this.readyBase();
    const name = key.slice(key.lastIndexOf("/") + 1);
    const w = (await this.cachedDirOf(key)) ?? (await this.walkToRead(base, splitKey(key).parents));
    if (!w) return undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) ctx.signal.throwIfAborted();
        let st: BigIntStats;
        try {
          st = await fsp.lstat(`${w.dir.path}/${name}`, { bigint: true });
        } catch (error) {
          if (isMissing(error)) return undefined;
          throw keyError(error, key);
        }
        if (!st.isFile()) return undefined;
        const info = await this.versionInfo(w.dir, key, name, st, attempt >= 3);
        if (info) return info;
      }
    } finally {
      w.release();
    }
  }

  /**
   * One `lstat` of the leaf in its (cached, verified) directory: no sidecar needed to know a
   * key exists.
   */
  async exists(key: string, _ctx: DriverContext): Promise<boolean> {
    const name = key.slice(key.lastIndexOf("/") + 1);
    const fast = await this.inCachedDir(key, (dir) => isFileNow(`${dir.path}/${name}`, key));
    if (fast !== FALL_BACK) return fast;
    const base = await this.readyBase();
    const w = (await this.cachedDirOf(key)) ?? (await this.walkToRead(base, splitKey(key).parents));
    if (!w) return false;
    try {
      return await isFileNow(`${w.dir.path}/${name}`, key);
    } finally {
      w.release();
    }
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
    return withLocks([this.lockId(base, key)], async () => {
      for (let attempt = 0; ; attempt++) {
        const w = await this.walkToWrite(base, key, parents);
        // A value that needs a record gets the hash of its bytes in it (see sidecar.ts).
        const hash = readsAsPlain(key, req) ? undefined : contentHash();
        const content: WriteContent = {};
        try {
          return await this.writeIn(w.dir, key, name, req, ctx, content, async (tmpPath) => {
            const fd = await openFd(tmpPath, CREATE_FLAGS, 0o666);
            try {
              await this.fill(fd, req.body, ctx, hash);
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
    });
  }

  /** Writes the body into the temp file, feeding `hash` on the way. Streams flow through a 64 KiB buffer. */
  private async fill(fd: number, body: WriteRequest["body"], ctx: DriverContext, hash: Hash | undefined): Promise<void> {
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
  private async writeIn(
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
    content: WriteContent,
    create: (tmpPath: string) => Promise<number>,
    etag: string = newEtag(),
  ): Promise<ObjectInfo> {
    const target = `${dir.path}/${name}`;
    if (req.ifNoneMatch === "*") {
      // Early answer before any byte is written; link(2) below is what makes it atomic.
      const exists = await fsp.lstat(target).then(
        () => true,
        (error) => (isMissing(error) ? false : Promise.reject(error)),
      );
      if (exists) throw new StorageConflictError("Key already exists (ifNoneMatch)");
    }
    const tmpPath = `${dir.path}/${tempName()}`;
    const sideTmpPath = `${dir.path}/${tempName()}`;
    /** The value's temp file, open (a bare descriptor) until it is closed. */
    let handle: number | undefined;
    let sideFd: number | undefined;
    let tmpExists = false;
    let sideTmpExists = false;
    let unlock: (() => Promise<void>) | undefined;
    // Set once our sidecar replaced a missing one and until the content lands: on failure
    // the sidecar would describe nothing, so it is removed again.
    let sidecarOnlyOurs = false;
    // A plain write — bytes that read back exactly as a file without any record does (see
    // readsAsPlain) — writes no sidecar: its mtime stamp carries the plain mark, its etag is
    // its identity (unique per version: the stamp), and any sidecar of the key is stale once
    // the value landed. Not where stamps do not hold (a file system with coarse times).
    let plain = this.stampsHold && readsAsPlain(key, req);
    // No value type: a copy of a foreign file stays foreign (no record at all).
    const wantsRecord = req.valueType !== undefined && !plain;
    // The lock file a write without a sidecar temp links (see takeHolder).
    let holder: LockHolder | undefined;
    // The sidecar temp is created while the value's temp file is created and filled: each
    // creation is a thread-pool call that can take a while (it allocates an inode).
    if (wantsRecord) sideTmpExists = true; // the name is ours alone: removing it when absent is harmless
    const opening = wantsRecord
      ? openFd(sideTmpPath, CREATE_FLAGS, 0o666).then((fd) => {
          sideFd = fd;
        })
      : undefined;
    opening?.catch(() => undefined); // awaited below, or in `finally` on an earlier failure
    try {
      try {
        handle = await create(tmpPath);
      } catch (error) {
        // The name is ours alone (unique), so whatever part of it was created goes.
        await unlinkQuietly(tmpPath);
        if (errorCode(error) === "ENOENT") throw new DirectoryVanished(error);
        throw error;
      }
      tmpExists = true;
      // A modification time unique to this version (see uniqueStampMicros), so its identity
      // is new even when the inode number of a just-replaced version is reused.
      // libuv keeps whole microseconds, rounding down: the half microsecond absorbs the
      // floating-point error of the seconds it takes. The identity (inode, size, mtime) is
      // final then: fsync and rename keep it.
      const h = handle;
      const identify = async (): Promise<BigIntStats> => {
        const stamp = uniqueStampMicros(plain);
        if (this.stampsHold) await futimesFd(h, (stamp + 0.5) / 1e6, (stamp + 0.5) / 1e6);
        const id = await fstatFd(h);
        // A file system that keeps coarser times than microseconds cannot tell versions apart
        // by identity alone: the record cache is then turned off for this storage.
        if (this.stampsHold && id.mtimeNs / 1000n !== BigInt(stamp)) {
          this.stampsHold = false;
          this.recordCache.clear();
        }
        return id;
      };
      const recordOf = (id: BigIntStats): SidecarRecord | undefined =>
        req.valueType === undefined || plain ? undefined : makeRecord(id, etag, { ...req, valueType: req.valueType, sha: content.sha });
      const writeSidecarTemp = async (records: SidecarRecord[]): Promise<void> => {
        sideTmpExists = true; // the name is ours alone: removing it when absent is harmless
        await writeNewFile(sideTmpPath, serializeSidecar(name, records, LOCK_HOLDER), this.fsync);
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
        return { current, previous: current === undefined ? [] : (this.cachedRecords(key, current) ?? (await readSidecar(dir.path, name))) };
      };
      const [st, guess] = await settled(identify(), guessPrevious(), opening);
      const guessCurrent = guess.current;
      const previousGuess = guess.previous;
      if (plain && !this.stampsHold) {
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
      if (this.fsync) await settled(fsyncFd(h), side === undefined ? undefined : fsyncFd(side));
      ctx.signal.throwIfAborted();
      // The slow part ran unlocked: the value is written and flushed before the key lock is
      // taken, while both temp files close.
      sideFd = undefined;
      handle = undefined;
      const closing = Promise.all([closeFd(h), side === undefined ? undefined : closeFd(side)]);
      // Without a sidecar temp, the lock links the holder file shared with deletes.
      if (side === undefined) holder = await this.takeHolder();
      await settled(
        closing,
        acquireKeyLock(dir.path, name, ctx.signal, side === undefined ? holder?.path : sideTmpPath).then((release) => {
          unlock = release;
        }),
      );
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
          previous = current === undefined ? [] : (this.cachedRecords(key, current) ?? (await readSidecar(dir.path, name)));
          records = record ? sidecarRecords(record, previous) : [];
          if (record) {
            await fsp.unlink(sideTmpPath).catch(() => undefined);
            await writeSidecarTemp(records);
          }
        }
      } else if (req.ifMatch !== undefined) {
        current = await lstatOrUndefined(target);
        if (current !== undefined) previous = this.cachedRecords(key, current) ?? (await readSidecar(dir.path, name));
      }
      if (req.ifMatch !== undefined) {
        const etag = current?.isFile() ? ((await this.resolveRecord(dir.path, name, current, previous)).record?.etag ?? foreignEtag(current)) : undefined;
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
      if (req.ifNoneMatch === "*") {
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
      this.rememberRecords(key, st, records);
      const release = unlock as () => Promise<void>;
      unlock = undefined;
      // The lock goes while the directory is flushed (releasing never fails).
      await Promise.all([release(), this.fsync ? this.syncDirGrouped(dir) : undefined]);
      return this.info(key, st, record);
    } finally {
      if (handle !== undefined) await closeQuietly(handle);
      if (opening) await opening.catch(() => undefined);
      if (sideFd !== undefined) await closeQuietly(sideFd);
      if (tmpExists) await unlinkQuietly(tmpPath);
      if (sideTmpExists) await unlinkQuietly(sideTmpPath);
      if (sidecarOnlyOurs) await unlinkQuietly(`${dir.path}/${sidecarName(name)}`);
      if (unlock) await unlock();
      if (holder) this.dropHolder(holder);
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
        if (!this.recordCache.has(key)) {
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
          holder = await this.takeHolder();
          const unlock = await acquireKeyLock(w.dir.path, name, ctx.signal, holder?.path);
          try {
            const notThere = (error: unknown): boolean => {
              if (isMissing(error) || errorCode(error) === "EISDIR") return false;
              throw keyError(error, key);
            };
            removed = await fsp.unlink(path).then(() => true, notThere);
            if (removed) await unlinkQuietly(`${w.dir.path}/${sidecarName(name)}`);
          } finally {
            this.recordCache.delete(key);
            // The flush starts after both unlinks; the lock goes meanwhile.
            synced = removed && this.fsync ? this.syncDirGrouped(w.dir) : undefined;
            synced?.catch(() => undefined);
            await unlock();
          }
          failed = false;
        } finally {
          if (holder !== undefined) this.dropHolder(holder);
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

  /**
   * The lock holder file (see {@link holder}) for one more user, created when there is none
   * or the current one is older than {@link HOLDER_MAX_AGE_MS}; `undefined` if it cannot be
   * created (the lock is then a symlink). Give it back with {@link dropHolder}.
   */
  private async takeHolder(): Promise<LockHolder | undefined> {
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
      if (current.users === 0) removeHolderFile(current.path);
    }
    const base = this.ready;
    if (!base || this.closed) return undefined;
    // A temp file's name (swept like one when a crash leaves it), marked as the holder.
    const path = `${base.root.path}/${tempName()}${HOLDER_SUFFIX}`;
    try {
      await writeNewFile(path, Buffer.from(JSON.stringify({ by: LOCK_HOLDER }), "utf8"), false);
    } catch {
      await unlinkQuietly(path);
      return undefined; // the lock falls back to a symlink
    }
    holderCreated(path);
    const holder: LockHolder = { path, users: 0, born: now, idleSince: now };
    if (this.closed) {
      removeHolderFile(path);
      return undefined;
    }
    this.holder = holder;
    return holder;
  }

  /** Gives back a holder taken by {@link takeHolder}; an unused holder is removed once idle for {@link HOLDER_IDLE_MS}. */
  private dropHolder(h: LockHolder): void {
    if (--h.users > 0) return;
    if (this.holder !== h || this.closed) {
      removeHolderFile(h.path);
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
        removeHolderFile(cur.path);
      } else {
        this.holderTimer = setTimeout(check, HOLDER_IDLE_MS - idle).unref();
      }
    };
    this.holderTimer = setTimeout(check, HOLDER_IDLE_MS).unref();
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
      const source = await this.openEntry(from, ctx);
      if (!source) return false;
      try {
        const { parents, name } = splitKey(to);
        for (let attempt = 0; ; attempt++) {
          const w = await this.walkToWrite(base, to, parents);
          try {
            await this.writeIn(
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
              // The same bytes: the same content hash (a source without one gets none).
              { sha: source.record?.sha },
              (tmpPath) => this.copyInto(base, source.handle, tmpPath),
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
   * Copies the open source into a new temp file. With /proc the kernel copies
   * (`copy_file_range`, or a reflink where the file system has them) from the already
   * opened file, so no path is resolved twice; otherwise it streams through 64 KiB buffers.
   */
  private async copyInto(base: BaseDir, source: FileHandle, tmpPath: string): Promise<number> {
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

  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const base = await this.base();
    return withLocks([this.lockId(base, from), this.lockId(base, to)], async () => {
      const src = splitKey(from);
      const dst = splitKey(to);
      const sw = await this.walkToRead(base, src.parents);
      if (!sw) return false;
      try {
        let st: BigIntStats;
        try {
          st = await fsp.lstat(`${sw.dir.path}/${src.name}`, { bigint: true });
        } catch (error) {
          if (isMissing(error)) return false;
          throw keyError(error, from);
        }
        if (!st.isFile()) return false;
        ctx.signal.throwIfAborted();
        const dw = await this.walkToWrite(base, to, dst.parents);
        // Both keys' file locks, in key order so two opposite moves cannot deadlock.
        const unlocks: (() => Promise<void>)[] = [];
        try {
          const lockOrder = compareKeys(from, to) < 0 ? [sw.dir.path, src.name, dw.dir.path, dst.name] : [dw.dir.path, dst.name, sw.dir.path, src.name];
          unlocks.push(await acquireKeyLock(lockOrder[0]!, lockOrder[1]!, ctx.signal));
          unlocks.push(await acquireKeyLock(lockOrder[2]!, lockOrder[3]!, ctx.signal));
          // Under the locks: the source as it is now (another process may have changed it).
          try {
            st = await fsp.lstat(`${sw.dir.path}/${src.name}`, { bigint: true });
          } catch (error) {
            if (isMissing(error)) return false;
            throw error;
          }
          if (!st.isFile()) return false;
          let record = (await this.resolveRecord(sw.dir.path, src.name, st, await readSidecar(sw.dir.path, src.name), ctx.signal)).record;
          if (!record) {
            // A plain value (see writeIn) reads as bytes with its key's content type; under a
            // key whose extension gives another type it needs a record to read the same.
            const plain = this.info(from, st, undefined);
            if (plain.valueType !== undefined && contentTypeFromKey(to) !== plain.contentType) {
              record = makeRecord(st, plain.etag ?? foreignEtag(st), { valueType: plain.valueType, contentType: plain.contentType, metadata: {} });
            }
          }
          const target = `${dw.dir.path}/${dst.name}`;
          const targetSidecar = `${dw.dir.path}/${sidecarName(dst.name)}`;
          if (record) {
            // The destination's sidecar learns the moved file's record (rename keeps inode,
            // size and mtime) before the content arrives, keeping its own old records.
            const previous = await readSidecar(dw.dir.path, dst.name);
            const tmp = `${dw.dir.path}/${tempName()}`;
            try {
              await writeNewFile(tmp, serializeSidecar(dst.name, sidecarRecords(record, previous)), this.fsync);
              ctx.signal.throwIfAborted();
              await fsp.rename(tmp, targetSidecar);
            } catch (error) {
              await unlinkQuietly(tmp);
              throw error;
            }
          }
          try {
            await fsp.rename(`${sw.dir.path}/${src.name}`, target);
          } catch (error) {
            throw keyError(error, to);
          }
          if (!record) await unlinkQuietly(targetSidecar);
          await unlinkQuietly(`${sw.dir.path}/${sidecarName(src.name)}`);
          this.recordCache.delete(from);
          this.recordCache.delete(to);
          for (const u of unlocks.splice(0)) await u();
          if (this.fsync) {
            await syncDir(dw.dir);
            await syncDir(sw.dir);
          }
        } finally {
          for (const u of unlocks) await u();
          dw.release();
        }
        await this.removeEmptyDirs(base, src.parents);
        return true;
      } finally {
        sw.release();
      }
    });
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const base = await this.readyBase();
    // Only the directory of the prefix is walked, and below it only entries that can match.
    const slash = prefix.lastIndexOf("/");
    const dirKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    const w = await this.dirs?.hit(dirKey.slice(0, -1));
    const lease = w ?? (await this.walkToRead(base, dirKey ? dirKey.slice(0, -1).split("/") : []));
    if (!lease) return { items: [] };
    // One entry more than the page, to know whether more follow.
    const walk: TreeWalk = { base, ctx, cursor: page.cursor, keysOnly: page.keysOnly === true, want: page.limit + 1, items: [], seen: new Set() };
    try {
      const listing = await this.readListing(lease.dir, dirKey, lease.dir.handle?.fd ?? -1);
      walk.seen.add(listing.id);
      await this.walkDir(walk, lease.dir, dirKey, listing.entries, namePrefix);
    } finally {
      lease.release();
    }
    const items = walk.items;
    if (items.length <= page.limit) return { items };
    items.length = page.limit;
    return items.length > 0 ? { items, cursor: items[items.length - 1]!.key } : { items };
  }

  /**
   * Appends the keys under `dir` (sorted entries `entries`, only names starting with
   * `namePrefix`) to `walk.items` in key order, until it holds `walk.want`. Depth first;
   * never follows a symlink (each subdirectory is opened `O_NOFOLLOW` relative to its
   * parent) and never enters a directory twice (its `dev:ino` is on the current path).
   * The next few subdirectories (and, for full entries, files' `lstat`s) are fetched
   * ahead, side by side: each is a thread-pool round trip.
   */
  private async walkDir(walk: TreeWalk, dir: DirRef, dirKey: string, entries: readonly DirEntry[], namePrefix: string): Promise<void> {
    walk.ctx.signal.throwIfAborted();
    let from = 0;
    let to = entries.length;
    if (namePrefix !== "") {
      // Names starting with the prefix are contiguous in sort order.
      from = lowerBound(entries, namePrefix);
      to = from;
      while (to < entries.length && entries[to]!.name.startsWith(namePrefix)) to++;
    }
    const cursor = walk.cursor;
    if (cursor?.startsWith(dirKey)) {
      // Everything up to the cursor is skipped, except the directory the cursor is inside.
      const rest = cursor.slice(dirKey.length);
      let i = Math.max(from, upperBound(entries, rest));
      const before = entries[i - 1];
      if (i > from && before?.dir && rest.startsWith(before.sortName)) i--;
      from = i;
    } else if (cursor !== undefined && compareKeys(dirKey, cursor) < 0) {
      return; // every key under `dirKey` sorts before the cursor
    }
    // Fetches ahead: index → the opened child directory, or a file's lstat.
    const ahead = new Map<number, Promise<Fetched>>();
    let next = from;
    const fill = (): void => {
      while (ahead.size < LIST_AHEAD && next < to) {
        const e = entries[next]!;
        if (e.dir) ahead.set(next, this.fetchChild(walk, dir, dirKey + e.sortName, e.name));
        else if (!walk.keysOnly) {
          ahead.set(
            next,
            fsp.lstat(`${dir.path}/${e.name}`).then(
              (st) => ({ st }),
              (error) => (isMissing(error) ? {} : Promise.reject(error)),
            ),
          );
        }
        // A failure is thrown where the entry's turn comes; until then it is not "unhandled".
        ahead.get(next)?.catch(() => undefined);
        next++;
      }
    };
    try {
      for (let i = from; i < to; i++) {
        if (walk.items.length >= walk.want) return;
        fill();
        const e = entries[i]!;
        const fetched = ahead.get(i);
        ahead.delete(i);
        if (!e.dir) {
          if (walk.keysOnly) {
            walk.items.push({ key: dirKey + e.name, size: -1, lastModified: new Date(Number.NaN) });
            continue;
          }
          const st = (await fetched!).st;
          if (st?.isFile()) walk.items.push({ key: dirKey + e.name, size: st.size, lastModified: st.mtime });
          continue;
        }
        const child = (await fetched!).child;
        if (!child) continue;
        try {
          if (walk.seen.has(child.id)) continue;
          walk.seen.add(child.id);
          await this.walkDir(walk, child.dir.ref, dirKey + e.sortName, child.entries, "");
          walk.seen.delete(child.id);
        } finally {
          await closeScanDir(child.dir);
        }
      }
    } finally {
      // Stopped early (page full, error, abort): close what was fetched ahead.
      for (const p of ahead.values()) {
        const f = await p.catch(() => undefined);
        if (f?.child) await closeScanDir(f.child.dir);
      }
    }
  }

  /** Opens and reads the subdirectory `name` of `dir` for {@link walkDir}; nothing when it is gone or not a real directory. */
  private async fetchChild(walk: TreeWalk, dir: DirRef, key: string, name: string): Promise<Fetched> {
    let child: ScanDir;
    try {
      child = await openScanDir(walk.base, dir, name);
    } catch (error) {
      if (isMissing(error)) return {};
      throw error;
    }
    try {
      return { child: { dir: child, ...(await this.readListing(child.ref, key, child.fd)) } };
    } catch (error) {
      await closeScanDir(child);
      if (isMissing(error)) return {};
      throw error;
    }
  }

  /**
   * The identity and sorted entries of the open directory `dir` (key prefix `key`).
   * A listing is remembered while the directory is unchanged: the directory's change
   * time (`ctime`, set by the kernel on every create, remove or rename in it, and not
   * settable by anyone) must be exactly the remembered one, in nanoseconds. Only listings
   * whose `ctime` was already older than {@link LISTING_SETTLED_NS} when the read began
   * are remembered, so a change in the same clock tick as the read cannot share its `ctime`.
   */
  private async readListing(dir: DirRef, key: string, fd: number): Promise<{ id: string; entries: DirEntry[] }> {
    const began = BigInt(Date.now()) * 1_000_000n;
    // The identity before the read: the read then shows at least what this change time stands for.
    const st = await statDir(dir, fd);
    const known = this.listings.get(key);
    if (known) {
      if (st.ino === known.ino && st.dev === known.dev && st.ctimeNs === known.ctimeNs && st.mtimeNs === known.mtimeNs) {
        return { id: `${st.dev}:${st.ino}`, entries: known.entries };
      }
      this.forgetListing(key);
    }
    const read = await this.readDirSorted(dir, key);
    const margin = st.ctimeNs % 1_000_000n === 0n ? LISTING_SETTLED_COARSE_NS : LISTING_SETTLED_NS;
    if (read.settled && st.ctimeNs < began - margin && read.entries.length <= LISTING_CACHE_NAMES >> 2) {
      this.listings.set(key, { dev: st.dev, ino: st.ino, ctimeNs: st.ctimeNs, mtimeNs: st.mtimeNs, entries: read.entries });
      this.listingNames += read.entries.length;
      while (this.listingNames > LISTING_CACHE_NAMES || this.listings.size > LISTING_CACHE_DIRS) {
        const oldest = this.listings.keys().next().value;
        if (oldest === undefined) break;
        this.forgetListing(oldest);
      }
    }
    return { id: `${st.dev}:${st.ino}`, entries: read.entries };
  }

  private forgetListing(key: string): void {
    const l = this.listings.get(key);
    if (!l) return;
    this.listings.delete(key);
    this.listingNames -= l.entries.length;
  }

  /**
   * A directory's entries that can be keys, sorted as their keys sort: regular files whose
   * key (`dirKey` + name) is a valid key, and real directories whose key prefix is a valid
   * key (every key below would contain an invalid segment otherwise). Never symlinks, never
   * reserved `.pepperpy*` names, never a name that is not valid UTF-8 (it has no key: a
   * lossy decoding would name another file), a backslash, a control character, a `.`/`..`
   * segment, a drive letter at the start of a key or a key over 1024 bytes — the names
   * `validateKey` rejects, so every listed key is one every other operation accepts. Temp
   * files and sidecars left by crashed writers and older than `orphanAge` are removed on
   * the way. `settled`: nothing in it is for a later sweep (no temp file, lock or orphaned
   * sidecar).
   */
  private async readDirSorted(dir: DirRef, dirKey: string): Promise<{ entries: DirEntry[]; settled: boolean }> {
    const dirents = await fsp.readdir(dir.path, { withFileTypes: true, encoding: "buffer" });
    const out: DirEntry[] = [];
    const reserved: string[] = [];
    const names = new Set<string>();
    for (const d of dirents) {
      const raw = d.name;
      const name = raw.toString("utf8");
      // Not UTF-8: the decoded name (with U+FFFD) names no file.
      if (name.includes("\uFFFD") && !Buffer.from(name, "utf8").equals(raw)) continue;
      if (name.startsWith(RESERVED_SEGMENT_PREFIX)) {
        reserved.push(name);
        continue;
      }
      names.add(name);
      if (!isValidKey(dirKey + name)) continue;
      let isDir = d.isDirectory();
      let isFile = d.isFile();
      if (!isDir && !isFile && !d.isSymbolicLink() && !d.isFIFO() && !d.isSocket() && !d.isBlockDevice() && !d.isCharacterDevice()) {
        // DT_UNKNOWN on some file systems: ask lstat (never stat, which follows links).
        try {
          const st = await fsp.lstat(`${dir.path}/${name}`);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          continue;
        }
      }
      if (isDir) out.push({ name, sortName: `${name}/`, dir: true });
      else if (isFile) out.push({ name, sortName: name, dir: false });
    }
    let settled = true;
    if (reserved.length > 0) {
      for (const name of reserved) {
        if (name.startsWith(`${SIDECAR_PREFIX}#`)) continue;
        const owner = sidecarOwner(name);
        if (owner === undefined || !names.has(owner)) settled = false;
      }
      if (!settled) await this.sweep(dir, reserved, names, this.orphanAge);
    }
    out.sort(byKeyOrder);
    return { entries: out, settled };
  }

  /** Removes reserved entries of `dir` left behind by crashed writers, older than `olderThan` ms. */
  private async sweep(dir: DirRef, reserved: string[], names: Set<string>, olderThan: number): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const name of reserved) {
      if (name.startsWith(LOCK_PREFIX) || name.startsWith(`${LOCK_PREFIX.slice(0, -1)}#`)) {
        // A lock is removed only when its holder is dead (or it is very old), whatever `olderThan` says.
        if (await isStaleLock(`${dir.path}/${name}`)) {
          await fsp.unlink(`${dir.path}/${name}`).then(() => removed++, () => undefined);
        }
        continue;
      }
      const isTemp = name.startsWith(TEMP_PREFIX);
      const owner = sidecarOwner(name);
      const orphanSidecar = owner !== undefined && !names.has(owner);
      if (!isTemp && !orphanSidecar) continue;
      try {
        const st = await fsp.lstat(`${dir.path}/${name}`);
        if (!st.isFile() && !st.isSymbolicLink()) continue;
        if (now - st.mtimeMs < olderThan) continue;
        // Re-check: the content may have landed since readdir.
        if (orphanSidecar && (await fsp.lstat(`${dir.path}/${owner}`).then(() => true, () => false))) continue;
        await fsp.unlink(`${dir.path}/${name}`);
        removed++;
      } catch {
        // Gone already, or not ours to remove.
      }
    }
    return removed;
  }

  /**
   * Walks the whole tree under `prefixDir` and removes temp files and orphaned sidecars
   * older than `olderThan` ms. Returns how many were removed.
   */
  async removeOrphans(olderThan: number, signal?: AbortSignal): Promise<number> {
    const base = await this.base();
    let removed = 0;
    const visit = async (dir: DirRef, seen: Set<string>): Promise<void> => {
      signal?.throwIfAborted();
      const dirents = await fsp.readdir(dir.path, { withFileTypes: true });
      const reserved: string[] = [];
      const names = new Set<string>();
      for (const d of dirents) {
        if (d.name.startsWith(RESERVED_SEGMENT_PREFIX)) reserved.push(d.name);
        else names.add(d.name);
      }
      removed += await this.sweep(dir, reserved, names, olderThan);
      for (const d of dirents) {
        if (!d.isDirectory() || d.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
        let child: DirRef;
        try {
          child = await openChildDir(base, dir, d.name, false);
        } catch {
          continue;
        }
        try {
          const id = await dirIdentity(child);
          if (seen.has(id)) continue;
          seen.add(id);
          await visit(child, seen);
        } finally {
          await child.handle?.close().catch(() => undefined);
        }
      }
    };
    await visit(base.root, new Set([await dirIdentity(base.root)]));
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.holderTimer) clearTimeout(this.holderTimer);
    this.holderTimer = undefined;
    const holder = this.holder;
    this.holder = undefined;
    if (holder && holder.users === 0) removeHolderFile(holder.path);
    this.dirs?.close();
    const opening = this.opening;
    this.opening = undefined;
    if (opening) {
      const base = await opening.catch(() => undefined);
      await base?.root.handle?.close().catch(() => undefined);
    }
  }
}

/** The temp file could not be created because its directory was removed meanwhile. */
class DirectoryVanished extends Error {
  constructor(override readonly cause: unknown) {
    super("Directory removed during the write");
  }
}


/**
 * A storage in a directory of the local file system. Values are plain files (strings and
 * bytes raw, JSON values as JSON text), so other tools can read them, and files written by
 * other tools are readable. Writes are atomic (temp file, fsync, rename, directory fsync);
 * no key, symlink or rename race leads outside `basePath`. See the README for the layout.
 *
 * @example
 * const storage = new FileStorage("/data");
 * await storage.put("users/1.json", { name: "Ana" });
 */
export class FileStorage extends BaseStorage {
  protected declare readonly driver: FileDriver;
  /** The configured base directory (as given; symlinks in it are resolved once, at open). */
  readonly basePath: string;

  /**
   * @param options The base directory, or every option in one object with `basePath`.
   * @param more With a path first, the other options: `new FileStorage("/data", { fsync: false })`.
   */
  constructor(options: string | FileStorageOptions, more?: Omit<FileStorageOptions, "basePath">) {
    if (more !== undefined && (typeof options !== "string" || typeof more !== "object" || more === null)) {
      // A second argument that would be ignored is refused: options a caller believes in (fsync) must hold.
      throw new StorageValidationError("FileStorage takes a path and an options object, or one options object with basePath", { backend: "file" });
    }
    const opts: FileStorageOptions = typeof options === "string" ? { ...more, basePath: options } : options;
    if (typeof opts !== "object" || opts === null || typeof opts.basePath !== "string" || opts.basePath.length === 0) {
      throw new StorageValidationError("FileStorage needs a basePath (a directory)", { backend: "file" });
    }
    if (opts.basePath.includes("\u0000")) throw new StorageValidationError("Invalid basePath: NUL character", { backend: "file" });
    if (opts.fsync !== undefined && typeof opts.fsync !== "boolean") {
      throw new StorageValidationError("Invalid option fsync: expected true or false", { backend: "file" });
    }
    if (opts.orphanAge !== undefined && (typeof opts.orphanAge !== "number" || !(opts.orphanAge >= 0))) {
      throw new StorageValidationError("Invalid option orphanAge: expected a non-negative number of ms", { backend: "file" });
    }
    super(new FileDriver({ basePath: opts.basePath, fsync: opts.fsync, orphanAge: opts.orphanAge }), opts);
    this.basePath = opts.basePath;
  }

  /** The base directory's real path (symlinks resolved), once the storage has opened it. */
  async realBasePath(): Promise<string> {
    return (await this.driver.base()).realPath;
  }

  /**
   * Removes temp files and orphaned sidecars left by crashed writers anywhere under the
   * base, when older than `olderThan` ms (default: the `orphanAge` option, 10 minutes).
   * `list` already does this for the directories it walks. Returns how many were removed.
   */
  async removeOrphans(opts: { olderThan?: number; signal?: AbortSignal } = {}): Promise<number> {
    try {
      return await this.driver.removeOrphans(opts.olderThan ?? this.driver.orphanAge, opts.signal);
    } catch (error) {
      throw this.toStorageError(error, "removeOrphans");
    }
  }
}

export { SIDECAR_PREFIX, TEMP_PREFIX };
