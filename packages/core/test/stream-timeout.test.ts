import { StorageTimeoutError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function* chunks(count: number, gapMs: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < count; i++) {
    await sleep(gapMs);
    yield new Uint8Array(1024).fill(i);
  }
}

describe("timeouts of streamed puts", () => {
  it("a stream that keeps moving may take longer than the timeout in all", async () => {
    const storage = new MemoryStorage({ timeout: 300 });
    const started = performance.now();
    await storage.put("moving", chunks(20, 25));
    expect(performance.now() - started).toBeGreaterThan(300);
    expect((await storage.getBytes("moving")).byteLength).toBe(20 * 1024);
  });

  it("a stream that stalls longer than the timeout fails and stores nothing", async () => {
    const storage = new MemoryStorage({ timeout: 100 });
    async function* stalls(): AsyncIterable<Uint8Array> {
      yield new Uint8Array(10);
      await sleep(400);
      yield new Uint8Array(10);
    }
    await expect(storage.put("stalled", stalls())).rejects.toBeInstanceOf(StorageTimeoutError);
    await sleep(450);
    expect(await storage.exists("stalled")).toBe(false);
  });
});
