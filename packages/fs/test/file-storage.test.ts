import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { StorageAbortedError, type StorageConfig, StorageConfigError, StorageConflictError, createStorage } from "@pepperpy/storage-core";
import { FileStorage, storagePlugins } from "@pepperpy/storage-fs";
import { afterAll, describe, expect, it } from "vitest";

const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (opts: { fsync?: boolean } = {}) => {
  const basePath = join(root, `s${++n}`);
  return { basePath, storage: new FileStorage({ path: basePath, ...opts }) };
};

describe("FileStorage: files hold the raw content", () => {
  it("stores strings and bytes raw and JSON as JSON text; metadata persists in a sidecar across instances", async () => {
    const { basePath, storage } = fresh();
    await storage.put("t/a.txt", "héllo", { metadata: { owner: "ana" }, contentType: "text/x-custom" });
    await storage.put("t/b", Buffer.from([0, 255, 1]));
    await storage.put("t/c", { n: 1, s: "x" });
    expect(readFileSync(join(basePath, "t/a.txt"), "utf8")).toBe("héllo");
    expect([...readFileSync(join(basePath, "t/b"))]).toEqual([0, 255, 1]);
    expect(readFileSync(join(basePath, "t/c"), "utf8")).toBe('{"n":1,"s":"x"}');
    // Plain bytes (no metadata, the key's own content type) need no sidecar.
    expect(readdirSync(join(basePath, "t")).sort()).toEqual([".pepperpy-meta.a.txt", ".pepperpy-meta.c", "a.txt", "b", "c"]);
    const again = new FileStorage(basePath);
    const info = await again.stat("t/a.txt");
    expect(info).toMatchObject({ contentType: "text/x-custom", metadata: { owner: "ana" }, valueType: "text", size: 6 });
    expect(await again.stat("t/b")).toMatchObject({ contentType: "application/octet-stream", metadata: {}, valueType: "bytes", size: 3 });
    expect(await again.get("t/b")).toEqual(Buffer.from([0, 255, 1]));
    expect(await again.get("t/c")).toEqual({ n: 1, s: "x" });
  });

  it("reads files it did not write: content type from the extension, value type inferred", async () => {
    const { basePath, storage } = fresh();
    mkdirSync(join(basePath, "ext"), { recursive: true });
    writeFileSync(join(basePath, "ext/data.json"), '{"a":1}');
    writeFileSync(join(basePath, "ext/notes.md"), "# hi");
    writeFileSync(join(basePath, "ext/blob"), Buffer.from([1, 2]));
    expect(await storage.get("ext/data.json")).toEqual({ a: 1 });
    expect(await storage.get("ext/notes.md")).toBe("# hi");
    expect(await storage.get("ext/blob")).toEqual(Buffer.from([1, 2]));
    const info = await storage.stat("ext/notes.md");
    expect(info.contentType).toBe("text/markdown; charset=utf-8");
    expect(info.valueType).toBeUndefined();
    expect(await storage.list("ext/")).toEqual(["ext/blob", "ext/data.json", "ext/notes.md"]);
  });

  it("a file replaced by another tool makes its sidecar stale: read as a foreign file, new etag", async () => {
    const { basePath, storage } = fresh();
    const first = await storage.put("k", "text value");
    writeFileSync(join(basePath, "k.tmp"), Buffer.from([9, 9]));
    // Replace by rename, as editors do: a new inode.
    const { renameSync } = await import("node:fs");
    renameSync(join(basePath, "k.tmp"), join(basePath, "k"));
    // A whole-second mtime, so the file cannot carry the plain mark by chance (see the fs README).
    const { utimesSync } = await import("node:fs");
    utimesSync(join(basePath, "k"), 1_700_000_000, 1_700_000_000);
    const info = await storage.stat("k");
    expect(info.valueType).toBeUndefined();
    expect(info.etag).not.toBe(first.etag);
    expect(await storage.get("k")).toEqual(Buffer.from([9, 9]));
  });
});

describe("FileStorage: the write path", () => {
  it("an aborted streamed write leaves the old value and no temp file", async () => {
    const { basePath, storage } = fresh();
    await storage.put("s/k", "old");
    const controller = new AbortController();
    async function* slow() {
      yield Buffer.alloc(1000, 1);
      controller.abort();
      await new Promise((r) => setTimeout(r, 20));
      yield Buffer.alloc(1000, 2);
    }
    await expect(storage.put("s/k", Readable.from(slow()), { signal: controller.signal })).rejects.toBeInstanceOf(StorageAbortedError);
    await new Promise((r) => setTimeout(r, 50));
    expect(await storage.get("s/k")).toBe("old");
    expect(readdirSync(join(basePath, "s")).filter((f) => f.startsWith(".pepperpy-tmp"))).toEqual([]);
  });

  it("streams a large value with bounded memory and reads ranges", async () => {
    const { storage } = fresh();
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const total = 64;
    const before = process.memoryUsage().rss;
    await storage.put("big", Readable.from((function* () { for (let i = 0; i < total; i++) yield chunk; })()));
    const grew = process.memoryUsage().rss - before;
    expect((await storage.stat("big")).size).toBe(total * chunk.byteLength);
    // 64 MiB went through; the process did not hold it all (generous bound for GC noise).
    expect(grew).toBeLessThan(48 * 1024 * 1024);
    const range = await storage.getStream("big", { start: 10, end: 19 });
    const parts: Buffer[] = [];
    for await (const c of range) parts.push(c as Buffer);
    expect(Buffer.concat(parts)).toEqual(Buffer.alloc(10, 7));
  });

  it("a key that is a prefix directory of others is a conflict, and the other way round", async () => {
    const { storage } = fresh();
    await storage.put("a/b", "x");
    await expect(storage.put("a", "y")).rejects.toBeInstanceOf(StorageConflictError);
    await expect(storage.put("a/b/c", "y")).rejects.toBeInstanceOf(StorageConflictError);
    await expect(storage.get("a")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await storage.delete("a"); // a directory is not a key: nothing happens
    expect(await storage.get("a/b")).toBe("x");
    expect(storage.capabilities.keyIsAlsoPrefix).toBe(false);
  });

  it("deleting removes the sidecar and empty parent directories up to the base", async () => {
    const { basePath, storage } = fresh();
    await storage.put("x/y/z/k", "v");
    await storage.put("x/keep", "v");
    await storage.delete("x/y/z/k");
    expect(existsSync(join(basePath, "x/y"))).toBe(false);
    expect(readdirSync(join(basePath, "x")).sort()).toEqual([".pepperpy-meta.keep", "keep"]);
    await storage.delete("x/keep");
    // The base keeps only the lock holder file, shared by calls in flight and removed once idle or at close.
    expect(readdirSync(basePath).filter((name) => !name.endsWith(".holder"))).toEqual([]);
    await storage.close();
    expect(readdirSync(basePath)).toEqual([]);
    expect(existsSync(basePath)).toBe(true);
  });

  it("concurrent deletes of every key of a directory remove it and its sidecars (the last to finish removes the directory)", async () => {
    const { basePath, storage } = fresh();
    const keys = Array.from({ length: 40 }, (_, i) => `p/q/k${i}`);
    await Promise.all(keys.map((k) => storage.put(k, k, { metadata: { i: k } })));
    await storage.put("p/keep", "v");
    // Half known to this instance (records remembered), half deleted by a fresh one (lstat first).
    const other = new FileStorage({ path: basePath });
    await Promise.all(keys.map((k, i) => (i % 2 ? storage : other).delete(k)));
    expect(existsSync(join(basePath, "p/q"))).toBe(false);
    expect(readdirSync(join(basePath, "p")).sort()).toEqual([".pepperpy-meta.keep", "keep"]);
    // A deleted key's sidecar is gone even when the directory stays.
    await storage.put("p/gone", "v", { metadata: { a: "b" } });
    await storage.delete("p/gone");
    expect(readdirSync(join(basePath, "p")).sort()).toEqual([".pepperpy-meta.keep", "keep"]);
    // Deleting missing keys and a prefix directory changes nothing.
    await storage.put("p/r/s", "v");
    await Promise.all([storage.delete("p/r"), storage.delete("p/none"), other.delete("p/r/none"), storage.delete("p/q/k1")]);
    expect(await storage.get("p/r/s")).toBe("v");
    expect(readdirSync(join(basePath, "p")).sort()).toEqual([".pepperpy-meta.keep", "keep", "r"]);
    await Promise.all([storage.close(), other.close()]);
  });

  it("a key lock left as a hard-linked sidecar temp is broken at once when its holder is dead, and waited for while it lives", async () => {
    const { basePath, storage } = fresh();
    await storage.put("l/k", "v1");
    const host = hostname().replace(/:/g, "_");
    const lock = join(basePath, "l", ".pepperpy-lock.k");
    const holderDoc = (pid: number) => JSON.stringify({ v: 1, name: "k", records: [], by: `${host}:${pid}` });
    // A dead holder (a process that has exited): the next write breaks its lock at once.
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(lock, holderDoc(dead));
    await storage.put("l/k", "v2", { timeout: 5_000 });
    expect(await storage.get("l/k")).toBe("v2");
    expect(existsSync(lock)).toBe(false);
    // A live holder: writes and deletes wait (here until their timeout), then go once it is gone.
    const alive = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
    try {
      writeFileSync(lock, holderDoc(alive.pid!));
      await expect(storage.put("l/k", "v3", { timeout: 300 })).rejects.toMatchObject({ code: "TIMEOUT" });
      await expect(storage.delete("l/k", { timeout: 300 })).rejects.toMatchObject({ code: "TIMEOUT" });
      expect(await storage.get("l/k")).toBe("v2");
    } finally {
      alive.kill("SIGKILL");
      await new Promise((resolve) => alive.once("exit", resolve));
    }
    await storage.put("l/k", "v4", { timeout: 5_000 });
    expect(await storage.get("l/k")).toBe("v4");
    expect(readdirSync(join(basePath, "l")).sort()).toEqual([".pepperpy-meta.k", "k"]);
    await storage.close();
  });

  it("orphans of crashed writers are never listed and are swept by age", async () => {
    const { basePath, storage } = fresh();
    await storage.put("o/k", "v");
    const dir = join(basePath, "o");
    writeFileSync(join(dir, ".pepperpy-tmp.dead.1"), "partial");
    writeFileSync(join(dir, ".pepperpy-meta.gone"), "{}");
    writeFileSync(join(dir, ".pepperpy-tmp.fresh.2"), "in progress");
    const old = new Date(Date.now() - 60 * 60 * 1000);
    utimesSync(join(dir, ".pepperpy-tmp.dead.1"), old, old);
    utimesSync(join(dir, ".pepperpy-meta.gone"), old, old);
    expect(await storage.list("")).toEqual(["o/k"]);
    // list swept the old ones, kept the fresh one (a write may be in progress).
    expect(readdirSync(dir).sort()).toEqual([".pepperpy-meta.k", ".pepperpy-tmp.fresh.2", "k"]);
    expect(await storage.removeOrphans({ olderThan: 0 })).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([".pepperpy-meta.k", "k"]);
  });

  it("ifNoneMatch is create-only and ifMatch compares etags; etags change on every write", async () => {
    const { storage } = fresh();
    const a = await storage.put("c/k", "1", { ifNoneMatch: "*" });
    await expect(storage.put("c/k", "2", { ifNoneMatch: "*" })).rejects.toBeInstanceOf(StorageConflictError);
    const b = await storage.put("c/k", "2", { ifMatch: a.etag! });
    expect(b.etag).not.toBe(a.etag);
    await expect(storage.put("c/k", "3", { ifMatch: a.etag! })).rejects.toBeInstanceOf(StorageConflictError);
    // 20 concurrent compare-and-swaps from one etag: exactly one wins.
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => storage.put("c/k", `v${i}`, { ifMatch: b.etag! })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((await storage.stat("c/k")).etag).not.toBe(b.etag);
  });

  it("move is a rename that keeps metadata; copy keeps metadata with a new etag", async () => {
    const { basePath, storage } = fresh();
    const put = await storage.put("m/src", "value", { metadata: { tag: "t" } });
    const ino = (await import("node:fs")).statSync(join(basePath, "m/src")).ino;
    await storage.move("m/src", "n/dst");
    expect((await import("node:fs")).statSync(join(basePath, "n/dst")).ino).toBe(ino);
    expect(await storage.stat("n/dst")).toMatchObject({ metadata: { tag: "t" }, valueType: "text", etag: put.etag });
    expect(existsSync(join(basePath, "m"))).toBe(false);
    await storage.copy("n/dst", "n/copy");
    const copy = await storage.stat("n/copy");
    expect(copy).toMatchObject({ metadata: { tag: "t" }, valueType: "text" });
    expect(copy.etag).not.toBe(put.etag);
    expect(await storage.get("n/copy")).toBe("value");
  });
});

describe("FileStorage: listing", () => {
  it("is sorted by code point, pages by cursor, and walks only the prefix's subtree", async () => {
    const { basePath, storage } = fresh({ fsync: false });
    const keys = ["a", "a-b", "a/b", "a/c/d", "b/\u{1f600}", "b/\uffff", "b/z", "ab"];
    for (const k of keys.filter((k) => k !== "a")) await storage.put(k, k);
    const all = await storage.list("");
    expect(all).toEqual(["a-b", "a/b", "a/c/d", "ab", "b/z", "b/\uffff", "b/\u{1f600}"]);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await storage.listPage("", { limit: 2, cursor });
      pages.push(page.items.map((i) => i.key));
      cursor = page.cursor;
    } while (cursor);
    expect(pages.flat()).toEqual(all);
    expect(await storage.list("a/")).toEqual(["a/b", "a/c/d"]);
    expect(await storage.list("a")).toEqual(["a-b", "a/b", "a/c/d", "ab"]);
    // An unreadable sibling subtree does not matter to a listing of another prefix.
    mkdirSync(join(basePath, "zz/deep"), { recursive: true });
    (await import("node:fs")).chmodSync(join(basePath, "zz"), 0o000);
    expect(await storage.list("b/")).toEqual(["b/z", "b/\uffff", "b/\u{1f600}"]);
    (await import("node:fs")).chmodSync(join(basePath, "zz"), 0o755);
  });
});

describe("FileStorage: listing keys only, and remembered listings", () => {
  /** A tree written by another tool, then left alone long enough for its listings to be remembered. */
  async function settledTree(basePath: string, keys: string[]): Promise<void> {
    for (const k of keys) {
      mkdirSync(join(basePath, k, ".."), { recursive: true });
      writeFileSync(join(basePath, k), k);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  it("list (keys only, no lstat per file) gives the keys iterate gives; keys-only pages carry size -1", async () => {
    const { basePath, storage } = fresh({ fsync: false });
    const keys: string[] = [];
    for (let p = 0; p < 7; p++) for (let q = 0; q < 3; q++) for (let k = 0; k < 9; k++) keys.push(`t/p${p}/q${q}/k${k}`);
    keys.push("t/p1-x", "t/p1.y", "t/\u{1f600}", "t/\uffff");
    await settledTree(basePath, keys);
    await storage.put("t/p3/q1/meta", "v", { metadata: { a: "b" } });
    const iterated: string[] = [];
    for await (const e of storage.iterate("t/", { pageSize: 7 })) {
      expect(e.size).toBeGreaterThan(0);
      iterated.push(e.key);
    }
    const listed = await storage.list("t/");
    expect(listed).toEqual(iterated);
    expect(listed).toEqual([...keys, "t/p3/q1/meta"].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    // Again, now from remembered listings, and by prefix, and in small keys-only pages.
    expect(await storage.list("t/")).toEqual(listed);
    expect(await storage.list("t/p1")).toEqual(listed.filter((k) => k.startsWith("t/p1")));
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await storage.listPage("t/p", { limit: 5, cursor, keysOnly: true });
      for (const e of page.items) {
        expect(e.size).toBe(-1);
        expect(Number.isNaN(e.lastModified.getTime())).toBe(true);
        paged.push(e.key);
      }
      cursor = page.cursor;
    } while (cursor);
    expect(paged).toEqual(listed.filter((k) => k.startsWith("t/p")));
    // Without the hint, entries carry size and time.
    const full = await storage.listPage("t/p0/q0/", { limit: 2 });
    expect(full.items.map((e) => [e.key, e.size])).toEqual([
      ["t/p0/q0/k0", 10],
      ["t/p0/q0/k1", 10],
    ]);
    await storage.close();
  });

  it("a remembered listing is not used once its directory changed (another tool adds, removes, swaps in a symlink)", async () => {
    const { basePath, storage } = fresh({ fsync: false });
    await settledTree(basePath, ["d/a", "d/b", "d/sub/x", "e/y"]);
    expect(await storage.list("")).toEqual(["d/a", "d/b", "d/sub/x", "e/y"]);
    expect(await storage.list("")).toEqual(["d/a", "d/b", "d/sub/x", "e/y"]);
    // Changes right after the listing (within the same clock tick as far as the cache can tell).
    writeFileSync(join(basePath, "d/c"), "c");
    rmSync(join(basePath, "d/a"));
    expect(await storage.list("")).toEqual(["d/b", "d/c", "d/sub/x", "e/y"]);
    // A remembered subdirectory replaced by a symlink to elsewhere is not followed.
    const outside = join(root, `outside-${n}`);
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, "secret"), "s");
    await new Promise((r) => setTimeout(r, 250));
    expect(await storage.list("d/")).toEqual(["d/b", "d/c", "d/sub/x"]);
    rmSync(join(basePath, "d/sub"), { recursive: true });
    (await import("node:fs")).symlinkSync(outside, join(basePath, "d/sub"));
    expect(await storage.list("d/")).toEqual(["d/b", "d/c"]);
    expect(await storage.list("")).toEqual(["d/b", "d/c", "e/y"]);
    // Through the storage too: a put and a delete show at once.
    await storage.put("e/z", "z");
    await storage.delete("d/b");
    expect(await storage.list("")).toEqual(["d/c", "e/y", "e/z"]);
    await storage.close();
  });
});

describe("FileStorage: registry", () => {
  it("registers config types file and fs (path required, fsync boolean)", async () => {
    expect(storagePlugins.map((p) => p.type)).toEqual(["file", "fs"]);
    // `fs` loads @pepperpy/storage-fs by convention (nothing registered it); the package's
    // plugins are all registered then, `file` with `fs`.
    for (const type of ["fs", "file"]) {
      const s = await createStorage({ type, path: join(root, `cfg-${type}`), fsync: false } as StorageConfig);
      expect(s).toBeInstanceOf(FileStorage);
      expect(s.capabilities.durable).toBe(false);
      await s.put("k", "v");
      expect(await s.get("k")).toBe("v");
      await s.close();
    }
    // @ts-expect-error path is required, for the compiler as at run time
    await expect(createStorage({ type: "file" })).rejects.toMatchObject({ code: "CONFIG" });
    // @ts-expect-error fsync is a boolean
    await expect(createStorage({ type: "fs", path: "/tmp/x", fsync: "yes" })).rejects.toMatchObject({ code: "CONFIG" });
  });
});

describe("FileStorage: constructor", () => {
  it("takes a path and options, or one options object; never ignores an argument", async () => {
    const path = join(root, "ctor");
    expect(new FileStorage(path).capabilities.durable).toBe(true);
    const twoArgs = new FileStorage(path, { fsync: false });
    expect(twoArgs.capabilities.durable).toBe(false);
    expect(twoArgs.basePath).toBe(path);
    await twoArgs.put("k", "v");
    expect(await twoArgs.get("k")).toBe("v");
    await twoArgs.close();
    expect(new FileStorage({ path, fsync: false }).capabilities.durable).toBe(false);
    expect(() => new FileStorage(path, { fsync: "no" as unknown as boolean })).toThrow(/Invalid option fsync/);
    // An options object and a second one: the second would be ignored, so it is refused.
    expect(() => new (FileStorage as new (...args: unknown[]) => FileStorage)({ basePath: path }, { fsync: false })).toThrow(
      expect.objectContaining({ code: "VALIDATION", message: expect.stringContaining("path and an options object") }),
    );
    expect(() => new (FileStorage as new (...args: unknown[]) => FileStorage)(path, "fsync=false")).toThrow(expect.objectContaining({ code: "VALIDATION" }));
  });

  it("refuses a misspelt option, naming it, as every constructor and config do (it would leave fsync on)", () => {
    const path = join(root, "ctor-names");
    const refused = (make: () => unknown): Error => {
      try {
        make();
      } catch (error) {
        return error as Error;
      }
      throw new Error("expected the constructor to throw");
    };
    const typo = refused(() => new FileStorage(path, { fsnc: false } as never));
    expect(typo).toBeInstanceOf(StorageConfigError);
    expect(typo.message).toBe("FileStorage options.fsnc: unknown option (did you mean fsync?) (known: clock, defaultTtl, fsync, maxSize, orphanAge, timeout)");
    // The one-object form knows basePath too; snake_case gets the code's name.
    expect(refused(() => new FileStorage({ path, orphan_age: 5 } as never)).message).toMatch(
      /^FileStorage options\.orphan_age: unknown option \(in code the option is orphanAge\) \(known: basePath, clock, defaultTtl, fsync, maxSize, orphanAge, path, /,
    );
    // With a path first, a basePath among the other options would be ignored: refused.
    expect(refused(() => new FileStorage(path, { basePath: "/elsewhere" } as never)).message).toMatch(/^FileStorage options\.basePath: unknown option/);
    expect(refused(() => new FileStorage(path, { fsync: false, nope: 1 } as never))).toMatchObject({ code: "CONFIG" });
    // Every documented option, and the common ones, still pass.
    expect(() => new FileStorage(path, { fsync: false, orphanAge: 1000, timeout: 5, maxSize: 10, defaultTtl: 1000, clock: Date.now })).not.toThrow();
    expect(() => new FileStorage({ path, fsync: true, orphanAge: 1000 })).not.toThrow();
  });

  it("names the base directory path in an options object, as config does; basePath, its former name, still works but not beside it", async () => {
    const dir = join(root, "ctor-path");
    const byPath = new FileStorage({ path: dir, fsync: false });
    await byPath.put("k.txt", "v");
    expect(byPath.basePath).toBe(dir);
    const byOldName = new FileStorage({ basePath: dir, fsync: false });
    expect(await byOldName.get("k.txt")).toBe("v");
    expect(() => new FileStorage({ path: dir, basePath: dir })).toThrow(/give path or its former name basePath, not both/);
    expect(() => new FileStorage({ fsync: false })).toThrow(/FileStorage needs a path/);
    expect(() => new FileStorage(dir, { path: "/elsewhere" } as never)).toThrow(/^FileStorage options\.path: unknown option/);
    await byPath.close();
    await byOldName.close();
  });
});
