import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { NEVER_ABORTED, StorageConflictError, StorageIntegrityError, compareKeys, createStorage, parseConfig, registerLayer } from "@pepperpy/storage-core";
import { layerPlugin as compressionPlugin } from "@pepperpy/storage-compress";
import { layerPlugin as encryptionPlugin } from "@pepperpy/storage-crypto";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteDriver, SqliteStorage, prefixUpperBound } from "../src/index.js";

// Core loads a layer from @pepperpy/storage-<name>; compression and encryption are named
// otherwise, so a core-only setup registers them (the umbrella @pepperpy/storage does it itself).
registerLayer(compressionPlugin);
registerLayer(encryptionPlugin);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "pepperpy-sqlite-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
let n = 0;
const dbPath = () => join(root, `t-${++n}.db`);
const ctx = (operation: string) => ({ signal: NEVER_ABORTED, operation });

describe("key order", () => {
  it("lists in code-point order: astral characters after U+E000-U+FFFF, as UTF-8 bytes sort (UTF-16 order differs)", async () => {
    const storage = new SqliteStorage(dbPath());
    const names = ["\u{10000}", "\u{1F600}", "\uffff", "\ufffd", "\ue000", "\ud7ff", "z", "\u00e9", "\u{10FFFF}"];
    const keys = names.map((c) => `o/${c}`);
    for (const k of keys) await storage.put(k, k);
    const byCodePoint = [...keys].sort(compareKeys);
    // The order this test guards: UTF-16 code-unit order would put the astral keys before U+E000.
    expect(byCodePoint).not.toEqual([...keys].sort());
    expect(await storage.list("o/")).toEqual(byCodePoint);
    const paged: string[] = [];
    for await (const e of storage.iterate("o/", { pageSize: 2 })) paged.push(e.key);
    expect(paged).toEqual(byCodePoint);
    await storage.close();
  });

  it("a prefix ending in U+10FFFF or U+D7FF lists exactly the keys under it", async () => {
    const storage = new SqliteStorage(dbPath());
    const keys = ["p\u{10FFFF}", "p\u{10FFFF}x", "p\u{10FFFF}\u{10FFFF}", "q", "p\ud7ff", "p\ud7ffa", "p\ue000", "p"];
    for (const k of keys) await storage.put(k, "v");
    expect(await storage.list("p\u{10FFFF}")).toEqual(["p\u{10FFFF}", "p\u{10FFFF}x", "p\u{10FFFF}\u{10FFFF}"]);
    expect(await storage.list("p\ud7ff")).toEqual(["p\ud7ff", "p\ud7ffa"]);
    expect(await storage.list("p")).toEqual(keys.filter((k) => k.startsWith("p")).sort(compareKeys));
    expect(prefixUpperBound("a\u{10FFFF}")).toBe("b");
    expect(prefixUpperBound("\u{10FFFF}")).toBeUndefined();
    await storage.close();
  });
});

describe("database file", () => {
  it("runs in WAL mode with the table, and values, types, metadata and expiry survive reopening", async () => {
    const path = dbPath();
    const storage = new SqliteStorage(path);
    await storage.put("j", { a: [1, "x"] }, { metadata: { owner: "ana" }, contentType: "application/vnd.x+json" });
    await storage.put("b", new Uint8Array([0, 255, 7]));
    const driver = new SqliteDriver({ path });
    const deadline = Date.now() + 3_600_000;
    await driver.write(
      "e",
      { body: Buffer.from("soon"), valueType: "text", contentType: "text/plain", metadata: {}, expiresAt: deadline, options: {} },
      ctx("put"),
    );
    await driver.close();
    await storage.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(raw.prepare("SELECT expires_at FROM pepperpy_storage WHERE key = 'e'").pluck().get()).toBe(deadline);
    raw.close();

    const again = new SqliteStorage(path);
    expect(await again.get("j")).toEqual({ a: [1, "x"] });
    expect(await again.get("b")).toEqual(Buffer.from([0, 255, 7]));
    const info = await again.stat("j");
    expect(info.metadata).toEqual({ owner: "ana" });
    expect(info.contentType).toBe("application/vnd.x+json");
    expect((await again.stat("e")).expiresAt?.getTime()).toBe(deadline);
    const [entry] = (await again.listPage("e")).items;
    expect(entry?.expiresAt?.getTime()).toBe(deadline);
    expect((await again.stat("j")).expiresAt).toBeUndefined();
    await again.close();
  });

  it("a file that is not a database is a StorageIntegrityError naming the operation, on every call", async () => {
    const path = dbPath();
    writeFileSync(path, "this is not a database, just text that is long enough to have a header".repeat(20));
    const storage = new SqliteStorage(path);
    const error = await storage.get("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageIntegrityError);
    expect((error as StorageIntegrityError).operation).toBe("get");
    await expect(storage.put("k", "v")).rejects.toBeInstanceOf(StorageIntegrityError);
    await storage.close();
  });

  it("two storages on one file: of 10 concurrent creates with ifNoneMatch '*', exactly one wins", async () => {
    const path = dbPath();
    const a = new SqliteStorage(path);
    const b = new SqliteStorage(path);
    await a.exists("x");
    await b.exists("x");
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).put("once", `w${i}`, { ifNoneMatch: "*" })));
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StorageConflictError);
    // Compare-and-swap across connections.
    const info = await a.stat("once");
    await b.put("once", "swapped", { ifMatch: info.etag });
    await expect(a.put("once", "stale", { ifMatch: info.etag })).rejects.toBeInstanceOf(StorageConflictError);
    expect(await a.get("once")).toBe("swapped");
    await a.close();
    await b.close();
  });

  it("copy and move run inside the database, keeping type, content type and metadata", async () => {
    const storage = new SqliteStorage(dbPath());
    await storage.put("src", { v: 1 }, { metadata: { m: "1" } });
    await storage.copy("src", "dst");
    await storage.move("dst", "moved");
    expect(await storage.exists("dst")).toBe(false);
    expect(await storage.get("moved")).toEqual({ v: 1 });
    expect((await storage.stat("moved")).metadata).toEqual({ m: "1" });
    expect((await storage.stat("moved")).etag).not.toBe((await storage.stat("src")).etag);
    await storage.close();
  });

  it("util.inspect and JSON.stringify of the storage work and show its table", async () => {
    const storage = new SqliteStorage(dbPath());
    expect(JSON.stringify(storage)).toContain("pepperpy_storage");
    expect(inspect(storage)).toContain("SqliteStorage");
    await storage.close();
  });
});

describe("storagePlugin (config type: sqlite)", () => {
  it("builds a SqliteStorage from YAML text, loading the package on demand", async () => {
    const path = dbPath();
    const config = await parseConfig(["storage:", "  type: sqlite", `  path: ${path}`, "  table: app_values", "  synchronous: normal", "  busy_timeout: 2.5"].join("\n"));
    const storage = await createStorage(config);
    expect(storage).toBeInstanceOf(SqliteStorage);
    expect((storage as SqliteStorage).table).toBe("app_values");
    await storage.put("from/yaml", "yes");
    expect(await storage.get("from/yaml")).toBe("yes");
    await storage.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT count(*) FROM app_values").pluck().get()).toBe(1);
    raw.close();
  });

  it("builds the whole layer stack over sqlite from YAML, in the documented order", async () => {
    const yaml = [
      "storage:",
      "  type: sqlite",
      `  path: ${dbPath()}`,
      "  options:",
      "    metrics: true",
      "    cache: { size: 10 }",
      "    compression: { threshold: 0 }",
      "    encryption: { key: ${STORAGE_KEY} }",
      "    retry: { max: 2, delay: 0.01 }",
    ].join("\n");
    const storage = await createStorage(await parseConfig(yaml, { env: { STORAGE_KEY: "a passphrase from the environment" } }));
    expect(storage.name).toBe("metrics(cache(compress(crypto(retry(sqlite)))))");
    await storage.put("a/1", { deep: ["x", 1] });
    await storage.put("a/2", "text");
    expect(await storage.get("a/1")).toEqual({ deep: ["x", 1] });
    expect(await storage.list("a/")).toEqual(["a/1", "a/2"]);
    await storage.close();
  });

  it("rejects a bad table name or synchronous value with a StorageConfigError naming the field", async () => {
    // @ts-expect-error path is required, for the compiler as at run time
    await expect(createStorage({ type: "sqlite" })).rejects.toMatchObject({ code: "CONFIG" });
    await expect(createStorage({ type: "sqlite", path: dbPath(), table: "x; DROP TABLE y" })).rejects.toMatchObject({ code: "CONFIG" });
    // @ts-expect-error synchronous is "full" or "normal"
    await expect(createStorage({ type: "sqlite", path: dbPath(), synchronous: "off" })).rejects.toThrow(/synchronous/);
  });
});

describe("purgeExpired", () => {
  it("is one DELETE judged by the storage's clock, not SQLite's time, and stays inside the prefix", async () => {
    const path = dbPath();
    let now = Date.UTC(2040, 0, 1); // far from the machine's time: SQLite's clock would find nothing expired
    const storage = new SqliteStorage({ path, clock: () => now });
    await storage.put("p/a", "a", { ttl: 1000 });
    await storage.put("p/b", "b", { ttl: 60_000 });
    await storage.put("p/c", "c");
    await storage.put("q/a", "qa", { ttl: 1000 });
    now += 2000;
    expect(await storage.purgeExpired("p/")).toBe(1);
    await storage.close();
    // The rows themselves: p/a is gone; p/b (later deadline), p/c (none) and q/a (other prefix) stay.
    const db = new Database(path, { readonly: true });
    try {
      const keys = db.prepare("SELECT key FROM pepperpy_storage ORDER BY key").pluck().all();
      expect(keys).toEqual(["p/b", "p/c", "q/a"]);
    } finally {
      db.close();
    }
  });
});
