import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isValidKey } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, describe, expect, it } from "vitest";

// Issue 16: files written by other programs under names that are not valid keys were listed
// (so deleteMany(await list()) rejected and deleted nothing), or listed lossily by list()
// and skipped by iterate()/listPage(). Now list, iterate and listPage skip them alike.
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-names-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Valid keys, written by another program as plain files. */
const valid = ["notes/ok.txt", "notes/sub/deep.txt", "top", "x/a:colon", "notes/caf\u00e9.txt", "emoji/\u{1F600}.txt"];
/** Names that are not keys: path segments (as bytes) under the base. */
const hostile: Buffer[][] = [
  [Buffer.from("notes"), Buffer.from("old\\2019.txt")], // backslash
  [Buffer.from("notes"), Buffer.from("bell\u0007.txt")], // control character
  [Buffer.from("notes"), Buffer.from("tab\there")], // control character
  [Buffer.from("notes"), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74])], // "caf\xe9.txt": not UTF-8
  [Buffer.from("notes"), Buffer.from("c1\u0085ctl")], // C1 control
  [Buffer.from("C:drive")], // a drive letter at the start of a key
  [Buffer.from("back\\slash-dir"), Buffer.from("inside.txt")], // a directory that is not a segment
  [Buffer.from([0xff, 0xfe]), Buffer.from("in-bad-dir.txt")], // a directory whose name is not UTF-8
  [Buffer.from("notes"), Buffer.from([0x73, 0xed, 0xa0, 0x80, 0x2e, 0x74, 0x78, 0x74])], // an encoded lone surrogate (CESU-8): not UTF-8
  [Buffer.from("notes"), Buffer.from("del\u007f.txt")], // DEL, a control character
  [Buffer.from("notes"), Buffer.from(".pepperpy-notes.txt")], // a reserved name
  [Buffer.from(".pepperpy-dir"), Buffer.from("inside.txt")], // a reserved directory name
  // A key over 1024 UTF-8 bytes: every directory on the way is a valid prefix, the file is not a key.
  [...Array.from({ length: 6 }, (_, i) => Buffer.from(`${i}`.padEnd(200, "d"))), Buffer.from("too-long.txt")],
];

function plant(base: string): void {
  for (const key of valid) {
    const path = join(base, key);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, `value of ${key}`);
  }
  for (const segments of hostile) {
    let dir = Buffer.from(base);
    for (let i = 0; i < segments.length - 1; i++) {
      dir = Buffer.concat([dir, Buffer.from("/"), segments[i]!]);
      mkdirSync(dir, { recursive: true });
    }
    writeFileSync(Buffer.concat([dir, Buffer.from("/"), segments[segments.length - 1]!]), "hostile");
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("listing skips names that are not valid keys, the same way everywhere", () => {
  it("list, iterate and listPage agree; every listed key is valid and readable; deleteMany(await list()) deletes them all", async () => {
    const base = join(root, "tree");
    mkdirSync(base);
    plant(base);
    const s = new FileStorage(base);
    const listed = await s.list();
    expect(listed).toEqual([...valid].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const key of listed) expect(isValidKey(key), key).toBe(true);
    const iterated = (await collect(s.iterate("", { pageSize: 2 }))).map((e) => e.key);
    expect(iterated).toEqual(listed);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.listPage("", { limit: 2, cursor });
      paged.push(...page.items.map((e) => (typeof e === "string" ? e : e.key)));
      cursor = page.cursor;
    } while (cursor !== undefined);
    expect(paged).toEqual(listed);
    expect(await s.list("notes/")).toEqual(listed.filter((k) => k.startsWith("notes/")));
    for (const key of listed) expect(await s.getText(key)).toBe(`value of ${key}`);
    await s.deleteMany(await s.list());
    expect(await s.list()).toEqual([]);
    // The hostile files are untouched: not ours to delete, never listed.
    expect(readdirSync(join(base, "notes"))).toContain("old\\2019.txt");
    expect(readdirSync(join(base, "notes"))).toContain(".pepperpy-notes.txt");
    expect(readdirSync(join(base, ".pepperpy-dir"))).toEqual(["inside.txt"]);
    await s.close();
  });
});
