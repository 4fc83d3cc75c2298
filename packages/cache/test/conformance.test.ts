import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";
import { CachedStorage } from "../src/index.js";

describeStorageConformance("cache(memory)", ({ clock }) => new CachedStorage({ backend: new MemoryStorage({ clock: clock.now }), clock: clock.now }));
// A tiny cache: evictions and byte bounds happen throughout the suite.
describeStorageConformance("cache(memory), tiny cache", ({ clock }) =>
  new CachedStorage({ backend: new MemoryStorage({ clock: clock.now }), cacheSize: 3, maxBytes: 64 * 1024, negative: true, clock: clock.now }),
);
// A cache ttl longer than the values' own: the values' deadlines still bound what is served.
describeStorageConformance("cache(memory), cache ttl 10 min", ({ clock }) =>
  new CachedStorage({ backend: new MemoryStorage({ clock: clock.now }), ttl: 600_000, clock: clock.now }),
);

const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
// fsync off: these runs test the layer over real files, not the backend's durability (its own suite does).
describeStorageConformance(
  "cache(file)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-cache-"));
    dirs.push(dir);
    return new CachedStorage({ backend: new FileStorage({ path: dir, fsync: false, clock: clock.now }), clock: clock.now });
  },
  { skip: { "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes" } },
);
