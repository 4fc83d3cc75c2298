import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { EncryptedStorage } from "../src/index.js";

const skip = {
  "iterate: entries carry key, size and lastModified in key order":
    "not supported by design, because list and iterate report the stored (encrypted) size: bytes used in the backend, without reading every header",
};

const key = new Uint8Array(32).fill(42);
describeStorageConformance("crypto(memory)", ({ clock }) => new EncryptedStorage({ backend: new MemoryStorage({ clock: clock.now }), key, clock: clock.now }), { skip });

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
  "crypto(file)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-crypto-"));
    dirs.push(dir);
    return new EncryptedStorage({ backend: new FileStorage({ path: dir, fsync: false, clock: clock.now }), key, clock: clock.now });
  },
  { skip: fileSkip },
);
