import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";
import { MetricsStorage } from "../src/index.js";

describeStorageConformance("metrics(memory)", ({ clock }) => new MetricsStorage({ backend: new MemoryStorage({ clock: clock.now }), clock: clock.now }));

const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
// fsync off: these runs test the layer over real files, not the backend's durability (its own suite does).
describeStorageConformance(
  "metrics(file)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-metrics-"));
    dirs.push(dir);
    return new MetricsStorage({ backend: new FileStorage({ path: dir, fsync: false, clock: clock.now }), clock: clock.now });
  },
  { skip: { "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes" } },
);
