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

// The iterator is where the escape mode decodes keys (`decodeKey`).
describe("@keyv/test-suite iterator over file with keyEncoding: escape", async () => {
  const storage = await fileStorage();
  storages.push(storage);
  keyvIteratorTests(vitest, KeyvWithIterator as typeof Keyv, () => new KeyvStorage(storage, { keyEncoding: "escape" }));
});

/** Turns the suite's keys (`"0"`, `"foo"`) into keys a file storage refuses unescaped. */
const awkward = (key: string): string => `https://example.com/.${key}/%`;

/**
 * Keyv with its iterator, whose keys are made {@link awkward} on the way in and back on the
 * way out: the suite's own keys are ones `encodeKey` leaves as they are, so only with these
 * do its iterator cases see what the store decodes.
 */
class KeyvWithAwkwardKeys extends KeyvWithIterator {
  constructor(store?: KeyvStoreAdapter | KeyvOptions, options?: Omit<KeyvOptions, "store">) {
    super(store, options);
    const iterate = this.iterator;
    if (!iterate) return;
    this.iterator = async function* (namespace?: string) {
      for await (const [key, value] of iterate(namespace)) {
        const plain = typeof key === "string" && key.startsWith("https://example.com/.") && key.endsWith("/%");
        yield [plain ? key.slice("https://example.com/.".length, -"/%".length) : key, value];
      }
    };
  }

  override set<Value>(key: string, value: Value, ttl?: number): Promise<boolean> {
    return super.set(awkward(key), value, ttl);
  }
}

describe("@keyv/test-suite iterator over file with keyEncoding: escape, keys that need escaping", async () => {
  const storage = await fileStorage();
  storages.push(storage);
  keyvIteratorTests(vitest, KeyvWithAwkwardKeys as typeof Keyv, () => new KeyvStorage(storage, { keyEncoding: "escape" }));
});
