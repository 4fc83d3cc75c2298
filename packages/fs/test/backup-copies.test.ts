import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, describe, expect, it } from "vitest";

/** Whether `rsync` is installed (`.ci/setup-fs.sh` installs it; a bare machine may lack it). */
function hasRsync(): boolean {
  try {
    execFileSync("rsync", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const RSYNC = hasRsync();
if (!RSYNC && process.env.CI === "true") throw new Error("rsync is not installed but CI=true: run .ci/setup-fs.sh (apt-get install -y rsync)");

// Issue 16 / SPEC §3: a data folder copied with cp -a, cp -r, tar or rsync -a (sidecars
// included) reads back the same on a new FileStorage: new inodes and new times must not
// lose a value's type, content type or metadata. A file another program changed afterwards
// is still detected and read as raw bytes with its extension's content type.
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-backup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a);
/** key → [value, put options, expected read-back] */
const values: [string, unknown, { contentType?: string; metadata?: Record<string, string> }][] = [
  ["notes/plain-text", "héllo, world", {}],
  ["notes/with-meta", "tagged", { metadata: { owner: "ana", "x-y": "1" } }],
  ["docs/config", { a: 1, nested: { list: [1, "two", null] } }, {}],
  ["docs/typed.txt", "custom type", { contentType: "text/x-custom; charset=utf-8" }],
  ["bin/blob", new Uint8Array([0, 1, 2, 254, 255]), { metadata: { kind: "raw" } }],
  ["bin/plain.bin", new Uint8Array([9, 8, 7]), {}],
  ["bin/empty-text", "", {}],
  ["bin/big", big, { contentType: "application/x-big" }],
  ["top-json", [1, 2, 3], {}],
  ["same-size-a", "aaaa", {}],
  ["same-size-b", "bbbb", { metadata: { m: "b" } }],
];

async function writeAll(basePath: string): Promise<Map<string, Awaited<ReturnType<FileStorage["stat"]>>>> {
  const s = new FileStorage({ path: basePath, fsync: false });
  for (const [key, value, opts] of values) await s.put(key, value as never, opts);
  // A value overwritten: its sidecar holds older records too.
  await s.put("notes/with-meta", "tagged", { metadata: { owner: "ana", "x-y": "1" } });
  const stats = new Map<string, Awaited<ReturnType<FileStorage["stat"]>>>();
  for (const [key] of values) stats.set(key, await s.stat(key));
  await s.close();
  return stats;
}

async function expectSame(copyPath: string, stats: Map<string, Awaited<ReturnType<FileStorage["stat"]>>>): Promise<void> {
  const s = new FileStorage({ path: copyPath });
  for (const [key, value] of values) {
    const back = await s.get(key);
    if (value instanceof Uint8Array) {
      expect(back, key).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(back as Uint8Array).equals(Buffer.from(value)), key).toBe(true);
    } else {
      expect(back, key).toEqual(value);
    }
    const info = await s.stat(key);
    const before = stats.get(key)!;
    expect(info.contentType, key).toBe(before.contentType);
    expect(info.metadata, key).toEqual(before.metadata);
    // A value with a sidecar keeps its etag; a plain one (bytes needing no record) has the
    // file's identity as its etag, which a copy changes.
    if (key !== "bin/plain.bin") expect(info.etag, key).toBe(before.etag);
  }
  // A second storage on the copy (nothing remembered) reads through getStream the same.
  const again = new FileStorage({ path: copyPath });
  expect(await again.getText("notes/with-meta")).toBe("tagged");
  expect((await again.stat("notes/with-meta")).metadata).toEqual({ owner: "ana", "x-y": "1" });
  await again.close();
  await s.close();
}

function fresh(): { src: string; dst: string } {
  const dir = join(root, `c${++n}`);
  mkdirSync(dir);
  return { src: join(dir, "data"), dst: join(dir, "copy") };
}

describe("FileStorage values survive copies of the data folder", () => {
  it("cp -a (new inodes, times kept)", async () => {
    const { src, dst } = fresh();
    const stats = await writeAll(src);
    execFileSync("cp", ["-a", src, dst]);
    expect(statSync(join(dst, "docs/config")).ino).not.toBe(statSync(join(src, "docs/config")).ino);
    await expectSame(dst, stats);
  });

  it("cp -r (new inodes, new times)", async () => {
    const { src, dst } = fresh();
    const stats = await writeAll(src);
    await new Promise((r) => setTimeout(r, 20));
    execFileSync("cp", ["-r", src, dst]);
    expect(statSync(join(dst, "docs/config")).mtimeMs).not.toBe(statSync(join(src, "docs/config")).mtimeMs);
    await expectSame(dst, stats);
  });

  it("tar round trip (times to the second)", async () => {
    const { src, dst } = fresh();
    const stats = await writeAll(src);
    const archive = `${dst}.tar`;
    execFileSync("tar", ["-cf", archive, "-C", src, "."]);
    mkdirSync(dst);
    execFileSync("tar", ["-xf", archive, "-C", dst]);
    await expectSame(dst, stats);
  });

  // Skipped by name, with the reason, when rsync is not installed outside CI: the other copies still run.
  (RSYNC ? it : it.skip)(RSYNC ? "rsync -a" : "rsync -a [skipped: rsync is not installed]", async () => {
    const { src, dst } = fresh();
    const stats = await writeAll(src);
    execFileSync("rsync", ["-a", `${src}/`, `${dst}/`]);
    await expectSame(dst, stats);
  });

  it("after a copy, a file changed by another program reads as raw bytes with its extension's content type", async () => {
    const { src, dst } = fresh();
    await writeAll(src);
    execFileSync("cp", ["-r", src, dst]);
    // Same size, different content (the hardest case: only the content tells).
    writeFileSync(join(dst, "same-size-b"), "cccc");
    writeFileSync(join(dst, "docs/config"), "not json any more");
    writeFileSync(join(dst, "docs/typed.txt"), "other text!");
    const s = new FileStorage({ path: dst });
    const b = await s.get("same-size-b");
    expect(b).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(b as Uint8Array).toString()).toBe("cccc");
    expect((await s.stat("same-size-b")).metadata).toEqual({});
    expect((await s.stat("same-size-b")).contentType).toBe("application/octet-stream");
    const c = await s.get("docs/config");
    expect(Buffer.from(c as Uint8Array).toString()).toBe("not json any more");
    // A .txt file read without its record is text of its extension's type.
    expect(await s.get("docs/typed.txt")).toBe("other text!");
    expect((await s.stat("docs/typed.txt")).contentType).toBe("text/plain; charset=utf-8");
    // The untouched values still read back with their types.
    expect(await s.get("same-size-a")).toBe("aaaa");
    expect(await s.get("top-json")).toEqual([1, 2, 3]);
    await s.close();
  });

  it("in place: a file changed by another program without a copy is still detected (same size, same second)", async () => {
    const { src } = fresh();
    const s = new FileStorage({ path: src });
    await s.put("k", "abcd", { metadata: { a: "1" } });
    expect(await s.get("k")).toBe("abcd");
    writeFileSync(join(src, "k"), "wxyz");
    const other = new FileStorage({ path: src });
    const v = await other.get("k");
    expect(v).toBeInstanceOf(Uint8Array);
    expect((await other.stat("k")).metadata).toEqual({});
    expect(readFileSync(join(src, "k"), "utf8")).toBe("wxyz");
    await s.close();
    await other.close();
  });
});
