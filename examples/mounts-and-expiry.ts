/** SPEC §11: a mount (memory under "cache/", the tour's backend for the rest), a prefixed view, and expiry. */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryStorage, MountStorage } from "@pepperpy/storage";
import { type Example, runAsScript } from "./support.js";

export const mountsAndExpiry: Example = {
  title: "Mounts, namespaces and expiry",
  file: "examples/mounts-and-expiry.ts",
  section: "Expiry, namespaces and mounts (SPEC §11)",
  async run({ backend, log }) {
    const cache = new MemoryStorage();
    // Every key under "cache/" lives in memory; every other key in the backend (under "mounts/").
    const storage = new MountStorage({ "": backend.withPrefix("mounts/"), "cache/": cache });

    await storage.put("reports/2025.json", { total: 3 });
    await storage.put("cache/session", { user: 1 });
    log(`list -> ${JSON.stringify(await storage.list())} (memory holds ${JSON.stringify(await cache.list())})`);
    assert.deepEqual(await storage.list(), ["cache/session", "reports/2025.json"]);

    // A namespace: a view of "reports/" with relative keys.
    const reports = storage.withPrefix("reports/");
    log(`reports view: list -> ${JSON.stringify(await reports.list())}`);
    assert.deepEqual(await reports.list(), ["2025.json"]);

    // Copy across mounts: streamed from the backend into memory.
    await storage.copy("reports/2025.json", "cache/report");
    log(`copied into the cache mount: ${JSON.stringify(await storage.get("cache/report"))}`);

    // Expiry: from its deadline a value is absent to every read, list and batch.
    await storage.put("cache/session", { user: 1 }, { ttl: 1000 }); // expires in a second
    const { expiresAt } = await storage.stat("cache/session");
    log(`session expires at ${expiresAt?.toISOString()}`);
    await sleep(1100);
    const alive = await storage.exists("cache/session");
    log(`after its ttl: exists "cache/session" -> ${alive}`);
    assert.equal(alive, false);

    await storage.deleteMany(await storage.list());
    await storage.close(); // closes the memory mount; the view leaves the backend open
  },
};

runAsScript(import.meta.url, mountsAndExpiry);
