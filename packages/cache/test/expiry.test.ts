import { MemoryStorage } from "@pepperpy/storage-memory";
import { manualClock } from "@pepperpy/storage-testing";
import { describe, expect, it } from "vitest";
import { CachedStorage } from "../src/index.js";

describe("CachedStorage and expiry", () => {
  it("never serves a cached value past its deadline: exists, stat, get and streams of a hit", async () => {
    const clock = manualClock();
    const backend = new MemoryStorage({ clock: clock.now });
    // The cache's own ttl (10 min) is longer than the value's (1 min): the shorter one wins.
    const cache = new CachedStorage({ backend, ttl: 600_000, clock: clock.now });
    await backend.put("k", "v", { ttl: 60_000 });
    expect(await cache.get("k")).toBe("v");
    expect(cache.getCacheStats().entries).toBe(1);
    await clock.advance(60_000);
    expect(await cache.exists("k"), "an exists hit checks the deadline").toBe(false);
    await expect(cache.stat("k")).rejects.toThrow(/not found/i);
    await expect(cache.get("k")).rejects.toThrow(/not found/i);
    await expect(cache.getStream("k")).rejects.toThrow(/not found/i);
    expect(cache.getCacheStats().entries, "the expired entry was dropped").toBe(0);
  });

  it("a value rewritten behind the cache after the cached one expired is read afresh", async () => {
    const clock = manualClock();
    const backend = new MemoryStorage({ clock: clock.now });
    const cache = new CachedStorage({ backend, clock: clock.now });
    await cache.put("k", "old", { ttl: 1000 });
    expect(await cache.get("k")).toBe("old");
    await clock.advance(1000);
    await backend.put("k", "new");
    expect(await cache.get("k")).toBe("new");
  });

  it("defaultTtl on the cache layer resolves the deadline and hands it to the backend", async () => {
    const clock = manualClock();
    const backend = new MemoryStorage({ clock: clock.now });
    const cache = new CachedStorage({ backend, defaultTtl: 5000, clock: clock.now });
    const info = await cache.put("k", "v");
    expect((await backend.stat("k")).expiresAt?.getTime()).toBe(info.expiresAt!.getTime());
    await clock.advance(5000);
    // (Listing hides it; a read would also drop it from memory, which would leave nothing to purge.)
    expect(await backend.list()).toStrictEqual([]);
    expect(await cache.purgeExpired()).toBe(1);
  });
});
