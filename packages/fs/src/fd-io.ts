import { createHash, type Hash } from "node:crypto";
import { type BigIntStats, close as closeCb, constants as C, fstat as fstatCb, fsync as fsyncCb, futimes as futimesCb, open as openCb, promises as fsp, read as readCb, write as writeCb } from "node:fs";
import { StorageIOError } from "@pepperpy/storage-core";
import { isMissing } from "./contained-dir.js";

/**
 * Descriptor I/O helpers of FileStorage. Every call goes to libuv's thread pool, so every
 * operation yields to the event loop (SPEC §3: a loop of awaited calls never stops timers);
 * values move in bounded chunks ({@link IO_CHUNK}), so no single call holds a pool thread
 * for a whole large value and the caller can check its abort signal in between.
 */

/** Content files are opened for reading without following a leaf symlink and without blocking on a FIFO. */
export const READ_FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
/** New temp files: exclusive create (never through an existing name or link). */
export const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

/**
 * Most bytes handed to one read(2) or write(2). One write call for a whole 64 MiB value took
 * 160–310 ms instead of about 20 ms in 6 of 36 puts on the benchmark VM (the kernel throttling
 * or reclaiming for one huge page-cache write); 1 MiB calls took 20–28 ms every time, at one
 * thread-pool round trip per MiB. Reads use the same bound (readFile uses 512 KiB).
 */
export const IO_CHUNK = 1024 * 1024;

/** The error code of a Node system error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Opens `path` as a bare descriptor (lighter than a FileHandle). */
export function openFd(path: string, flags: number, mode = 0o666): Promise<number> {
  return new Promise((resolve, reject) => {
    openCb(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(fd)));
  });
}

/** `fstat` of an open descriptor, with nanosecond times. */
export function fstatFd(fd: number): Promise<BigIntStats> {
  return new Promise((resolve, reject) => {
    fstatCb(fd, { bigint: true }, (error, st) => (error ? reject(error) : resolve(st)));
  });
}

/** Sets the access and modification times of an open descriptor (seconds, as `futimes`). */
export function futimesFd(fd: number, atime: number, mtime: number): Promise<void> {
  return new Promise((resolve, reject) => {
    futimesCb(fd, atime, mtime, (error) => (error ? reject(error) : resolve()));
  });
}

/** One read(2): up to `length` bytes at `position` into `data` at `offset`. */
function readOnce(fd: number, data: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    readCb(fd, data, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/**
 * Reads into `data` from `position` of `fd`, at most {@link IO_CHUNK} bytes a call, looping
 * over short reads and checking `signal` between calls; the bytes read (fewer at the end of
 * the file). `onChunk` sees each chunk as it lands (a hash).
 */
export async function readFd(fd: number, data: Uint8Array, position: number, signal?: AbortSignal, onChunk?: (chunk: Uint8Array) => void): Promise<number> {
  let length = 0;
  while (length < data.byteLength) {
    if (length > 0) signal?.throwIfAborted();
    const n = await readOnce(fd, data, length, Math.min(data.byteLength - length, IO_CHUNK), position + length);
    if (n === 0) break;
    onChunk?.(data.subarray(length, length + n));
    length += n;
  }
  return length;
}

/** Writes every byte of `data` to `fd`, at most {@link IO_CHUNK} a call, looping over short writes. */
export async function writeFullyFd(fd: number, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const written = await new Promise<number>((resolve, reject) => {
      writeCb(fd, data, offset, Math.min(data.byteLength - offset, IO_CHUNK), null, (error, n) => (error ? reject(error) : resolve(n)));
    });
    if (written <= 0) throw new StorageIOError("Write made no progress");
    offset += written;
  }
}

/** Closes `fd`. */
export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    closeCb(fd, (error) => (error ? reject(error) : resolve()));
  });
}

/** Closes a descriptor we own on a failure path, ignoring errors (the operation fails anyway). */
export function closeQuietly(fd: number): Promise<void> {
  return closeFd(fd).catch(() => undefined);
}

/** Flushes `fd`. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsyncCb(fd, (error) => (error ? reject(error) : resolve()));
  });
}

/** Creates `path` (which must not exist) holding `data`, flushed when `fsync` is set: a sidecar's temp file. */
export async function writeNewFile(path: string, data: Uint8Array, fsync: boolean): Promise<void> {
  const fd = await openFd(path, CREATE_FLAGS);
  try {
    await writeFullyFd(fd, data);
    if (fsync) await fsyncFd(fd);
  } catch (error) {
    await closeQuietly(fd);
    throw error;
  }
  await closeFd(fd);
}

/** Unlinks `path`; missing or not ours to remove is fine. */
export async function unlinkQuietly(path: string): Promise<void> {
  await fsp.unlink(path).catch(() => undefined);
}

/** `lstat` of `path` (never followed) with nanosecond times, or `undefined` when nothing real is there. */
export async function lstatOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await fsp.lstat(path, { bigint: true });
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** A new SHA-256 of a value's content (see sidecar.ts: how a record finds its file after a copy). */
export function contentHash(): Hash {
  return createHash("sha256");
}

/**
 * Feeds `data` to `hash` in {@link IO_CHUNK} pieces with a turn of the event loop between
 * them, so hashing a large value never stalls the loop for long (SHA-256 runs at about
 * 1.4 GB/s here: under a millisecond per chunk).
 */
export async function hashInChunks(hash: Hash, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.byteLength; offset += IO_CHUNK) {
    if (offset > 0) await new Promise((resolve) => setImmediate(resolve));
    hash.update(data.subarray(offset, Math.min(offset + IO_CHUNK, data.byteLength)));
  }
}

/** True when `a` and `b` are the same version of a content file (or both missing). */
export function sameVersion(a: BigIntStats | undefined, b: BigIntStats | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.mode === b.mode;
}

/**
 * The SHA-256 (hex) of the regular file at `path` (never followed), read in {@link IO_CHUNK}
 * calls, when the file there is still the version `expected` (same device, inode, size and
 * modification time: the one the caller opened or stat-ed) and not truncated while it is
 * read; `undefined` otherwise (missing, replaced, not a regular file). The name alone is
 * not enough: a concurrent writer may have renamed another version over it since, and the
 * hash of that version must never be taken for the caller's.
 */
export async function hashFile(path: string, expected: BigIntStats, signal?: AbortSignal): Promise<string | undefined> {
  let fd: number;
  try {
    fd = await openFd(path, READ_FLAGS);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  try {
    const st = await fstatFd(fd);
    if (!st.isFile() || !sameVersion(st, expected)) return undefined;
    const size = st.size;
    const hash = contentHash();
    const buf = Buffer.allocUnsafe(Math.min(Number(size), IO_CHUNK));
    let position = 0;
    while (position < Number(size)) {
      signal?.throwIfAborted();
      const n = await readFd(fd, buf, position);
      if (n === 0) return undefined; // truncated meanwhile
      hash.update(buf.subarray(0, n));
      position += n;
    }
    return hash.digest("hex");
  } finally {
    await closeQuietly(fd);
  }
}
