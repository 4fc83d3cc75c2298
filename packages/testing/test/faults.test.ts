import { StorageConflictError, type StorageError, StorageTimeoutError, StorageUnavailableError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";
import { FaultStorage, describeStorageConformance, withFaults } from "../src/index.js";

// Without faults the layer is transparent: it passes the whole suite.
describeStorageConformance("faults(memory) with no faults", ({ clock }) => withFaults(new MemoryStorage({ clock: clock.now }), { clock: clock.now }));
// With small random latency too (ordering and timeouts still hold).
describeStorageConformance("faults(memory) with 0-2 ms latency", ({ clock }) => withFaults(new MemoryStorage({ clock: clock.now }), { latency: [0, 2], seed: 9, clock: clock.now }), {
  skip: {
    "pagination: more than 1000 keys are all listed": "because 2000+ delayed calls only make the run slow; the no-latency run covers it",
  },
});

async function outcomes(storage: FaultStorage, n: number): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await storage.exists("k").then(
        () => true,
        () => false,
      ),
    );
  }
  return out;
}

describe("FaultStorage", () => {
  it("fails a share of calls close to failureRate, the same way for the same seed", async () => {
    const a = withFaults(new MemoryStorage(), { failureRate: 0.3, seed: 42 });
    const b = withFaults(new MemoryStorage(), { failureRate: 0.3, seed: 42 });
    const c = withFaults(new MemoryStorage(), { failureRate: 0.3, seed: 43 });
    const ra = await outcomes(a, 400);
    expect(await outcomes(b, 400)).toStrictEqual(ra);
    expect(await outcomes(c, 400)).not.toStrictEqual(ra);
    const failed = ra.filter((ok) => !ok).length;
    expect(failed).toBe(a.injectedFaults);
    expect(failed).toBeGreaterThan(80);
    expect(failed).toBeLessThan(160);
    expect(a.stats.calls).toBe(400);
    expect(a.stats.byOperation.stat).toBe(failed);
  });

  it("failOn { call: N } fails exactly the Nth driver call", async () => {
    const storage = withFaults(new MemoryStorage(), { failOn: { call: 3 } });
    expect(await outcomes(storage, 5)).toStrictEqual([true, true, false, true, true]);
    const many = withFaults(new MemoryStorage(), { failOn: { call: [1, 4] } });
    expect(await outcomes(many, 5)).toStrictEqual([false, true, true, false, true]);
  });

  it("a predicate sees the driver operation, the public operation and the key", async () => {
    const seen: string[] = [];
    const storage = withFaults(new MemoryStorage(), {
      failOn: (c) => {
        seen.push(`${c.operation}:${c.publicOperation}:${c.key}`);
        return c.operation === "write" && c.key === "bad";
      },
    });
    await storage.put("good", "1");
    await expect(storage.put("bad", "1")).rejects.toBeInstanceOf(StorageUnavailableError);
    await storage.getText("good");
    expect(seen).toStrictEqual(["write:put:good", "write:put:bad", "read:getText:good"]);
    expect(await storage.backend.exists("bad"), "an injected write failure stores nothing").toBe(false);
  });

  it("the default error is a retryable StorageUnavailableError naming the layer", async () => {
    const storage = withFaults(new MemoryStorage(), { failOn: () => true });
    const error = (await storage.get("k").catch((e: unknown) => e)) as StorageError;
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error.retryable).toBe(true);
    expect(error.key).toBe("k");
    expect(error.message).toContain("faults(memory)");
  });

  it("a custom error factory is used", async () => {
    const storage = withFaults(new MemoryStorage(), { failOn: () => true, error: () => new StorageConflictError("custom") });
    await expect(storage.put("k", "v")).rejects.toBeInstanceOf(StorageConflictError);
  });

  it("operations restricts faults to some driver calls", async () => {
    const storage = withFaults(new MemoryStorage(), { failureRate: 1, operations: ["delete"] });
    await storage.put("k", "v");
    expect(await storage.get("k")).toBe("v");
    await expect(storage.delete("k")).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it("latency delays calls and a timeout cuts the wait short", async () => {
    const storage = withFaults(new MemoryStorage(), { latency: 10_000 });
    const error = await storage.put("k", "v", { timeout: 30 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageTimeoutError);
    storage.enabled = false;
    expect(await storage.exists("k"), "a timed-out delayed put stores nothing").toBe(false);
  });

  it("enabled = false passes calls through uncounted", async () => {
    const storage = withFaults(new MemoryStorage(), { failureRate: 1 });
    storage.enabled = false;
    await storage.put("k", "v");
    storage.enabled = true;
    await expect(storage.get("k")).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(storage.stats.calls).toBe(1);
  });

  it("rejects invalid options", () => {
    expect(() => withFaults(new MemoryStorage(), { failureRate: 2 })).toThrow(/failureRate/);
    expect(() => withFaults(new MemoryStorage(), { latency: [5, 1] })).toThrow(/latency/);
    expect(new FaultStorage({ backend: new MemoryStorage() }).name).toBe("faults(memory)");
  });
});
