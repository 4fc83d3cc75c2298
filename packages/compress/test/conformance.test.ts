import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { CompressedStorage } from "../src/index.js";

const skip = {
  "iterate: entries carry key, size and lastModified in key order":
    "not supported by design, because list and iterate report the stored (compressed) size: bytes used in the backend, without reading every header",
};

describeStorageConformance("compress(memory)", ({ clock }) => new CompressedStorage({ backend: new MemoryStorage({ clock: clock.now }), clock: clock.now }), { skip });
describeStorageConformance(
  "compress(memory), threshold 0, brotli",
  ({ clock }) => new CompressedStorage({ backend: new MemoryStorage({ clock: clock.now }), algorithm: "brotli", threshold: 0, clock: clock.now }),
  { skip },
);

const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const fileSkip = {
  ...skip,
  "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes",
};
// fsync off: these runs test the layer over real files, not the backend's durability (its own suite does).
describeStorageConformance(
  "compress(file)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-compress-"));
    dirs.push(dir);
    return new CompressedStorage({ backend: new FileStorage({ path: dir, fsync: false, clock: clock.now }), threshold: 0, clock: clock.now });
  },
  { skip: fileSkip },
);
