import { CompositeStorage, type DriverContext, ForwardingDriver, LayerStorage, type Storage, type StoredEntry } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { withFaults } from "@pepperpy/storage-testing";
import { describe, expect, it } from "vitest";

// Issue 15 item 5: concurrent writes of one key through one composite reach every tier in
// the same order, so the tiers never hold different values once the writes settle.

/** Reads the inner storage at once, then holds the answer back: a response that is slow to arrive. */
class SlowAnswers extends ForwardingDriver {
  constructor(
    inner: Storage,
    private readonly ms: number,
  ) {
    super(inner, "slow-answers");
  }
  override async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const entry = await super.read(key, ctx);
    await new Promise((resolve) => setTimeout(resolve, this.ms));
    return entry;
  }
}

describe("CompositeStorage write order", () => {
  it("60 rounds of three concurrent puts of one key over two tiers with latency leave the tiers equal", async () => {
    const tier0 = new MemoryStorage();
    const tier1 = new MemoryStorage();
    // Different seeds: each tier delays each write by its own random 0–6 ms, as two real backends do.
    const composite = new CompositeStorage([withFaults(tier0, { latency: [0, 6], seed: 11 }), withFaults(tier1, { latency: [0, 6], seed: 29 })]);
    let diverged = 0;
    for (let round = 0; round < 60; round++) {
      const key = `k/${round}`;
      await Promise.all([composite.put(key, "a"), composite.put(key, "b"), composite.put(key, "c")]);
      const [v0, v1] = [await tier0.getText(key), await tier1.getText(key)];
      if (v0 !== v1) diverged++;
      // The last write issued wins on every tier.
      expect(await composite.getText(key)).toBe(v0);
    }
    expect(diverged).toBe(0);
    // And every tier holds the value of the write issued last.
    expect(await tier0.getText("k/59")).toBe("c");
    expect(await tier1.getText("k/59")).toBe("c");
  });

  it("puts and deletes of one key interleaved keep the tiers equal", async () => {
    const tier0 = new MemoryStorage();
    const tier1 = new MemoryStorage();
    const composite = new CompositeStorage([withFaults(tier0, { latency: [0, 6], seed: 3 }), withFaults(tier1, { latency: [0, 6], seed: 5 })]);
    let diverged = 0;
    for (let round = 0; round < 40; round++) {
      const key = `d/${round}`;
      const deleteLast = round % 2 === 0;
      await Promise.all(deleteLast ? [composite.put(key, "a"), composite.delete(key)] : [composite.delete(key), composite.put(key, "a")]);
      const [e0, e1] = [await tier0.exists(key), await tier1.exists(key)];
      if (e0 !== e1) diverged++;
      expect(e0).toBe(!deleteLast);
    }
    expect(diverged).toBe(0);
  });

  it("a read repair never writes a value older than a put that started after the read", async () => {
    const tier0 = new MemoryStorage();
    const slowTier1 = new MemoryStorage();
    await slowTier1.put("r", "old");
    // Tier 1 answers reads late, so a put of the key lands after the read saw "old".
    const composite = new CompositeStorage([tier0, new LayerStorage(new SlowAnswers(slowTier1, 20))]);
    const read = composite.getText("r");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await composite.put("r", "new");
    expect(await read).toBe("old");
    // The repair of "old" into tier 0 would have overwritten the newer put.
    expect(await tier0.getText("r")).toBe("new");
    expect(await slowTier1.getText("r")).toBe("new");
  });
});
