import { StorageIntegrityError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { CompressedStorage, MAGIC } from "../src/index.js";

const MiB = 1024 * 1024;
const BOMB_SIZE = 200 * MiB;
const LIMIT = 16 * MiB;

/** Streams 200 MiB of zeros through a compressor without ever holding them: returns the compressed bytes. */
async function compressZeros(create: () => zlib.Gzip | zlib.BrotliCompress): Promise<Buffer> {
  const z = create();
  const out: Buffer[] = [];
  z.on("data", (c: Buffer) => out.push(c));
  const done = new Promise((resolve, reject) => {
    z.on("end", resolve);
    z.on("error", reject);
  });
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < BOMB_SIZE / MiB; i++) {
    if (!z.write(zeros)) await new Promise((r) => z.once("drain", r));
  }
  z.end();
  await done;
  return Buffer.concat(out);
}

/** A layer object around a compressed payload with a trailer declaring `declared` bytes. */
function wrap(algorithmId: number, payload: Buffer, declared: number): Buffer {
  const trailer = Buffer.alloc(12);
  trailer.writeBigUInt64BE(BigInt(declared), 0);
  return Buffer.concat([MAGIC, Buffer.from([1, algorithmId, 0]), payload, trailer]);
}

/** Runs `fn` while sampling RSS; returns the peak increase over the start. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T | undefined; error: unknown; peak: number }> {
  global.gc?.();
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const result = await fn();
    return { result, error: undefined, peak: Math.max(peak, process.memoryUsage().rss) - start };
  } catch (error) {
    return { result: undefined, error, peak: Math.max(peak, process.memoryUsage().rss) - start };
  } finally {
    clearInterval(timer);
  }
}

describe.each([
  ["gzip", 1, () => zlib.createGzip({ level: 9 })],
  ["brotli", 3, () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } })],
] as const)("%s bomb of 200 MiB of zeros", (name, id, create) => {
  let bomb: Buffer;

  it("is refused before any work when its trailer is honest (buffer and stream)", async () => {
    bomb = await compressZeros(create);
    console.log(`[figures] ${name} bomb: 200 MiB of zeros compress to ${bomb.length} bytes`);
    const inner = new MemoryStorage();
    const storage = new CompressedStorage({ backend: inner, maxDecompressedSize: LIMIT });
    await inner.put("bomb", wrap(id, bomb, BOMB_SIZE));
    await expect(storage.get("bomb")).rejects.toBeInstanceOf(StorageIntegrityError);
    await expect(storage.getStream("bomb")).rejects.toThrow(/maxDecompressedSize/);
  });

  it("stops at maxDecompressedSize on the buffer path when its trailer lies, with bounded memory", async () => {
    const inner = new MemoryStorage();
    const storage = new CompressedStorage({ backend: inner, maxDecompressedSize: LIMIT });
    await inner.put("bomb", wrap(id, bomb, LIMIT));
    const { error, peak } = await peakRss(() => storage.get("bomb"));
    expect(error).toBeInstanceOf(StorageIntegrityError);
    console.log(`[figures] ${name} bomb, buffer path: stopped (${(error as Error).message.split(" [")[0]}); peak RSS delta ${(peak / MiB).toFixed(1)} MiB`);
    expect(peak, "memory stays near the limit, far below 200 MiB").toBeLessThan(LIMIT * 5);
  });

  it("stops at maxDecompressedSize on the stream path when its trailer lies, with bounded memory", async () => {
    const inner = new MemoryStorage();
    const storage = new CompressedStorage({ backend: inner, maxDecompressedSize: LIMIT });
    await inner.put("bomb", wrap(id, bomb, LIMIT));
    let produced = 0;
    const { error, peak } = await peakRss(async () => {
      for await (const chunk of await storage.getStream("bomb")) produced += (chunk as Buffer).byteLength;
    });
    expect(error).toBeInstanceOf(StorageIntegrityError);
    expect(produced).toBeLessThanOrEqual(LIMIT);
    console.log(`[figures] ${name} bomb, stream path: ${produced} bytes released before the stop; peak RSS delta ${(peak / MiB).toFixed(1)} MiB`);
    expect(peak).toBeLessThan(64 * MiB);
  });
});
