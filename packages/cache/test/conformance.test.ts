import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";
import { CachedStorage } from "../src/index.js";

describeStorageConformance("cache(memory)", () => new CachedStorage({ backend: new MemoryStorage() }));
// A tiny cache: evictions and byte bounds happen throughout the suite.
describeStorageConformance("cache(memory), tiny cache", () => new CachedStorage({ backend: new MemoryStorage(), cacheSize: 3, maxBytes: 64 * 1024, negative: true }));

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
// fsync off: these runs test the layer over real files, not the backend's durability (its own suite does).
describeStorageConformance(
  "cache(file)",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-cache-"));
    dirs.push(dir);
    return new CachedStorage({ backend: new FileStorage({ basePath: dir, fsync: false }) });
  },
  { skip: { "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes" } },
);
