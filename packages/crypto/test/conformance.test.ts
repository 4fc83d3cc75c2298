import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance, expiryCaseNames } from "@pepperpy/storage-testing";
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
// The file backend stores expiry deadlines (in its sidecar) on branch fs-v2; until that
// merges, stacks over files skip the expiry cases (their logic runs over memory above).
const fileExpirySkip = Object.fromEntries(
  expiryCaseNames.map((n) => [n, "not supported yet by the file backend: it stores expiry deadlines in its sidecar from branch fs-v2"]),
);

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const fileSkip = {
  ...skip,
  ...fileExpirySkip,
  "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes",
};
// fsync off: these runs test the layer over real files, not the backend's durability (its own suite does).
describeStorageConformance(
  "crypto(file)",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-crypto-"));
    dirs.push(dir);
    return new EncryptedStorage({ backend: new FileStorage({ basePath: dir, fsync: false }), key });
  },
  { skip: fileSkip },
);
