import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Storage } from "@pepperpy/storage-core";
import { EncryptedStorage } from "@pepperpy/storage-crypto";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { afterAll, describe } from "vitest";
import { storageDriver } from "../src/index.js";
import { unstorageDriverCases } from "./driver-cases.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function fileStorage(): Promise<FileStorage> {
  const dir = await mkdtemp(join(tmpdir(), "pp-unstorage-"));
  dirs.push(dir);
  return new FileStorage(dir, { fsync: false });
}

const stacks: [string, () => Storage | Promise<Storage>][] = [
  ["memory", () => new MemoryStorage()],
  ["file", fileStorage],
  ["encryption(file)", async () => new EncryptedStorage({ backend: await fileStorage(), key: new Uint8Array(32).fill(5) })],
  ["memory.withPrefix(app/)", () => new MemoryStorage().withPrefix("app/")],
];

for (const [name, create] of stacks) {
  describe(`unstorage driver cases over ${name}`, () => {
    unstorageDriverCases(async () => storageDriver({ storage: await create() }));
  });
}

describe("unstorage driver cases over file with keyEncoding: escape", () => {
  unstorageDriverCases(async () => storageDriver({ storage: await fileStorage(), keyEncoding: "escape" }));
});
