/**
 * The compressed-object format, version 1 (documented byte by byte in docs/formats.md).
 *
 * ```
 * offset  size  field
 * 0       6     magic F7 50 50 5A 0D 0A  ("\xF7PPZ\r\n")
 * 6       1     format version (1)
 * 7       1     algorithm: 0 stored, 1 gzip, 2 deflate (zlib, RFC 1950), 3 brotli, 4 zstd
 * 8       1     flags (0; any other value is refused)
 * 9       n     payload: the value, compressed with the algorithm (as is for 0)
 * 9+n     8     uncompressed size, unsigned 64-bit big-endian
 * 17+n    4     CRC-32 of the uncompressed bytes, unsigned 32-bit big-endian
 * ```
 */
import { StorageIntegrityError, StorageUnsupportedError, StorageValidationError } from "@pepperpy/storage-core";
import zlib from "node:zlib";

/** First bytes of every object written by the layer. 0xF7 never occurs in UTF-8, so no text or JSON value starts with it. */
export const MAGIC = Buffer.from([0xf7, 0x50, 0x50, 0x5a, 0x0d, 0x0a]);
/** The format version this release writes. */
export const FORMAT_VERSION = 1;
/** Bytes before the payload. */
export const HEADER_LENGTH = 9;
/** Bytes after the payload: size and CRC-32. */
export const TRAILER_LENGTH = 12;

/** Compression algorithms of the layer. */
export type CompressionAlgorithm = "gzip" | "deflate" | "brotli" | "zstd";

/** Algorithm ids in the header (`stored` = kept uncompressed). */
export const ALGORITHM_IDS: Record<CompressionAlgorithm | "stored", number> = { stored: 0, gzip: 1, deflate: 2, brotli: 3, zstd: 4 };
const ALGORITHM_NAMES = ["stored", "gzip", "deflate", "brotli", "zstd"] as const;

/** Level range and default of each algorithm. */
export const LEVELS: Record<CompressionAlgorithm, { min: number; max: number; default: number }> = {
  gzip: { min: 0, max: 9, default: 6 },
  deflate: { min: 0, max: 9, default: 6 },
  // Quality 11 is many times slower than 4 for a few percent: a storage layer favours speed.
  brotli: { min: 0, max: 11, default: 4 },
  zstd: { min: 1, max: 22, default: 3 },
};

/** Parsed header. */
export interface Header {
  algorithm: CompressionAlgorithm | "stored";
}

/** True when `bytes` start with the full magic. */
export function hasMagic(bytes: Uint8Array): boolean {
  if (bytes.byteLength < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

export function encodeHeader(algorithm: CompressionAlgorithm | "stored"): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(h, 0);
  h[6] = FORMAT_VERSION;
  h[7] = ALGORITHM_IDS[algorithm];
  h[8] = 0;
  return h;
}

/** Parses a header that starts with the magic; anything invalid is a `StorageIntegrityError`. */
export function decodeHeader(bytes: Uint8Array): Header {
  if (bytes.byteLength < HEADER_LENGTH) throw new StorageIntegrityError("Compressed value is truncated (incomplete header)");
  if (bytes[6] !== FORMAT_VERSION) {
    throw new StorageIntegrityError(`Compressed value has unknown format version ${bytes[6]} (corrupt, or written by a newer release)`);
  }
  const algorithm = ALGORITHM_NAMES[bytes[7]!];
  if (algorithm === undefined) throw new StorageIntegrityError(`Compressed value names unknown algorithm ${bytes[7]}`);
  if (bytes[8] !== 0) throw new StorageIntegrityError(`Compressed value has unknown flags 0x${bytes[8]!.toString(16)}`);
  return { algorithm };
}

export function encodeTrailer(size: number, crc: number): Buffer {
  const t = Buffer.alloc(TRAILER_LENGTH);
  t.writeBigUInt64BE(BigInt(size), 0);
  t.writeUInt32BE(crc >>> 0, 8);
  return t;
}

export function decodeTrailer(bytes: Uint8Array): { size: number; crc: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = b.readBigUInt64BE(0);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new StorageIntegrityError("Compressed value declares an impossible size");
  return { size: Number(size), crc: b.readUInt32BE(8) };
}

type ZlibWithZstd = typeof zlib & {
  zstdCompress?: (buf: Uint8Array, opts: object, cb: (e: Error | null, r: Buffer) => void) => void;
  zstdDecompress?: (buf: Uint8Array, opts: object, cb: (e: Error | null, r: Buffer) => void) => void;
  createZstdCompress?: (opts: object) => import("node:stream").Transform;
  createZstdDecompress?: (opts: object) => import("node:stream").Transform;
};
const z = zlib as ZlibWithZstd;

/** True when the running Node has zstd in `node:zlib` (22.15+ / 23.8+). */
export const ZSTD_AVAILABLE = typeof z.zstdCompress === "function" && typeof z.createZstdDecompress === "function";

/** The clear error for zstd on a Node without it. */
export function zstdUnsupported(): StorageUnsupportedError {
  return new StorageUnsupportedError(
    `zstd needs Node.js 22.15+ or 23.8+ (node:zlib has no zstd in ${process.version}); use gzip, deflate or brotli, or upgrade Node`,
  );
}

/** Output chunk size of zlib streams: larger than the 16 KiB default for throughput. */
const STREAM_CHUNK = 64 * 1024;

/**
 * Largest output chunk of a whole-buffer call. zlib runs one thread-pool job per output
 * chunk, and a job costs a round trip (tens to 100 µs on the benchmark VM): at the 16 KiB
 * default a 1 MiB gunzip took 12–30 ms in 64 jobs, in one 1 MiB chunk 4.3–4.7 ms.
 */
const BUFFER_CHUNK_MAX = 8 * 1024 * 1024;

/** Output chunk size for a whole-buffer call expected to produce about `bytes` bytes. */
function bufferChunk(bytes: number): number {
  // A little room over the expected size, so zlib can finish in the same job.
  return Math.max(STREAM_CHUNK, Math.min(bytes + 1024, BUFFER_CHUNK_MAX));
}

function compressOptions(algorithm: CompressionAlgorithm, level: number, sizeHint?: number): zlib.ZlibOptions & zlib.BrotliOptions {
  // A whole buffer (its size known) is compressed in large output chunks; streams in 64 KiB.
  const chunk = sizeHint === undefined ? STREAM_CHUNK : bufferChunk(sizeHint);
  if (algorithm === "brotli") {
    const params: Record<number, number> = { [zlib.constants.BROTLI_PARAM_QUALITY]: level };
    if (sizeHint !== undefined) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
    return { params, chunkSize: chunk };
  }
  if (algorithm === "zstd") {
    const c = (zlib.constants as unknown as Record<string, number>).ZSTD_c_compressionLevel ?? 100;
    return { params: { [c]: level }, chunkSize: chunk } as zlib.BrotliOptions;
  }
  return { level, chunkSize: chunk };
}

function callAsync(fn: (buf: Uint8Array, opts: object, cb: (e: Error | null, r: Buffer) => void) => void, data: Uint8Array, opts: object): Promise<Buffer> {
  return new Promise((resolve, reject) => fn(data, opts, (e, r) => (e ? reject(e) : resolve(r))));
}

/** Compresses a buffer on the libuv thread pool. */
export function compressBuffer(algorithm: CompressionAlgorithm, level: number, data: Uint8Array): Promise<Buffer> {
  const opts = compressOptions(algorithm, level, data.byteLength);
  switch (algorithm) {
    case "gzip":
      return callAsync(zlib.gzip as never, data, opts);
    case "deflate":
      return callAsync(zlib.deflate as never, data, opts);
    case "brotli":
      return callAsync(zlib.brotliCompress as never, data, opts);
    case "zstd":
      if (!z.zstdCompress) throw zstdUnsupported();
      return callAsync(z.zstdCompress, data, opts);
  }
}

/**
 * Decompresses a buffer producing at most `maxOutput` bytes: zlib stops with
 * `ERR_BUFFER_TOO_LARGE` as soon as the output would exceed it, so a bomb costs at most
 * `maxOutput` bytes of memory.
 */
export function decompressBuffer(algorithm: CompressionAlgorithm, data: Uint8Array, maxOutput: number): Promise<Buffer> {
  // `maxOutput` is the declared size (already bounded by maxDecompressedSize): one chunk holds
  // the whole value up to BUFFER_CHUNK_MAX.
  const opts = { maxOutputLength: Math.max(1, maxOutput), chunkSize: bufferChunk(maxOutput) };
  switch (algorithm) {
    case "gzip":
      return callAsync(zlib.gunzip as never, data, opts);
    case "deflate":
      return callAsync(zlib.inflate as never, data, opts);
    case "brotli":
      return callAsync(zlib.brotliDecompress as never, data, opts);
    case "zstd":
      if (!z.zstdDecompress) throw zstdUnsupported();
      return callAsync(z.zstdDecompress, data, opts);
  }
}

/** A compressing transform stream. */
export function createCompressor(algorithm: CompressionAlgorithm, level: number): import("node:stream").Transform {
  const opts = compressOptions(algorithm, level);
  switch (algorithm) {
    case "gzip":
      return zlib.createGzip(opts);
    case "deflate":
      return zlib.createDeflate(opts);
    case "brotli":
      return zlib.createBrotliCompress(opts);
    case "zstd":
      if (!z.createZstdCompress) throw zstdUnsupported();
      return z.createZstdCompress(opts);
  }
}

/** A decompressing transform stream. */
export function createDecompressor(algorithm: CompressionAlgorithm): import("node:stream").Transform {
  const opts = { chunkSize: STREAM_CHUNK };
  switch (algorithm) {
    case "gzip":
      return zlib.createGunzip(opts);
    case "deflate":
      return zlib.createInflate(opts);
    case "brotli":
      return zlib.createBrotliDecompress(opts);
    case "zstd":
      if (!z.createZstdDecompress) throw zstdUnsupported();
      return z.createZstdDecompress(opts);
  }
}

/** Validates a level for an algorithm. */
export function checkLevel(algorithm: CompressionAlgorithm, level: unknown, name: string): number {
  const range = LEVELS[algorithm];
  if (level === undefined) return range.default;
  if (typeof level !== "number" || !Number.isInteger(level) || level < range.min || level > range.max) {
    throw new StorageValidationError(`Invalid ${name} for ${algorithm}: expected an integer from ${range.min} to ${range.max}`);
  }
  return level;
}
