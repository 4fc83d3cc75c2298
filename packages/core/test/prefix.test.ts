import {
  type StorageEvent,
  StorageIntegrityError,
  StorageNotFoundError,
  StorageUnavailableError,
  StorageValidationError,
  readEntryStream,
  readEntry
} from "@pepperpy/storage-core";
import { EncryptedStorage } from "@pepperpy/storage-crypto";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("withPrefix", () => {
  it("reads and writes prefix + key underneath, and sees nothing outside the prefix", async () => {
    const root = new MemoryStorage();
    await root.put("tenant-b/x", "other tenant");
    await root.put("tenant-ab", "sibling with the same start");
    const a = root.withPrefix("tenant-a/");
    const info = await a.put("x", "mine");
    expect(info.key).toBe("x");
    expect(await root.get("tenant-a/x")).toBe("mine");
    expect(await a.get("x")).toBe("mine");
    expect((await a.stat("x")).key).toBe("x");
    expect((await readEntry(a, "x")).info.key).toBe("x");
    expect((await readEntryStream(a, "x")).info.key).toBe("x");
    expect(await a.exists("x")).toBe(true);
    expect(await a.list()).toStrictEqual(["x"]);
    await expect(a.get("tenant-b/x")).rejects.toBeInstanceOf(StorageNotFoundError);
  });

  it("lists, pages and iterates with relative keys and cursors", async () => {
    const root = new MemoryStorage();
    const v = root.withPrefix("p/");
    await v.putMany(Array.from({ length: 7 }, (_, i) => [`k${i}`, String(i)] as const));
    await root.put("q/k9", "outside");
    expect(await v.list("k")).toStrictEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
    const page = await v.listPage("", { limit: 3 });
    expect(page.items.map((e) => e.key)).toStrictEqual(["k0", "k1", "k2"]);
    expect(page.cursor).toBe("k2");
    const next = await v.listPage("", { limit: 3, cursor: page.cursor });
    expect(next.items.map((e) => e.key)).toStrictEqual(["k3", "k4", "k5"]);
    expect((await collect(v.iterate("", { pageSize: 2 }))).map((e) => e.key)).toHaveLength(7);
  });

  it("keeps copy, move and batches inside the prefix", async () => {
    const root = new MemoryStorage();
    const v = root.withPrefix("p/");
    await v.put("a", { n: 1 }, { metadata: { who: "me" } });
    await v.copy("a", "b");
    await v.move("b", "c");
    expect(await root.list()).toStrictEqual(["p/a", "p/c"]);
    expect((await v.stat("c")).metadata).toStrictEqual({ who: "me" });
    expect(await v.getMany(["a", "zz", "c"])).toStrictEqual([{ n: 1 }, undefined, { n: 1 }]);
    await v.deleteMany(["a", "c"]);
    expect(await root.list()).toStrictEqual([]);
  });

  it("reports relative keys in events for every operation; the storage underneath reports full keys", async () => {
    const root = new MemoryStorage();
    const v = root.withPrefix("p/");
    const names = ["storage.put", "storage.get", "storage.delete", "storage.error"] as const;
    let outer: StorageEvent[] = [];
    let inner: StorageEvent[] = [];
    for (const name of names) {
      v.on(name, (e) => outer.push({ ...e, operation: `${name} ${e.operation}` }));
      root.on(name, (e) => inner.push({ ...e, operation: `${name} ${e.operation}` }));
    }
    /** Runs one operation on the view; returns `"event operation key"` per event of the view and of the storage underneath. */
    const events = async (op: () => Promise<unknown>): Promise<{ view: string[]; under: string[] }> => {
      outer = [];
      inner = [];
      await op().catch(() => undefined);
      for (const e of outer) {
        // An error event's error names the same relative key.
        if (e.error) expect(e.error.key, e.operation).toBe(e.key);
      }
      return { view: outer.map((e) => `${e.operation} ${e.key}`).sort(), under: inner.map((e) => `${e.operation} ${e.key}`).sort() };
    };
    /** Every event of the view carries the relative key, and the storage underneath emits it on the full key. */
    const same = async (op: () => Promise<unknown>, expected: string[]): Promise<void> => {
      const { view, under } = await events(op);
      expect(view).toStrictEqual([...expected].sort());
      expect(under).toStrictEqual(view.map((line) => line.replace(/ (\S+)$/, " p/$1")));
    };

    await same(() => v.put("a", "x"), ["storage.put put a"]);
    await same(() => v.get("a"), ["storage.get get a"]);
    await same(() => v.getBytes("a"), ["storage.get getBytes a"]);
    await same(async () => {
      for await (const _ of await v.getStream("a"));
    }, ["storage.get getStream a"]);
    await same(() => v.copy("a", "b"), ["storage.put copy a"]);
    await same(() => v.move("b", "c"), ["storage.delete move b"]);
    await same(
      () =>
        v.putMany([
          ["d", "1"],
          ["e", "2"],
        ]),
      ["storage.put put d", "storage.put put e"],
    );
    await same(() => v.getMany(["d", "missing"]), ["storage.get get d", "storage.error get missing"]);
    await same(() => v.deleteMany(["d", "e"]), ["storage.delete deleteMany d", "storage.delete deleteMany e"]);
    await same(() => v.delete("c"), ["storage.delete delete c"]);
    await same(() => v.get("missing"), ["storage.error get missing"]);
    await same(() => v.stat("missing"), ["storage.error stat missing"]);
    // exists, stat, list and the rest emit no success event; their failures carry relative keys.
    for (const quiet of [() => v.exists("a"), () => v.stat("a"), () => v.list("a"), () => v.listPage(""), () => v.purgeExpired()]) {
      expect(await events(quiet)).toStrictEqual({ view: [], under: [] });
    }
    // The storage underneath refuses every call once closed: each error reaches the view's listeners on its relative key.
    await v.put("a", "x");
    await root.close();
    const failures: [string, () => Promise<unknown>, string][] = [
      ["exists", () => v.exists("a"), "storage.error exists a"],
      ["stat", () => v.stat("a"), "storage.error stat a"],
      ["list", () => v.list("q/"), "storage.error listPage q/"],
      ["listPage", () => v.listPage("q/"), "storage.error listPage q/"],
      [
        "iterate",
        async () => {
          for await (const _ of v.iterate("q/"));
        },
        "storage.error listPage q/",
      ],
      ["purgeExpired", () => v.purgeExpired("q/"), "storage.error purgeExpired q/"],
      ["copy", () => v.copy("a", "b"), "storage.error copy a"],
      ["move", () => v.move("a", "b"), "storage.error move a"],
      ["delete", () => v.delete("a"), "storage.error delete a"],
      ["put", () => v.put("a", "y"), "storage.error put a"],
    ];
    for (const [name, op, expected] of failures) {
      const { view, under } = await events(op);
      expect(view, name).toStrictEqual([expected]);
      expect(under.length, name).toBeGreaterThan(0);
      for (const line of under) expect(line, name).toMatch(/ p\/(a|q\/)$/);
    }
    const batch = await events(() => v.getMany(["a", "b"]));
    expect(batch.view).toStrictEqual(["storage.error get a", "storage.error get b"]);
    expect(batch.under).toStrictEqual(["storage.error get p/a", "storage.error get p/b"]);
    // A batch refused as a whole names no key, on the view as on the storage underneath.
    const deletes = await events(() => v.deleteMany(["a", "b"]));
    expect(deletes.view.length).toBeGreaterThan(0);
    for (const line of deletes.view) expect(line).toMatch(/^storage\.error deleteMany (a|b|undefined)$/);
    const puts = await events(() => v.putMany([["a", "1"]]));
    expect(puts.view).toStrictEqual(["storage.error put a"]);
  });

  it("names the relative key and the prefix in errors", async () => {
    const v = new MemoryStorage().withPrefix("tenant-a/");
    const missing = await v.get("nope").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(StorageNotFoundError);
    expect((missing as StorageNotFoundError).key).toBe("nope");
    expect((missing as StorageNotFoundError).message).toContain("tenant-a/");
    // Too long once prefixed: refused by the storage underneath, reported on the relative key.
    const long = "k".repeat(1020);
    const tooLong = await v.put(long, "x").catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(StorageValidationError);
    expect((tooLong as StorageValidationError).key).toBe(long);
    expect((tooLong as StorageValidationError).backend).toBe("prefix[tenant-a/](memory)");
  });

  it("refuses prefixes that are not a key followed by '/'", () => {
    const root = new MemoryStorage();
    for (const bad of ["", "a", "/a/", "a//", "a/../", "./", 42]) {
      expect(() => root.withPrefix(bad as string), JSON.stringify(bad)).toThrow(StorageValidationError);
    }
    expect(root.withPrefix("a/b/").name).toBe("prefix[a/b/](memory)");
  });

  it("closing the view leaves the storage underneath open", async () => {
    const root = new MemoryStorage();
    const v = root.withPrefix("p/");
    await v.put("a", "x");
    await v.close();
    await expect(v.get("a")).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(await root.get("p/a")).toBe("x");
  });

  it("an encryption layer under the view binds each value to its full key", async () => {
    const memory = new MemoryStorage();
    const encrypted = new EncryptedStorage({ backend: memory, key: new Uint8Array(32).fill(7) });
    const a = encrypted.withPrefix("tenant-a/");
    const b = encrypted.withPrefix("tenant-b/");
    await a.put("secret", "a's data");
    // Move the ciphertext to the other tenant's key, below the encryption layer.
    await memory.copy("tenant-a/secret", "tenant-b/secret");
    await expect(b.get("secret")).rejects.toBeInstanceOf(StorageIntegrityError);
    expect(await a.get("secret")).toBe("a's data");
  });

  it("expires with the clock of the storage underneath, and purges only its prefix", async () => {
    let now = 5_000;
    const root = new MemoryStorage({ clock: () => now });
    const v = root.withPrefix("p/");
    const info = await v.put("a", "x", { ttl: 100 });
    expect(info.expiresAt?.getTime()).toBe(5_100);
    await root.put("q/b", "y", { ttl: 1000 });
    now = 5_100;
    // Purged before any read (the memory backend may drop an expired key it reads).
    expect(await v.purgeExpired()).toBe(1);
    expect(await root.list()).toStrictEqual(["q/b"]);
    await expect(v.get("a")).rejects.toBeInstanceOf(StorageNotFoundError);
    expect(await v.list()).toStrictEqual([]);
  });
});
