/** Seed "Advanced Features › Memory Cache": an LRU in front of any storage. */
import assert from "node:assert/strict";
import { CachedStorage } from "@pepperpy/storage";
import { type Example, runAsScript } from "./support.js";

export const cache: Example = {
  title: "Memory cache",
  file: "examples/cache.ts",
  section: "Advanced Features › Memory Cache",
  async run({ backend, log }) {
    // Create cached storage
    const storage = new CachedStorage({ backend, cacheSize: 1000 });
    // Store with caching
    await storage.put("cache/user", { name: "John" });

    // Read from cache: the first read fills it, the next ones never reach the backend
    const first = await storage.get<{ name: string }>("cache/user");
    await storage.get("cache/user");
    const user = await storage.get<{ name: string }>("cache/user");
    log(`User: ${user.name}`);
    // `loads` counts the reads that went to the backend to fill the cache.
    const stats = storage.getCacheStats();
    log(`3 reads: ${stats.hits} from the cache, ${stats.loads} from ${backend.name}`);
    assert.deepEqual(first, { name: "John" });
    assert.equal(stats.loads, 1);

    // A write through the cache is never followed by a stale read
    await storage.put("cache/user", { name: "Jane" });
    const updated = await storage.get<{ name: string }>("cache/user");
    log(`after put {name: "Jane"}: User: ${updated.name}`);
    assert.equal(updated.name, "Jane");
  },
};

runAsScript(import.meta.url, cache);
