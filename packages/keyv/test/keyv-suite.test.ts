// Keyv's own published suite (@keyv/test-suite 2.1.2, Keyv 5.6.0) over several storages.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import keyvTestSuite, { keyvIteratorTests } from "@keyv/test-suite";
import type { Storage } from "@pepperpy/storage-core";
import { EncryptedStorage } from "@pepperpy/storage-crypto";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import Keyv, { type KeyvOptions, type KeyvStoreAdapter } from "keyv";
import * as vitest from "vitest";
import { KeyvStorage, withIterator } from "../src/index.js";

const { afterAll, describe } = vitest;

const dirs: string[] = [];
const storages: Storage[] = [];
afterAll(async () => {
  for (const s of storages) await s.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function fileStorage(): Promise<FileStorage> {
  const dir = await mkdtemp(join(tmpdir(), "pp-keyv-"));
  dirs.push(dir);
  return new FileStorage(dir, { fsync: false });
}

/** Keyv with its iterator wired to our store, as users get it with `withIterator`. */
class KeyvWithIterator extends Keyv {
  constructor(store?: KeyvStoreAdapter | KeyvOptions, options?: Omit<KeyvOptions, "store">) {
    super(store, options);
    if (this.opts.store instanceof KeyvStorage) withIterator(this);
  }
}

const stacks: [string, () => Storage | Promise<Storage>][] = [
  ["memory", () => new MemoryStorage()],
  ["file", fileStorage],
  ["encryption(file)", async () => new EncryptedStorage({ backend: await fileStorage(), key: new Uint8Array(32).fill(9) })],
  ["memory.withPrefix(keyv/)", () => new MemoryStorage().withPrefix("keyv/")],
];

for (const [name, create] of stacks) {
  const storage = await create();
  storages.push(storage);
  describe(`@keyv/test-suite over ${name}`, () => {
    keyvTestSuite(vitest, Keyv, () => new KeyvStorage(storage));
  });
  describe(`@keyv/test-suite iterator over ${name}`, () => {
    keyvIteratorTests(vitest, KeyvWithIterator as typeof Keyv, () => new KeyvStorage(storage));
  });
}

describe("@keyv/test-suite over file with keyEncoding: escape", async () => {
  const storage = await fileStorage();
  storages.push(storage);
  keyvTestSuite(vitest, Keyv, () => new KeyvStorage(storage, { keyEncoding: "escape" }));
});
