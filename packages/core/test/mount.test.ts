import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ForwardingDriver,
  LayerStorage,
  MountStorage,
  StorageConfigError,
  StorageNotFoundError,
  StorageUnavailableError,
  StorageValidationError,
  compareKeys,
  createStorage,
  parseConfig,
  registerStorage,
} from "@pepperpy/storage-core";
import { FileStorage, storagePlugins as filePlugins } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { afterAll, describe, expect, it } from "vitest";

// Core alone loads a type or layer from @pepperpy/storage-<name>; `type: file`, named otherwise,
// is registered as a core-only user does (the umbrella @pepperpy/storage registers them itself).
for (const plugin of filePlugins) registerStorage(plugin);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("MountStorage", () => {
  it("routes each key to the longest matching mount point, without the point", async () => {
    const root = new MemoryStorage();
    const cache = new MemoryStorage();
    const hot = new MemoryStorage();
    const m = new MountStorage({ "": root, cache, "cache/hot/": hot });
    await m.put("a", "root");
    await m.put("cache/x", "cache");
    await m.put("cache/hot/y", "hot");
    await m.put("cached", "root again");
    expect(await root.list()).toStrictEqual(["a", "cached"]);
    expect(await cache.list()).toStrictEqual(["x"]);
    expect(await hot.list()).toStrictEqual(["y"]);
    expect(await m.get("cache/hot/y")).toBe("hot");
    expect((await m.stat("cache/x")).key).toBe("cache/x");
    expect((await m.put("cache/z", "1")).key).toBe("cache/z");
    expect(m.name).toBe("mount(/=memory, cache/=memory, cache/hot/=memory)");
  });

  it("lists across mounts in key order, hiding an outer mount's keys under an inner mount point", async () => {
    const root = new MemoryStorage();
    const cache = new MemoryStorage();
    // Written to the root before "cache/" was mounted: shadowed from now on.
    await root.put("cache/old", "shadowed");
    await root.put("cache0", "after the mount's range");
    await root.put("b", "x");
    await cache.put("new", "x");
    const m = new MountStorage({ "": root, "cache/": cache });
    expect(await m.list()).toStrictEqual(["b", "cache/new", "cache0"]);
    expect(await m.list("cache")).toStrictEqual(["cache/new", "cache0"]);
    expect(await m.list("cache/")).toStrictEqual(["cache/new"]);
    await expect(m.get("cache/old")).rejects.toBeInstanceOf(StorageNotFoundError);
    expect(await m.exists("cache/old")).toBe(false);
  });

  it("pages and iterates like one sorted key space (model check over nested mounts and shadowed keys)", async () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const points = ["", "a/", "a/b/", "c/", "m/"];
    const stores = points.map(() => new MemoryStorage());
    const expected = new Set<string>();
    const names = ["a", "a/b", "a/b/c", "a/bb", "b", "c", "c/", "m", "a/b/", "z", "é", "😀"];
    for (let i = 0; i < 300; i++) {
      const key = `${names[rand(names.length)]}${rand(40)}`;
      // Write straight to a random store whose point starts the key (maybe a shadowed spot).
      const candidates = points.map((p, j) => [p, j] as const).filter(([p]) => key.startsWith(p));
      const [point, j] = candidates[rand(candidates.length)]!;
      await stores[j]!.put(key.slice(point.length), "v");
      const owner = candidates.reduce((best, c) => (c[0].length > best[0].length ? c : best));
      if (owner[1] === j) expected.add(key);
    }
    const m = new MountStorage(points.map((p, j) => [p, stores[j]!] as const));
    const all = [...expected].sort(compareKeys);
    for (const prefix of ["", "a", "a/", "a/b", "a/b/", "c", "m", "z", "q"]) {
      const want = all.filter((k) => k.startsWith(prefix));
      expect(await m.list(prefix), `list(${prefix})`).toStrictEqual(want);
      for (const pageSize of [1, 3, 50]) {
        expect((await collect(m.iterate(prefix, { pageSize }))).map((e) => e.key), `iterate(${prefix}, ${pageSize})`).toStrictEqual(want);
      }
      let cursor: string | undefined;
      const paged: string[] = [];
      do {
        const page = await m.listPage(prefix, { limit: 4, cursor });
        if (page.cursor !== undefined) {
          expect(page.items.length).toBeGreaterThan(0);
          expect(page.cursor).toBe(page.items[page.items.length - 1]!.key);
        }
        paged.push(...page.items.map((e) => e.key));
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(paged, `listPage(${prefix})`).toStrictEqual(want);
    }
  });

  it("copies and moves across mounts with type, content type and metadata", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-mount-"));
    dirs.push(dir);
    const file = new FileStorage(dir, { fsync: false });
    const memory = new MemoryStorage();
    const m = new MountStorage({ "": file, "tmp/": memory });
    await m.put("tmp/blob", Buffer.alloc(200_000, 3), { contentType: "application/x-blob", metadata: { a: "1" } });
    await m.put("tmp/json", { n: 1 });
    await m.copy("tmp/blob", "kept/blob");
    await m.move("tmp/json", "kept/json");
    expect(Buffer.compare(Buffer.from(await m.getBytes("kept/blob")), Buffer.alloc(200_000, 3))).toBe(0);
    const info = await m.stat("kept/blob");
    expect(info.contentType).toBe("application/x-blob");
    expect(info.metadata).toStrictEqual({ a: "1" });
    expect(await m.get("kept/json")).toStrictEqual({ n: 1 });
    expect(await m.exists("tmp/json")).toBe(false);
    expect(await file.list()).toStrictEqual(["kept/blob", "kept/json"]);
    await expect(m.copy("tmp/missing", "x")).rejects.toBeInstanceOf(StorageNotFoundError);
    await m.close();
  });

  it("refuses keys under no mount, before any write of a batch", async () => {
    const cache = new MemoryStorage();
    const m = new MountStorage({ "cache/": cache });
    const error = await m.put("other", "x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageValidationError);
    expect((error as StorageValidationError).key).toBe("other");
    await expect(m.putMany([["cache/a", "1"], ["other", "2"]])).rejects.toBeInstanceOf(StorageValidationError);
    expect(await cache.list()).toStrictEqual([]);
    await expect(m.deleteMany(["cache/a", "other"])).rejects.toBeInstanceOf(StorageValidationError);
    expect(await m.list()).toStrictEqual([]);
  });

  it("names the full key and the mount in errors", async () => {
    const m = new MountStorage({ "": new MemoryStorage(), "cache/": new MemoryStorage({ maxSize: 2 }) });
    const error = await m.put("cache/big", "too big").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageValidationError);
    expect((error as StorageValidationError).key).toBe("cache/big");
    expect((error as StorageValidationError).backend).toBe("mount[cache/](memory)");
  });

  it("has the capabilities every mount has, and close closes every mount", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-mount-"));
    dirs.push(dir);
    const file = new FileStorage(dir, { fsync: false });
    const memory = new MemoryStorage();
    const m = new MountStorage({ "": memory, "files/": file });
    expect(m.capabilities.persistent).toBe(false);
    expect(m.capabilities.keyIsAlsoPrefix).toBe(false);
    expect(m.capabilities.serverSideCopy).toBe(false);
    await m.close();
    await expect(memory.get("x")).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(file.get("x")).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it("refuses bad mount tables", () => {
    const s = new MemoryStorage();
    expect(() => new MountStorage({})).toThrow(StorageValidationError);
    expect(() => new MountStorage({ "a//": s })).toThrow(StorageValidationError);
    expect(() => new MountStorage([["a", s], ["a/", s]])).toThrow(StorageValidationError);
    expect(() => new MountStorage({ a: "not a storage" as never })).toThrow(StorageValidationError);
  });

  it("is built from config type: mount with mounts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-mount-"));
    dirs.push(dir);
    const config = await parseConfig(
      `storage:\n  type: mount\n  mounts:\n    "":\n      type: file\n      path: ${dir}\n      timeout: 5\n    cache/:\n      type: memory\n`,
    );
    const m = await createStorage(config);
    expect(m).toBeInstanceOf(MountStorage);
    await m.put("cache/a", "in memory");
    await m.put("b", "on disk");
    expect(await m.list()).toStrictEqual(["b", "cache/a"]);
    await m.close();
    await expect(createStorage({ type: "mount", mounts: { "a//": { type: "memory" } } })).rejects.toBeInstanceOf(StorageConfigError);
    // @ts-expect-error "nope" is no type: nested configs are checked too
    await expect(createStorage({ type: "mount", mounts: { x: { type: "nope" } } })).rejects.toThrow(/mounts\."x"\.type/);
    await expect(createStorage({ type: "mount", mounts: {} })).rejects.toBeInstanceOf(StorageConfigError);
  });

  it("keeps the deadline across mounts, hides expired keys and purges every mount", async () => {
    let now = 1_000_000;
    const clock = () => now;
    const m = new MountStorage({ "": new MemoryStorage({ clock }), "tmp/": new MemoryStorage({ clock }) }, { clock });
    const info = await m.put("tmp/a", "short-lived", { ttl: 1000 });
    await m.copy("tmp/a", "kept/a");
    expect((await m.stat("kept/a")).expiresAt?.getTime()).toBe(info.expiresAt?.getTime());
    await m.put("kept/forever", "x");
    now += 1000;
    expect(await m.purgeExpired()).toBe(2);
    expect(await m.list()).toStrictEqual(["kept/forever"]);
    await expect(m.get("tmp/a")).rejects.toBeInstanceOf(StorageNotFoundError);
  });

  it("lists past a mount whose first keys expired", async () => {
    let now = 1_000_000;
    const clock = () => now;
    const root = new MemoryStorage({ clock });
    // The memory backend keeps its own (frozen) clock and lists every entry; the layer over
    // it has the moving clock and leaves the expired ones out of its pages.
    const lagging = new MemoryStorage({ clock: () => 1_000_000 });
    const b = new LayerStorage(new ForwardingDriver(lagging, "layer"), { clock });
    await root.putMany([["a", "1"], ["c", "3"]]);
    for (let i = 1; i <= 5; i++) await b.put(`${i}`, "short", { ttl: 10 });
    await b.put("9", "live");
    now += 10;
    const m = new MountStorage({ "": root, "b/": b }, { clock });
    expect((await collect(m.iterate("", { pageSize: 2 }))).map((e) => e.key)).toStrictEqual(["a", "b/9", "c"]);
  });
});
