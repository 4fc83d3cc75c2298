/**
 * Plain bytes — a `put` of bytes without metadata whose content type is the one the key's
 * extension gives — are written without a sidecar, and read back exactly as they would with
 * one: value type `bytes`, that content type, no metadata, an etag that stays the same
 * between the `put` and every later `stat`, in this process and in a fresh one.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageConflictError, readEntry } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, describe, expect, it } from "vitest";

const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-plain-"));
let n = 0;
const fresh = () => {
  const basePath = join(root, `s${++n}`);
  return { basePath, storage: new FileStorage(basePath) };
};
const sidecars = (dir: string): string[] => readdirSync(dir).filter((name) => name.startsWith(".pepperpy-meta"));

describe("FileStorage: plain bytes need no sidecar", () => {
  it("a bytes put leaves no sidecar and reads back with the info put returned, here and in a fresh process state", async () => {
    const { basePath, storage } = fresh();
    const put = await storage.put("p/blob", Buffer.from([1, 2, 3]));
    expect(sidecars(join(basePath, "p"))).toEqual([]);
    expect(put).toMatchObject({ key: "p/blob", size: 3, valueType: "bytes", contentType: "application/octet-stream", metadata: {} });
    expect(put.etag).toBeTruthy();
    const here = await readEntry(storage, "p/blob");
    expect(here.info).toEqual(put);
    expect(here.data).toEqual(Buffer.from([1, 2, 3]));
    const again = new FileStorage(basePath); // no remembered records
    expect(await again.stat("p/blob")).toEqual(put);
    expect(await again.get("p/blob")).toEqual(Buffer.from([1, 2, 3]));
    // Same bytes again: a new version, a new etag.
    const second = await storage.put("p/blob", Buffer.from([1, 2, 3]));
    expect(second.etag).not.toBe(put.etag);
    expect((await again.stat("p/blob")).etag).toBe(second.etag);
    // A content type equal to the extension's, decoding as bytes, is plain too.
    const png = await storage.put("p/pic.png", Buffer.from([9]), { contentType: "image/png" });
    expect(png).toMatchObject({ valueType: "bytes", contentType: "image/png", metadata: {} });
    expect(sidecars(join(basePath, "p"))).toEqual([]);
    expect(await again.stat("p/pic.png")).toEqual(png);
    await again.close();
    await storage.close();
  });

  it("bytes that would read differently without a record keep the sidecar (extension of another type, metadata, contentType)", async () => {
    const { basePath, storage } = fresh();
    await storage.put("q/a.json", Buffer.from("[1]"));
    await storage.put("q/b.png", Buffer.from([1]));
    await storage.put("q/c", Buffer.from([1]), { metadata: { m: "1" } });
    await storage.put("q/d", Buffer.from([1]), { contentType: "image/png" });
    expect(sidecars(join(basePath, "q")).sort()).toEqual([".pepperpy-meta.a.json", ".pepperpy-meta.b.png", ".pepperpy-meta.c", ".pepperpy-meta.d"]);
    const again = new FileStorage(basePath);
    expect(await again.get("q/a.json")).toEqual(Buffer.from("[1]"));
    expect(await again.stat("q/b.png")).toMatchObject({ valueType: "bytes", contentType: "application/octet-stream" });
    expect(await again.stat("q/c")).toMatchObject({ valueType: "bytes", metadata: { m: "1" } });
    expect(await again.stat("q/d")).toMatchObject({ valueType: "bytes", contentType: "image/png" });
    await again.close();
    await storage.close();
  });

  it("bytes over a key with metadata or a string drop the old metadata and remove the stale sidecar; a string, JSON or metadata put brings it back", async () => {
    const { basePath, storage } = fresh();
    const dir = join(basePath, "r");
    await storage.put("r/k", "text", { metadata: { owner: "ana" } });
    expect(sidecars(dir)).toEqual([".pepperpy-meta.k"]);
    const bytes = await storage.put("r/k", Buffer.from([7, 7]));
    expect(sidecars(dir)).toEqual([]);
    const other = new FileStorage(basePath);
    expect(await other.stat("r/k")).toEqual(bytes);
    expect(bytes).toMatchObject({ metadata: {}, valueType: "bytes" });
    expect(await other.get("r/k")).toEqual(Buffer.from([7, 7]));

    const text = await storage.put("r/k", "again");
    expect(sidecars(dir)).toEqual([".pepperpy-meta.k"]);
    expect(await other.stat("r/k")).toEqual(text);
    expect(await other.get("r/k")).toBe("again");

    await storage.put("r/k", Buffer.from([1]));
    const json = await storage.put("r/k", { a: 1 });
    expect(await other.stat("r/k")).toMatchObject({ valueType: "json", etag: json.etag });
    expect(await other.get("r/k")).toEqual({ a: 1 });

    await storage.put("r/k", Buffer.from([1]));
    const meta = await storage.put("r/k", Buffer.from([2]), { metadata: { v: "2" } });
    expect(sidecars(dir)).toEqual([".pepperpy-meta.k"]);
    expect(await other.stat("r/k")).toMatchObject({ valueType: "bytes", metadata: { v: "2" }, etag: meta.etag });
    await other.close();
    await storage.close();
  });

  it("a stale sidecar left by a crash between the value's rename and the sidecar's unlink reads the same, and the next put removes it", async () => {
    const { basePath, storage } = fresh();
    const dir = join(basePath, "s");
    await storage.put("s/k", "old", { metadata: { owner: "ana" } });
    const { readFileSync } = await import("node:fs");
    const stale = readFileSync(join(dir, ".pepperpy-meta.k"));
    const put = await storage.put("s/k", Buffer.from([5]));
    writeFileSync(join(dir, ".pepperpy-meta.k"), stale); // as if the unlink had not happened
    const other = new FileStorage(basePath);
    expect(await other.stat("s/k")).toEqual(put);
    expect(await other.get("s/k")).toEqual(Buffer.from([5]));
    await storage.put("s/k", Buffer.from([6]));
    expect(sidecars(dir)).toEqual([]);
    await other.close();
    await storage.close();
  });

  it("ifMatch and ifNoneMatch on a key without a sidecar", async () => {
    const { storage } = fresh();
    const first = await storage.put("c/k", Buffer.from([1]), { ifNoneMatch: "*" });
    await expect(storage.put("c/k", Buffer.from([2]), { ifNoneMatch: "*" })).rejects.toBeInstanceOf(StorageConflictError);
    const second = await storage.put("c/k", Buffer.from([2]), { ifMatch: first.etag! });
    await expect(storage.put("c/k", Buffer.from([3]), { ifMatch: first.etag! })).rejects.toBeInstanceOf(StorageConflictError);
    // Another instance (no remembered records) sees the same etag, and a compare-and-swap with it works.
    const other = new FileStorage(storage.basePath);
    expect((await other.stat("c/k")).etag).toBe(second.etag);
    const third = await other.put("c/k", "text now", { ifMatch: second.etag! });
    await expect(storage.put("c/k", Buffer.from([4]), { ifMatch: second.etag! })).rejects.toBeInstanceOf(StorageConflictError);
    await storage.put("c/k", Buffer.from([4]), { ifMatch: third.etag! });
    expect(await other.get("c/k")).toEqual(Buffer.from([4]));
    await other.close();
    await storage.close();
  });

  it("copy and move of plain bytes read the same at the destination, whatever its extension", async () => {
    const { basePath, storage } = fresh();
    const put = await storage.put("m/src", Buffer.from([1, 2]));
    await storage.copy("m/src", "m/copy");
    const copied = await storage.stat("m/copy");
    expect(copied).toMatchObject({ valueType: "bytes", contentType: "application/octet-stream", metadata: {} });
    expect(copied.etag).not.toBe(put.etag);
    await storage.copy("m/src", "m/copy.json");
    expect(await storage.get("m/copy.json")).toEqual(Buffer.from([1, 2]));
    await storage.move("m/src", "m/moved.txt");
    const other = new FileStorage(basePath);
    expect(await other.get("m/moved.txt")).toEqual(Buffer.from([1, 2]));
    expect(await other.stat("m/moved.txt")).toMatchObject({ valueType: "bytes", contentType: "application/octet-stream", etag: put.etag });
    await storage.move("m/copy", "m/plain");
    expect(await other.stat("m/plain")).toMatchObject({ valueType: "bytes", etag: copied.etag });
    expect(sidecars(join(basePath, "m")).sort()).toEqual([".pepperpy-meta.copy.json", ".pepperpy-meta.moved.txt"]);
    expect(await other.list("m/")).toEqual(["m/copy.json", "m/moved.txt", "m/plain"]);
    await other.close();
    await storage.close();
  });

  it("a file another tool wrote still reads as foreign (no value type)", async () => {
    const { basePath, storage } = fresh();
    mkdirSync(join(basePath, "f"), { recursive: true });
    writeFileSync(join(basePath, "f/blob"), Buffer.from([1]));
    utimesSync(join(basePath, "f/blob"), 1_700_000_000, 1_700_000_000);
    expect((await storage.stat("f/blob")).valueType).toBeUndefined();
    await storage.close();
  });
});

// A file system keeping whole seconds (ext4 with 128-byte inodes) on a loop device the test mounts (root needed).
const coarse = join(root, "coarse");
let mounted = false;
let why = "";
try {
  if (process.getuid?.() !== 0) throw new Error("not running as root");
  mkdirSync(join(coarse, "m"), { recursive: true });
  execFileSync("truncate", ["-s", "8M", join(coarse, "img")]);
  execFileSync("mkfs.ext4", ["-q", "-F", "-I", "128", join(coarse, "img")], { stdio: "pipe" });
  execFileSync("mount", ["-o", "loop", join(coarse, "img"), join(coarse, "m")], { stdio: "pipe" });
  mounted = true;
} catch (error) {
  why = (error as Error).message.split("\n")[0] ?? "mount failed";
}
afterAll(() => {
  // Unmount before removing the tree (one hook, so the order cannot be swapped).
  if (mounted) execFileSync("umount", ["-l", join(coarse, "m")]);
  rmSync(root, { recursive: true, force: true });
});

const coarseTitle = "on a file system keeping whole seconds, bytes keep their sidecar (identities cannot tell versions apart)";
it.skipIf(!mounted)(mounted ? coarseTitle : `${coarseTitle} [skipped because a loop device cannot be mounted here: ${why}]`, async () => {
  const basePath = join(coarse, "m", "data");
  const storage = new FileStorage(basePath);
  const first = await storage.put("k", Buffer.from([1]));
  const second = await storage.put("k", Buffer.from([2]));
  expect(existsSync(join(basePath, ".pepperpy-meta.k"))).toBe(true);
  expect(second.etag).not.toBe(first.etag);
  const other = new FileStorage(basePath);
  expect(await other.stat("k")).toEqual(second);
  await expect(other.put("k", Buffer.from([3]), { ifMatch: first.etag! })).rejects.toBeInstanceOf(StorageConflictError);
  await other.close();
  await storage.close();
});
