import { type BigIntStats, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { DriverContext, ObjectInfo, StoredEntry, StoredStream } from "@pepperpy/storage-core";
import { type DirRef, isMissing } from "./contained-dir.js";
import { FALL_BACK, keyError, splitKey } from "./driver-support.js";
import { closeQuietly, fstatFd, openFd, READ_FLAGS, readFd } from "./fd-io.js";
import type { FileDriver } from "./file-driver.js";
import { matchRecord, type SidecarRecord } from "./sidecar.js";
import { infoOf, versionOf } from "./versions.js";

/**
 * The read side of FileStorage: `read`, `readStream`, `stat`, `exists`. Each finds the key's
 * parent directory (cached and checked, or walked), then reads the leaf and its record; a
 * concurrent writer may replace the file between those reads, which {@link inKeyDir}
 * retries in one place.
 */

/**
 * Largest remembered value `read` takes by its fast path (no sidecar read); larger ones take
 * the ordinary path.
 */
const FAST_READ_MAX = 16n * 1024n * 1024n;

/** Answer of a step of {@link inKeyDir}: the file changed between two reads, read again. */
const RETRY = Symbol("retry");

/** A content file opened for reading with its identity and record. */
export interface OpenedEntry {
  handle: FileHandle;
  info: ObjectInfo;
  /** Its record, when it has one (a copy reuses its content hash and expiry). */
  record: SidecarRecord | undefined;
}

/**
 * The race retry, in one place: runs `step` in the parent directory of `key` (cached and
 * checked, or walked), again while it answers {@link RETRY} — a concurrent writer replaced
 * the file between two of its reads (see versions.ts: `recordFor`). The fourth attempt is
 * `last`: it must answer. `undefined` when the parent directory is missing.
 */
async function inKeyDir<T>(
  d: FileDriver,
  key: string,
  ctx: DriverContext,
  step: (dir: DirRef, name: string, last: boolean) => Promise<T | typeof RETRY>,
): Promise<T | undefined> {
  const base = await d.readyBase();
  const name = key.slice(key.lastIndexOf("/") + 1);
  const w = (await d.cachedDirOf(key)) ?? (await d.walkToRead(base, splitKey(key).parents));
  if (!w) return undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      // (The core already rejects the call on abort; a retry still stops here.)
      if (attempt > 0) ctx.signal.throwIfAborted();
      const answer = await step(w.dir, name, attempt >= 3);
      if (answer !== RETRY) return answer;
    }
  } finally {
    w.release();
  }
}

/** Opens `dir/name` for reading as a bare descriptor; `undefined` when missing (or not reachable without a link). */
async function openLeaf(dir: DirRef, name: string, key: string): Promise<number | undefined> {
  try {
    return await openFd(`${dir.path}/${name}`, READ_FLAGS);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw keyError(error, key);
  }
}

/** Opens a key's content file for reading (a FileHandle, for streams and copies), with its info; `undefined` when missing. */
export function openEntry(d: FileDriver, key: string, ctx: DriverContext): Promise<OpenedEntry | undefined> {
  return inKeyDir(d, key, ctx, async (dir, name, last) => {
    let handle: FileHandle;
    try {
      handle = await fsp.open(`${dir.path}/${name}`, READ_FLAGS);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw keyError(error, key);
    }
    try {
      const st = await handle.stat({ bigint: true });
      // A directory (a prefix of other keys), FIFO, socket or device is not a value.
      const version = st.isFile() ? await versionOf(d.records, dir, key, name, st, last) : undefined;
      if (version) return { handle, ...version };
      await handle.close();
      return st.isFile() ? RETRY : undefined;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  });
}

/** The driver's `read`: the whole value, in 1 MiB read calls. */
export async function readEntry(d: FileDriver, key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
  // A version this process remembers: its sidecar need not be read (see readKnownIn);
  // anything else, or a file that changed, takes the ordinary path.
  const size = d.records.sizeOf(key);
  if (size !== undefined && size <= FAST_READ_MAX) {
    const name = key.slice(key.lastIndexOf("/") + 1);
    const fast = await d.inCachedDir(key, (dir) => readKnownIn(d, dir, key, name, Number(size)));
    if (fast !== FALL_BACK) return fast;
  }
  return inKeyDir(d, key, ctx, async (dir, name, last) => {
    const fd = await openLeaf(dir, name, key);
    if (fd === undefined) return undefined;
    try {
      const st = await fstatFd(fd);
      // A directory (a prefix of other keys), FIFO, socket or device is not a value.
      if (!st.isFile()) return undefined;
      const info = (await versionOf(d.records, dir, key, name, st, last))?.info;
      if (!info) return RETRY;
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
  });
}

/**
 * `read` of a remembered version: open, fstat, then a read of its `size` bytes (no sidecar
 * read). The result stands only when the fstat shows exactly the remembered version (a
 * regular file with that identity) and the read returned exactly its size; anything else
 * falls back to the ordinary path.
 */
async function readKnownIn(d: FileDriver, dir: DirRef, key: string, name: string, size: number): Promise<StoredEntry | undefined | typeof FALL_BACK> {
  const fd = await openLeaf(dir, name, key);
  if (fd === undefined) return undefined;
  try {
    const st = await fstatFd(fd);
    if (!st.isFile() || Number(st.size) !== size) return FALL_BACK;
    const known = d.records.get(key, st);
    if (!known) return FALL_BACK;
    const data = Buffer.allocUnsafe(size);
    if ((await readFd(fd, data, 0)) !== size) return FALL_BACK;
    return { info: infoOf(key, st, matchRecord(known, st)), data };
  } finally {
    await closeQuietly(fd);
  }
}

/** The driver's `readStream`: the open file read in 64 KiB chunks, `start`/`end` inclusive. */
export async function readEntryStream(
  d: FileDriver,
  key: string,
  range: { start?: number | undefined; end?: number | undefined },
  ctx: DriverContext,
): Promise<StoredStream | undefined> {
  const opened = await openEntry(d, key, ctx);
  if (!opened) return undefined;
  const stream: Readable = opened.handle.createReadStream({ start: range.start, end: range.end, autoClose: true, highWaterMark: 64 * 1024 });
  return { info: opened.info, stream };
}

/** The driver's `stat`: one `lstat` of the leaf and its record. */
export function statEntry(d: FileDriver, key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
  return inKeyDir(d, key, ctx, async (dir, name, last) => {
    let st: BigIntStats;
    try {
      st = await fsp.lstat(`${dir.path}/${name}`, { bigint: true });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw keyError(error, key);
    }
    if (!st.isFile()) return undefined;
    return (await versionOf(d.records, dir, key, name, st, last))?.info ?? RETRY;
  });
}

/**
 * The driver's `exists`, with expiry honoured: one `lstat` of the leaf in its (cached,
 * checked) directory when this process remembers that version's record (its deadline is
 * then known without reading the sidecar); otherwise a `stat` (the `lstat` and the sidecar
 * read), whose record is remembered for the next call.
 */
export async function entryExists(d: FileDriver, key: string, ctx: DriverContext): Promise<boolean> {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const fast = await d.inCachedDir(key, (dir) => knownLiveNow(d, dir, key, name));
  if (fast !== FALL_BACK) return fast;
  const info = await statEntry(d, key, ctx);
  return info !== undefined && d.isLiveDeadline(info.expiresAt?.getTime());
}

/** Whether `dir/name` is a live value, by one `lstat` and the remembered record of that version; `FALL_BACK` when none is remembered. */
async function knownLiveNow(d: FileDriver, dir: DirRef, key: string, name: string): Promise<boolean | typeof FALL_BACK> {
  let st: BigIntStats;
  try {
    st = await fsp.lstat(`${dir.path}/${name}`, { bigint: true });
  } catch (error) {
    if (isMissing(error)) return false;
    throw keyError(error, key);
  }
  if (!st.isFile()) return false;
  const known = d.records.get(key, st);
  if (!known) return FALL_BACK;
  return d.isLiveDeadline(matchRecord(known, st)?.exp);
}
