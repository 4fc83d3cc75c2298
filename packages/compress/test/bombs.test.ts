import { StorageIntegrityError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { CompressedStorage, DecompressionBudget, MAGIC, sharedDecompressionBudget } from "../src/index.js";

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

describe("defaults against a brotli bomb (issue 15)", () => {
  const GiB = 1024 * MiB;
  // 1 GiB of zeros, brotli quality 5, window 2^24: 809 bytes (`BROTLI_PARAM_SIZE_HINT` 1 GiB).
  // With its 21-byte header and trailer the stored object is 830 bytes.
  const payload = readFileSync(new URL("./fixtures/brotli-1gib-zeros.br", import.meta.url));

  it("an 830-byte object that expands to 1 GiB, read twice at once with the defaults, fails fast with bounded memory", async () => {
    const inner = new MemoryStorage();
    const storage = new CompressedStorage({ backend: inner, algorithm: "brotli" });
    await inner.put("bomb", wrap(3, payload, GiB));
    const started = performance.now();
    const { error, peak } = await peakRss(() => Promise.all([storage.get("bomb"), storage.getBytes("bomb")]));
    const ms = performance.now() - started;
    console.log(`[figures] 830-byte brotli bomb read twice at once: ${ms.toFixed(0)} ms, peak RSS delta ${(peak / MiB).toFixed(1)} MiB`);
    expect(error).toBeInstanceOf(StorageIntegrityError);
    expect((error as Error).message).toMatch(/maxDecompressedSize \(67108864 bytes\)/);
    expect(ms, "refused from the trailer, before any decompression").toBeLessThan(1000);
    expect(peak).toBeLessThan(64 * MiB);
  });

  it("with a trailer that lies, concurrent reads share one budget: memory stays at the budget, not reads × limit", async () => {
    const inner = new MemoryStorage();
    const budget = new DecompressionBudget(16 * MiB);
    const storage = new CompressedStorage({ backend: inner, maxDecompressedSize: 16 * MiB, decompressionBudget: budget });
    await inner.put("bomb", wrap(3, payload, 16 * MiB));
    const { error, peak } = await peakRss(() =>
      Promise.allSettled(Array.from({ length: 4 }, () => storage.get("bomb"))).then((all) => {
        for (const r of all) if (r.status === "fulfilled" || !(r.reason instanceof StorageIntegrityError)) throw new Error(`a read did not fail with StorageIntegrityError: ${String(r.status === "rejected" ? r.reason : "resolved")}`);
      }),
    );
    expect(error).toBeUndefined();
    console.log(`[figures] 4 concurrent reads of a lying bomb, budget 16 MiB: budget peak ${(budget.peak / MiB).toFixed(0)} MiB, peak RSS delta ${(peak / MiB).toFixed(1)} MiB`);
    // One decompression at a time: the budget never held more than one read's 16 MiB
    // (RSS is reported, not asserted: the failed reads' buffers linger until a GC).
    expect(budget.peak).toBe(16 * MiB);
    expect(budget.inUse).toBe(0);
  });

  it("the shared default budget is used when none is given, and a waiting read can be aborted", async () => {
    const budget = new DecompressionBudget(10);
    const release = await budget.acquire(8);
    const controller = new AbortController();
    const waiting = budget.acquire(5, controller.signal);
    const next = budget.acquire(2);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: expect.stringMatching(/ABORT/) });
    // The aborted waiter no longer blocks the next one.
    (await next)();
    release();
    expect(budget.inUse).toBe(0);
    const storage = new CompressedStorage({ backend: new MemoryStorage() });
    expect(storage.backend).toBeDefined();
    expect((storage as unknown as { driver: { budget: DecompressionBudget } }).driver.budget).toBe(sharedDecompressionBudget);
  });

  it("a value larger than the default limit is refused by get but still reads back as a stream", async () => {
    const storage = new CompressedStorage({ backend: new MemoryStorage(), level: 1 });
    const size = 65 * MiB;
    async function* zeros(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < size / MiB; i++) yield Buffer.alloc(MiB);
    }
    await storage.put("big", zeros());
    await expect(storage.get("big")).rejects.toThrow(/maxDecompressedSize/);
    let total = 0;
    for await (const chunk of await storage.getStream("big")) total += (chunk as Buffer).byteLength;
    expect(total).toBe(size);
  }, 60_000);
});
