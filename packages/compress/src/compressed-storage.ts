import {
  checkOptionNames,
  ByteReader,
  collect,
  drain,
  entryContext,
  sliceRange,
  type DriverContext,
  ForwardingDriver,
  type LayerOptions,
  LayerStorage,
  type ObjectInfo,
  type Storage,
  type StorageCapabilities,
  StorageConfigError,
  type StorageDriver,
  StorageIntegrityError,
  type StoredEntry,
  type StoredStream,
  type WriteRequest,
  isStorageError,
} from "@pepperpy/storage-core";
import { Readable, pipeline } from "node:stream";
import { DecompressionBudget, sharedDecompressionBudget } from "./budget.js";
import { crc32 } from "./crc32.js";
import {
  type CompressionAlgorithm,
  HEADER_LENGTH,
  LEVELS,
  MAGIC,
  TRAILER_LENGTH,
  ZSTD_AVAILABLE,
  checkLevel,
  compressBuffer,
  createCompressor,
  createDecompressor,
  decodeHeader,
  decodeTrailer,
  decompressBuffer,
  encodeHeader,
  encodeTrailer,
  hasMagic,
  zstdUnsupported,
} from "./format.js";

declare module "@pepperpy/storage-core" {
  interface PutOptions {
    /**
     * The compression layer's level for this value (gzip/deflate 0–9, brotli 0–11, zstd
     * 1–22); default: the layer's `level`. Offered by `put` once `@pepperpy/storage-compress`
     * is installed and imported; other storages ignore it.
     */
    compressionLevel?: number | undefined;
  }
}

/** Default `threshold`: values smaller than this are stored uncompressed (headers cost more than they save). */
export const DEFAULT_THRESHOLD = 1024;
/** Default `maxDecompressedSize` when the layer has no `maxSize`: 64 MiB. */
export const DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024;

/** Options of {@link CompressedStorage}. */
export interface CompressedStorageOptions extends LayerOptions {
  /** Algorithm for new writes (default `gzip`). Reading always follows the header, whatever wrote it. */
  algorithm?: CompressionAlgorithm | undefined;
  /** Default level (gzip/deflate 0–9, default 6; brotli 0–11, default 4; zstd 1–22, default 3). Per put: `compressionLevel`. */
  level?: number | undefined;
  /** Values smaller than this many bytes are stored uncompressed (default 1024). */
  threshold?: number | undefined;
  /**
   * Largest decompressed value a read will produce, in bytes; a value that would grow past
   * it (a decompression bomb) fails with `StorageIntegrityError` after at most this many
   * bytes. Default: the layer's `maxSize`, else 64 MiB for reads that return the whole value
   * (`get`, `getBytes`, `getText`, `getJSON`) and no limit for `getStream`, which holds one
   * chunk at a time (so a value larger than 64 MiB stays readable as a stream). Given
   * explicitly, it bounds streams too. `Infinity` disables the guard.
   */
  maxDecompressedSize?: number | undefined;
  /**
   * The bytes that `get`s may decompress at once, across concurrent reads: a number (a budget
   * of this layer's own) or a {@link DecompressionBudget} shared with other layers. A read
   * that does not fit waits for earlier ones. Default: one budget of 256 MiB shared by every
   * `CompressedStorage` of the process ({@link sharedDecompressionBudget}).
   */
  decompressionBudget?: number | DecompressionBudget | undefined;
}

function bombError(limit: number): StorageIntegrityError {
  return new StorageIntegrityError(`Compressed value expands beyond maxDecompressedSize (${limit} bytes); refusing to decompress further`);
}

/** Native zlib errors (bad data, unexpected end) become integrity errors; storage errors pass through. */
function mapDecompressError(error: unknown, limit: number): unknown {
  if (isStorageError(error)) return error;
  const code = (error as { code?: unknown }).code;
  if (code === "ERR_BUFFER_TOO_LARGE") return bombError(limit);
  return new StorageIntegrityError(`Compressed value is corrupt or truncated (${(error as Error).message})`, { cause: error });
}

/**
 * True for formats whose decompressor verifies a checksum of the whole output itself: gzip
 * (CRC-32 and length of the output, the same CRC-32 as our trailer's) and deflate (zlib
 * format: Adler-32). zlib fails on a mismatch, so computing our trailer's CRC-32 again
 * would only read the value a second time (about 40 ms for 64 MiB here). The trailer's size
 * is still checked; brotli, zstd and stored payloads are checked against the CRC-32.
 */
function selfChecking(algorithm: CompressionAlgorithm | "stored"): boolean {
  return algorithm === "gzip" || algorithm === "deflate";
}

/** The driver of {@link CompressedStorage}: compresses on write, decompresses on read. */
export class CompressionDriver extends ForwardingDriver {
  readonly algorithm: CompressionAlgorithm;
  readonly level: number;
  readonly threshold: number;
  readonly maxDecompressedSize: number;
  /**
   * The limit of streamed reads: `maxDecompressedSize` when it (or `maxSize`) was given,
   * else none. A stream holds one chunk at a time, so a bomb costs only the CPU its reader
   * pulls for, and a large value written as a stream stays readable as one.
   */
  readonly maxStreamedSize: number;
  /** Bounds the bytes buffered reads decompress at once. */
  readonly budget: DecompressionBudget;

  constructor(
    inner: StorageDriver | Storage,
    options: {
      algorithm: CompressionAlgorithm;
      level: number;
      threshold: number;
      maxDecompressedSize: number;
      maxStreamedSize?: number | undefined;
      budget?: DecompressionBudget | undefined;
    },
  ) {
    super(inner, "compress");
    this.budget = options.budget ?? sharedDecompressionBudget;
    this.algorithm = options.algorithm;
    this.level = options.level;
    this.threshold = options.threshold;
    this.maxDecompressedSize = options.maxDecompressedSize;
    this.maxStreamedSize = options.maxStreamedSize ?? options.maxDecompressedSize;
  }

  override get capabilities(): StorageCapabilities {
    // A range of the value is a range of the decompressed bytes: the whole prefix is decompressed.
    return { ...this.inner.capabilities, rangeRead: false };
  }

  override async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const level = checkLevel(this.algorithm, req.options.compressionLevel ?? this.level, "compressionLevel");
    if (req.body instanceof Uint8Array) {
      // `req.body` is the core's own copy, taken when `put` was called: the CRC-32 and the
      // compressor read the same bytes, so the trailer always matches what was compressed.
      const body = await this.encode(req.body, level);
      // The layer made these bytes: they belong to the write (`owned`), nobody copies them again.
      const info = await super.write(key, { ...req, body, size: body.byteLength, owned: true }, ctx);
      return { ...info, size: req.body.byteLength };
    }
    const counter = { size: 0 };
    const info = await super.write(key, { ...req, body: this.encodeStream(req.body, level, counter), size: undefined }, ctx);
    return { ...info, size: counter.size };
  }

  /** Header, payload (compressed when that helps) and trailer of a buffered value. */
  private async encode(data: Uint8Array, level: number): Promise<Buffer> {
    const trailer = encodeTrailer(data.byteLength, crc32(data));
    if (data.byteLength >= this.threshold) {
      const compressed = await compressBuffer(this.algorithm, level, data);
      if (compressed.byteLength < data.byteLength) {
        return Buffer.concat([encodeHeader(this.algorithm), compressed, trailer]);
      }
    }
    return Buffer.concat([encodeHeader("stored"), data, trailer]);
  }

  /**
   * A streamed value: the first `threshold` bytes are buffered to decide; a stream that
   * ends before is stored, a longer one is compressed as it flows (constant memory).
   */
  private async *encodeStream(body: AsyncIterable<Uint8Array>, level: number, counter: { size: number }): AsyncGenerator<Buffer> {
    const reader = new ByteReader(body);
    await reader.fill(Math.max(this.threshold, 1));
    if (reader.ended && reader.buffered < Math.max(this.threshold, 1)) {
      const data = reader.take(reader.buffered);
      counter.size = data.byteLength;
      yield encodeHeader("stored");
      yield data;
      yield encodeTrailer(data.byteLength, crc32(data));
      return;
    }
    yield encodeHeader(this.algorithm);
    let size = 0;
    let crc = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of drain(reader)) {
        size += chunk.byteLength;
        crc = crc32(chunk, crc);
        yield chunk;
      }
    }
    const compressor = createCompressor(this.algorithm, level);
    pipeline(Readable.from(counted(), { objectMode: false }), compressor, () => undefined);
    for await (const out of compressor as AsyncIterable<Buffer>) yield out;
    counter.size = size;
    yield encodeTrailer(size, crc);
  }

  override async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const entry = await super.read(key, entryContext(ctx));
    if (!entry || !hasMagic(entry.data)) return entry;
    const data = await this.decode(entry.data, ctx.signal);
    return { info: { ...entry.info, size: data.byteLength }, data };
  }

  /** Decodes a whole stored object; memory stays bounded by the declared size and `maxDecompressedSize`. */
  private async decode(bytes: Uint8Array, signal: AbortSignal): Promise<Buffer> {
    const { algorithm } = decodeHeader(bytes);
    if (bytes.byteLength < HEADER_LENGTH + TRAILER_LENGTH) throw new StorageIntegrityError("Compressed value is truncated (no trailer)");
    const trailer = decodeTrailer(bytes.subarray(bytes.byteLength - TRAILER_LENGTH));
    if (trailer.size > this.maxDecompressedSize) throw bombError(this.maxDecompressedSize);
    const payload = Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_LENGTH, bytes.byteLength - HEADER_LENGTH - TRAILER_LENGTH);
    let data: Buffer;
    if (algorithm === "stored") data = payload;
    else {
      // Concurrent reads share one budget: each waits until its declared size fits.
      const release = await this.budget.acquire(trailer.size, signal);
      try {
        // The declared size bounds the output: a lying trailer stops zlib right there.
        data = await decompressBuffer(algorithm, payload, trailer.size);
      } catch (error) {
        const mapped = mapDecompressError(error, trailer.size);
        if (mapped instanceof StorageIntegrityError && (error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
          throw new StorageIntegrityError(`Compressed value expands beyond its declared size of ${trailer.size} bytes`, { cause: error });
        }
        throw mapped;
      } finally {
        release();
      }
    }
    if (data.byteLength !== trailer.size || (!selfChecking(algorithm) && crc32(data) !== trailer.crc)) {
      throw new StorageIntegrityError("Compressed value is corrupt (size or CRC-32 does not match its trailer)");
    }
    return data;
  }

  override async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const hasRange = range.start !== undefined || range.end !== undefined;
    for (let attempt = 0; ; attempt++) {
      const opened = await super.readStream(key, {}, ctx);
      if (!opened) return undefined;
      const reader = new ByteReader(opened.stream);
      let raw: boolean;
      let declared: number | undefined;
      let algorithm: CompressionAlgorithm | "stored" = "stored";
      try {
        await reader.fill(HEADER_LENGTH);
        raw = !hasMagic(reader.peek(Math.min(MAGIC.length, reader.buffered)));
        if (!raw) {
          algorithm = decodeHeader(reader.peek(Math.min(HEADER_LENGTH, reader.buffered))).algorithm;
          if (opened.info.size < HEADER_LENGTH + TRAILER_LENGTH) throw new StorageIntegrityError("Compressed value is truncated (no trailer)");
          declared = await this.readDeclaredSize(key, opened.info, ctx, true);
        }
      } catch (error) {
        await reader.close();
        throw error;
      }
      if (raw) {
        if (hasRange && this.inner.capabilities.rangeRead) {
          // A value written without the layer: let the backend read only the range.
          await reader.close();
          return super.readStream(key, range, ctx);
        }
        return { info: opened.info, stream: Readable.from(sliceRange(drain(reader), range.start, range.end), { objectMode: false }) };
      }
      if (declared === undefined) {
        // The object changed between the two reads; open it again.
        await reader.close();
        if (attempt < 2) continue;
        throw new StorageIntegrityError("Compressed value changed while it was being opened");
      }
      reader.take(HEADER_LENGTH);
      const decoded = this.decodeStream(reader, algorithm, declared);
      return {
        info: { ...opened.info, size: declared },
        stream: Readable.from(sliceRange(decoded, range.start, range.end), { objectMode: false }),
      };
    }
  }

  /**
   * The uncompressed size from the trailer, read with a ranged call; `undefined` when the
   * object changed since `info` was taken. Refuses bombs before any decompression.
   */
  private async readDeclaredSize(key: string, info: ObjectInfo, ctx: DriverContext, refuseBombs: boolean): Promise<number | undefined> {
    const tail = await super.readStream(key, { start: info.size - TRAILER_LENGTH, end: info.size - 1 }, ctx);
    // Gone since `info` was taken: it changed.
    if (!tail) return undefined;
    const bytes = await collect(tail.stream);
    if (tail.info.size !== info.size || (info.etag !== undefined && tail.info.etag !== info.etag)) return undefined;
    if (bytes.byteLength !== TRAILER_LENGTH) throw new StorageIntegrityError("Compressed value is truncated (no trailer)");
    const { size } = decodeTrailer(bytes);
    if (refuseBombs && size > this.maxStreamedSize) throw bombError(this.maxStreamedSize);
    return size;
  }

  /** Decompresses the payload as it streams, withholding the trailer and checking it at the end. */
  private async *decodeStream(reader: ByteReader, algorithm: CompressionAlgorithm | "stored", declared: number): AsyncGenerator<Buffer> {
    const limit = Math.min(declared, this.maxStreamedSize);
    let trailer: Buffer | undefined;
    async function* payload(): AsyncGenerator<Buffer> {
      for (;;) {
        for (const chunk of reader.takeChunksKeeping(TRAILER_LENGTH)) yield chunk;
        if (!(await reader.pull())) break;
      }
      if (reader.buffered !== TRAILER_LENGTH) throw new StorageIntegrityError("Compressed value is truncated (no trailer)");
      trailer = reader.take(TRAILER_LENGTH);
    }
    let size = 0;
    let crc = 0;
    const checked = selfChecking(algorithm);
    let source: AsyncIterable<Buffer>;
    if (algorithm === "stored") source = payload();
    else {
      const decompressor = createDecompressor(algorithm);
      pipeline(Readable.from(payload(), { objectMode: false }), decompressor, () => undefined);
      source = decompressor;
    }
    try {
      for await (const chunk of source) {
        size += chunk.byteLength;
        if (size > limit) {
          throw size > this.maxStreamedSize
            ? bombError(this.maxStreamedSize)
            : new StorageIntegrityError(`Compressed value expands beyond its declared size of ${declared} bytes`);
        }
        if (!checked) crc = crc32(chunk, crc);
        yield chunk;
      }
    } catch (error) {
      throw mapDecompressError(error, this.maxStreamedSize);
    } finally {
      await reader.close();
    }
    if (!trailer) throw new StorageIntegrityError("Compressed value is truncated (no trailer)");
    const expected = decodeTrailer(trailer);
    if (size !== expected.size || (!checked && crc >>> 0 !== expected.crc)) {
      throw new StorageIntegrityError("Compressed value is corrupt (size or CRC-32 does not match its trailer)");
    }
  }

  override async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const head = await super.readStream(key, { start: 0, end: HEADER_LENGTH - 1 }, ctx);
      if (!head) return undefined;
      const bytes = await collect(head.stream);
      if (!hasMagic(bytes)) return head.info;
      decodeHeader(bytes);
      if (head.info.size < HEADER_LENGTH + TRAILER_LENGTH) throw new StorageIntegrityError("Compressed value is truncated (no trailer)");
      // `stat` reports what the value declares, even beyond maxDecompressedSize.
      const size = await this.readDeclaredSize(key, head.info, ctx, false);
      if (size !== undefined) return { ...head.info, size };
    }
    throw new StorageIntegrityError("Compressed value changed while it was being read");
  }
}

/**
 * A layer that compresses values before they reach the wrapped storage. Every object it
 * writes starts with a small versioned header naming the algorithm, so reading never
 * guesses and objects written with one algorithm stay readable after switching to another;
 * objects written without the layer read back unchanged.
 *
 * `stat().size` and the `size` returned by `put` are the uncompressed (logical) size; list
 * and `iterate` entries report the stored size (reading every header would cost a call per key).
 *
 * @example
 * const storage = new CompressedStorage({ backend: new FileStorage("/data"), algorithm: "brotli" });
 * await storage.put("logs/today", text, { compressionLevel: 9 });
 */
export class CompressedStorage extends LayerStorage<CompressionDriver> {
  constructor(options: CompressedStorageOptions) {
    checkOptionNames(options, ["backend", "algorithm", "level", "threshold", "maxDecompressedSize", "decompressionBudget"], "CompressedStorage");
    if (!options || typeof options !== "object" || !options.backend) throw new StorageConfigError("CompressedStorage needs { backend }");
    const algorithm = options.algorithm ?? "gzip";
    if (!(algorithm in LEVELS)) {
      throw new StorageConfigError(`Invalid algorithm "${String(algorithm)}": expected one of ${Object.keys(LEVELS).join(", ")}`);
    }
    if (algorithm === "zstd" && !ZSTD_AVAILABLE) throw zstdUnsupported();
    let level: number;
    try {
      level = checkLevel(algorithm, options.level, "level");
    } catch (error) {
      throw new StorageConfigError((error as Error).message);
    }
    const threshold = options.threshold ?? DEFAULT_THRESHOLD;
    if (typeof threshold !== "number" || Number.isNaN(threshold) || threshold < 0) {
      throw new StorageConfigError("Invalid threshold: expected a non-negative number of bytes");
    }
    const explicitLimit = options.maxDecompressedSize ?? options.maxSize;
    const maxDecompressedSize = explicitLimit ?? DEFAULT_MAX_DECOMPRESSED_SIZE;
    if (typeof maxDecompressedSize !== "number" || Number.isNaN(maxDecompressedSize) || maxDecompressedSize <= 0) {
      throw new StorageConfigError("Invalid maxDecompressedSize: expected a positive number of bytes");
    }
    const budgetOption = options.decompressionBudget;
    let budget: DecompressionBudget | undefined;
    if (budgetOption instanceof DecompressionBudget) budget = budgetOption;
    else if (budgetOption !== undefined) {
      if (typeof budgetOption !== "number" || Number.isNaN(budgetOption) || budgetOption <= 0) {
        throw new StorageConfigError("Invalid decompressionBudget: expected a positive number of bytes or a DecompressionBudget");
      }
      budget = new DecompressionBudget(budgetOption);
    }
    const maxStreamedSize = explicitLimit ?? Number.POSITIVE_INFINITY;
    super(new CompressionDriver(options.backend, { algorithm, level, threshold, maxDecompressedSize, maxStreamedSize, budget }), options);
  }

  /** The algorithm new writes use. */
  get algorithm(): CompressionAlgorithm {
    return this.driver.algorithm;
  }
}
