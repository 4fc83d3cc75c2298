import {
  createStorage,
  registerLayer,
  type Storage,
  StorageAbortedError,
  StorageTimeoutError,
} from "@pepperpy/storage-core";
import { CachedStorage } from "@pepperpy/storage-cache";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { RetryStorage } from "@pepperpy/storage-retry";
import { withFaults } from "@pepperpy/storage-testing";
import { describe, expect, it } from "vitest";
import { MetricsStorage } from "../src/index.js";

declare module "@pepperpy/storage-core" {
  interface LayerConfigTypes {
    alwaysFailing: {};
  }
}

/** metrics(cache(retry(faults(memory)))): the default order, over a backend we can slow down. */
function stack(faults: Parameters<typeof withFaults>[1] = {}) {
  const memory = new MemoryStorage();
  const slow = withFaults(memory, faults);
  const retry = new RetryStorage({ backend: slow, maxRetries: 3, delay: 5 });
  const cache = new CachedStorage({ backend: retry });
  const metrics = new MetricsStorage({ backend: cache });
  return { memory, slow, retry, cache, metrics };
}

/** A stream that yields a chunk, then waits `gapMs` before each next one; `done` resolves when the producer stops. */
function slowStream(chunks: number, gapMs: number) {
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < chunks; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        yield Buffer.alloc(1024, i);
      }
    } finally {
      finish();
    }
  }
  return { stream: gen(), done };
}

async function nothingStored(storages: Storage[], key: string): Promise<void> {
  for (const s of storages) expect(await s.exists(key)).toBe(false);
}

describe("timeouts and aborts end to end through metrics, cache and retry", () => {
  it("a read slower than its timeout rejects with StorageTimeoutError at the top, and the backend's wait is aborted", async () => {
    const { memory, slow, metrics } = stack({ latency: 10_000, operations: ["read"] });
    await memory.put("k", "v");
    await expect(metrics.get("k", { timeout: 50 })).rejects.toBeInstanceOf(StorageTimeoutError);
    expect(slow.stats.calls).toBe(1); // timeouts of the whole call are not retried
    expect(metrics.getMetrics().errors).toEqual({ TIMEOUT: 1 });
  });

  it("a slow streamed put that times out stores nothing at any level", async () => {
    const { memory, cache, retry, metrics } = stack();
    // For a streamed put the timeout bounds the wait for the next chunk: this stream stalls longer.
    const { stream, done } = slowStream(5, 300);
    await expect(metrics.put("big", stream, { timeout: 100 })).rejects.toBeInstanceOf(StorageTimeoutError);
    await done;
    await nothingStored([memory, retry, cache, metrics], "big");
  });

  it("aborting a streamed put rejects with StorageAbortedError and stores nothing", async () => {
    const { memory, metrics } = stack();
    const { stream, done } = slowStream(50, 20);
    const controller = new AbortController();
    const put = metrics.put("big", stream, { signal: controller.signal });
    setTimeout(() => controller.abort(), 60);
    await expect(put).rejects.toBeInstanceOf(StorageAbortedError);
    await done;
    await nothingStored([memory, metrics], "big");
  });

  it("the timeout bounds retries and their sleeps: a failing backend is not called after the call timed out", async () => {
    const { slow } = stack({ failureRate: 1 });
    const slowRetry = new MetricsStorage({ backend: new RetryStorage({ backend: slow, maxRetries: 50, delay: 1_000, random: () => 0.99 }) });
    await expect(slowRetry.put("k", "v", { timeout: 100 })).rejects.toBeInstanceOf(StorageTimeoutError);
    const calls = slow.stats.calls;
    await new Promise((r) => setTimeout(r, 1_200));
    expect(slow.stats.calls).toBe(calls);
  });

  it("a config timeout bounds a whole call of the built stack, retries and sleeps included", async () => {
    // A layer below retry that fails every call, registered like any third-party layer.
    // Typed as a plugin package types its layer: by declaration merging (see the top of this file).
    registerLayer({ name: "alwaysFailing", order: 60, create: (backend) => withFaults(backend, { failureRate: 1 }) });
    const storage = await createStorage({
      type: "memory",
      timeout: 50,
      options: { metrics: true, cache: true, retry: { max: 10, delay: 1_000 }, alwaysFailing: true },
    });
    expect(storage.name).toBe("metrics(cache(retry(faults(memory))))");
    // Without the timeout on the layers, each attempt would be bounded but the call would
    // sleep through ten retries (minutes) and end with StorageUnavailableError.
    await expect(storage.put("k", "v")).rejects.toBeInstanceOf(StorageTimeoutError);
    await expect(storage.get("k")).rejects.toBeInstanceOf(StorageTimeoutError);
    expect((storage as MetricsStorage).getMetrics().errors).toEqual({ TIMEOUT: 2 });
  });
});
