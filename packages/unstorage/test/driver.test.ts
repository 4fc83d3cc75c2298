import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageUnavailableError, StorageValidationError } from "@pepperpy/storage-core";
import { EncryptedStorage } from "@pepperpy/storage-crypto";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { createStorage, prefixStorage } from "unstorage";
import { afterAll, describe, expect, it } from "vitest";
import { storageDriver } from "../src/index.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("storageDriver", () => {
  it("is an unstorage Driver and maps ':' to '/'", async () => {
    const storage = new MemoryStorage();
    const u = createStorage({ driver: storageDriver({ storage }) });
    await u.setItem("users:1:profile", { name: "Ann" });
    expect(await storage.list()).toStrictEqual(["users/1/profile"]);
    await storage.put("users/2/profile", { name: "Bob" });
    expect(await u.getKeys("users")).toStrictEqual(["users:1:profile", "users:2:profile"]);
    expect(await u.getItem("users:2:profile")).toStrictEqual({ name: "Bob" });
    // unstorage's own prefixStorage and mounts work over it.
    const users = prefixStorage(u, "users");
    expect(await users.getKeys()).toStrictEqual(["1:profile", "2:profile"]);
  });

  it("reports meta from stat, and TTL (seconds) natively", async () => {
    let now = Date.now();
    const storage = new MemoryStorage({ clock: () => now });
    const u = createStorage({ driver: storageDriver({ storage }) });
    await storage.put("doc", "x", { metadata: { author: "ann" }, contentType: "text/markdown" });
    const meta = await u.getMeta("doc");
    expect(meta.mtime).toBeInstanceOf(Date);
    expect(meta).toMatchObject({ size: 1, contentType: "text/markdown", metadata: { author: "ann" } });
    await u.setItem("session", "s", { ttl: 60 });
    const info = await storage.stat("session");
    expect(info.expiresAt?.getTime()).toBe(now + 60_000);
    expect((await u.getMeta("session")).ttl).toBe(60);
    // The seconds left are counted by the storage's clock, not the machine's.
    now += 30_000;
    expect(await u.getMeta("session")).toMatchObject({ ttl: 30, expiresAt: info.expiresAt });
    now += 30_000;
    expect(await u.hasItem("session")).toBe(false);
    expect(await u.getItem("session")).toBe(null);
  });

  it("counts getMeta's ttl by the clock of a layer stack or prefix view (inherited from the backend)", async () => {
    let now = Date.parse("2030-01-01T00:00:00Z");
    const backend = new MemoryStorage({ clock: () => now });
    const stacks = [new EncryptedStorage({ backend, key: new Uint8Array(32).fill(7) }), backend.withPrefix("app/")];
    for (const storage of stacks) {
      const u = createStorage({ driver: storageDriver({ storage }) });
      await u.setItem("session", "s", { ttl: 60 });
      now += 45_000;
      expect((await u.getMeta("session")).ttl).toBe(15);
      now += 15_000;
      expect(await u.hasItem("session")).toBe(false);
    }
  });

  it("refuses keys the storage refuses in plain mode and stores them with keyEncoding: escape", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-unstorage-"));
    dirs.push(dir);
    const file = new FileStorage(dir, { fsync: false });
    const long = "s".repeat(300);
    const plain = createStorage({ driver: storageDriver({ storage: file }) });
    await expect(plain.setItem(`cache:${long}`, "v")).rejects.toBeInstanceOf(StorageValidationError);
    await expect(plain.setItem("a:.pepperpy-x", "v")).rejects.toBeInstanceOf(StorageValidationError);
    const driver = storageDriver({ storage: file, keyEncoding: "escape" });
    const escaped = createStorage({ driver });
    await escaped.setItem(`cache:${long}`, "long");
    await escaped.setItem("a:.pepperpy-x", "reserved name");
    await escaped.setItem("100%", "percent");
    expect(await escaped.getItem(`cache:${long}`)).toBe("long");
    expect((await escaped.getKeys()).sort()).toStrictEqual(["100%", "a:.pepperpy-x", `cache:${long}`].sort());
    expect(await escaped.getKeys("cache")).toStrictEqual([`cache:${long}`]);
    expect((await file.list()).sort()).toStrictEqual(["100%25", "a/%2Epepperpy-x", `cache/${"s".repeat(200)}/%+${"s".repeat(100)}`].sort());
    // The driver's clear of a base (unstorage's own clear("cache") asks only mounts under it).
    await driver.clear!("cache:", {});
    expect((await escaped.getKeys()).sort()).toStrictEqual(["100%", "a:.pepperpy-x"]);
    await file.close();
  });

  it("dispose closes the storage; bad options are refused", async () => {
    const storage = new MemoryStorage();
    const u = createStorage({ driver: storageDriver({ storage }) });
    await u.dispose();
    await expect(storage.get("x")).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(() => storageDriver({} as never)).toThrow(StorageValidationError);
    expect(() => storageDriver({ storage, keyEncoding: "hex" as never })).toThrow(StorageValidationError);
  });
});
