import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Issue 15 item 10 (audit G4): the content type of a file this library did not write comes
// from its extension; an extension named after an Object member (`x.constructor`) gave a
// function as the content type, so stat lied and get failed with an I/O error.
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-foreign-"));
const base = join(root, "tree");
const names = ["x.constructor", "y.__proto__", "z.toString", "w.hasOwnProperty", "v.valueOf"];
const bytesOf = (name: string): Buffer => Buffer.from([0x00, 0xff, 0x10, name.length]);
let storage: FileStorage;

beforeAll(async () => {
  mkdirSync(base);
  storage = new FileStorage({ path: base });
  await storage.put("own.txt", "mine");
  // Written by another tool, with plain fs: no sidecar, no metadata.
  for (const name of names) writeFileSync(join(base, name), bytesOf(name));
});
afterAll(async () => {
  await storage.close();
  rmSync(root, { recursive: true, force: true });
});

describe("files another tool wrote under names ending in an Object member", () => {
  it("get returns their bytes", async () => {
    for (const name of names) {
      expect(Buffer.from((await storage.get(name)) as Uint8Array)).toStrictEqual(bytesOf(name));
      expect(Buffer.from(await storage.getBytes(name))).toStrictEqual(bytesOf(name));
    }
  });

  it("stat gives a string content type (octet-stream: the extension is unknown)", async () => {
    for (const name of names) {
      const info = await storage.stat(name);
      expect(typeof info.contentType).toBe("string");
      expect(info.contentType).toBe("application/octet-stream");
      expect(info.size).toBe(4);
    }
  });

  it("list and iterate include them", async () => {
    expect(await storage.list()).toStrictEqual([...names, "own.txt"].sort());
    const keys: string[] = [];
    for await (const entry of storage.iterate()) keys.push(entry.key);
    expect(keys).toStrictEqual([...names, "own.txt"].sort());
  });
});
