import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageUnavailableError, StorageValidationError } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import Keyv from "keyv";
import { afterAll, describe, expect, it } from "vitest";
import { KeyvStorage, withIterator } from "../src/index.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("KeyvStorage", () => {
  it("stores namespace:key as namespace/key and clears only the namespace", async () => {
    const storage = new MemoryStorage();
    const users = new Keyv({ store: new KeyvStorage(storage), namespace: "users" });
    const sessions = new Keyv({ store: new KeyvStorage(storage), namespace: "sessions" });
    await users.set("1", { name: "Ann" });
    await sessions.set("1", "token");
    expect(await storage.list()).toStrictEqual(["sessions/1", "users/1"]);
    await users.clear();
    expect(await storage.list()).toStrictEqual(["sessions/1"]);
    expect(await sessions.get("1")).toBe("token");
  });

  it("expires natively: the storage itself hides the value from its deadline", async () => {
    let now = Date.now();
    const storage = new MemoryStorage({ clock: () => now });
    const keyv = new Keyv({ store: new KeyvStorage(storage) });
    await keyv.set("a", "short", 1000);
    expect((await storage.stat("keyv/a")).expiresAt?.getTime()).toBe(now + 1000);
    now += 1000;
    // Purged before any read (the memory backend may drop an expired key it reads).
    expect(await storage.purgeExpired()).toBe(1);
    expect(await storage.exists("keyv/a")).toBe(false);
    expect(await keyv.get("a")).toBeUndefined();
  });

  it("refuses URL-shaped keys in plain mode (set is false, error emitted) and stores them with keyEncoding: escape", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-keyv-"));
    dirs.push(dir);
    const storage = new FileStorage(dir, { fsync: false });
    const plain = new Keyv({ store: new KeyvStorage(storage), namespace: "http" });
    const errors: unknown[] = [];
    plain.on("error", (e) => errors.push(e));
    expect(await plain.set("https://example.com/a?b=1", "page")).toBe(false);
    expect(errors[0]).toBeInstanceOf(StorageValidationError);

    const escaped = withIterator(new Keyv({ store: new KeyvStorage(storage, { keyEncoding: "escape" }), namespace: "http" }));
    const url = "https://example.com/a?b=1";
    const long = `k${"x".repeat(299)}`;
    expect(await escaped.set(url, "page")).toBe(true);
    expect(await escaped.set(long, "300-byte segment")).toBe(true);
    expect(await escaped.get(url)).toBe("page");
    expect(await escaped.get(long)).toBe("300-byte segment");
    expect(await storage.list()).toContain("http/https:/%/example.com/a?b=1");
    const keys: string[] = [];
    for await (const [key] of escaped.iterator!(undefined)) keys.push(key as string);
    expect(keys.sort()).toStrictEqual([long, url].sort());
    await storage.close();
  });

  it("delete and deleteMany answer whether keys existed", async () => {
    const keyv = new Keyv({ store: new KeyvStorage(new MemoryStorage()) });
    await keyv.set("a", 1);
    expect(await keyv.delete("a")).toBe(true);
    expect(await keyv.delete("a")).toBe(false);
    await keyv.set("b", 1);
    expect(await keyv.delete(["b", "c"])).toBe(true);
    expect(await keyv.delete(["b", "c"])).toBe(false);
  });

  it("disconnect closes the storage; invalid options are refused", async () => {
    const storage = new MemoryStorage();
    const keyv = new Keyv({ store: new KeyvStorage(storage) });
    await keyv.disconnect();
    await expect(storage.get("x")).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(() => new KeyvStorage(storage, { keyEncoding: "base64" as never })).toThrow(StorageValidationError);
    expect(() => withIterator(new Keyv())).toThrow(StorageValidationError);
  });
});
