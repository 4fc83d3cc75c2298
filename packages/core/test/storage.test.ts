import { StorageAbortedError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { afterEach, describe, expect, it } from "vitest";
import { withFaults } from "@pepperpy/storage-testing";

describe("BaseStorage batches with a caller's signal", () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  afterEach(() => {
    process.off("warning", onWarning);
    warnings.length = 0;
  });

  it("add one listener to the caller's signal, not one per key (no MaxListeners warning)", async () => {
    process.on("warning", onWarning);
    const storage = new MemoryStorage();
    const { signal } = new AbortController();
    const entries = Array.from({ length: 64 }, (_, i) => [`k${i}`, i] as const);
    await storage.putMany(entries, { signal });
    expect(await storage.getMany(entries.map(([k]) => k), { signal })).toHaveLength(64);
    // A layer forwards deleteMany to the inner storage's deleteMany with the call's signal.
    const layered = withFaults(storage);
    await layered.deleteMany(
      entries.map(([k]) => k),
      { signal },
    );
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toStrictEqual([]);
    expect(await storage.list()).toStrictEqual([]);
  });

  it("an abort during a batch still reaches every call", async () => {
    const storage = withFaults(new MemoryStorage(), { latency: 10_000 });
    const controller = new AbortController();
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const batch = storage.putMany(
      keys.map((k) => [k, "v"] as const),
      { signal: controller.signal, concurrency: 40 },
    );
    setTimeout(() => controller.abort(), 10);
    await expect(batch).rejects.toBeInstanceOf(StorageAbortedError);
    storage.enabled = false;
    expect(await storage.list()).toStrictEqual([]);
  });
});
