import { StorageQuotaError, StorageValidationError, createStorage } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";

describe("MemoryStorage capacity", () => {
  it("counts the bytes held through overwrites, copies and deletes", async () => {
    const storage = new MemoryStorage();
    await storage.put("a", "12345");
    await storage.put("b", Buffer.alloc(10));
    expect(storage.bytesUsed).toBe(15);
    await storage.put("a", "12");
    expect(storage.bytesUsed).toBe(12);
    await storage.copy("b", "c");
    expect(storage.bytesUsed).toBe(22);
    await storage.move("c", "d");
    expect(storage.bytesUsed).toBe(22);
    await storage.deleteMany(["a", "b", "d", "missing"]);
    expect(storage.bytesUsed).toBe(0);
  });

  it("a put over capacity is a StorageQuotaError and stores nothing", async () => {
    const storage = new MemoryStorage({ capacity: 10 });
    await storage.put("a", "12345678");
    await expect(storage.put("b", "123")).rejects.toBeInstanceOf(StorageQuotaError);
    expect(await storage.exists("b")).toBe(false);
    // Replacing a value only needs room for the difference.
    await storage.put("a", "1234567890");
    await expect(storage.copy("a", "c")).rejects.toBeInstanceOf(StorageQuotaError);
    async function* stream() {
      yield Buffer.alloc(4);
      yield Buffer.alloc(4);
    }
    await storage.delete("a");
    await storage.put("s", Buffer.alloc(5));
    await expect(storage.put("t", stream())).rejects.toBeInstanceOf(StorageQuotaError);
    expect(await storage.list()).toStrictEqual(["s"]);
    expect(storage.bytesUsed).toBe(5);
  });

  it("rejects an invalid capacity, timeout or maxSize", () => {
    expect(() => new MemoryStorage({ capacity: -1 })).toThrow(StorageValidationError);
    expect(() => new MemoryStorage({ timeout: -5 })).toThrow(StorageValidationError);
    expect(() => new MemoryStorage({ maxSize: Number.NaN })).toThrow(StorageValidationError);
  });

  it("maxSize from the constructor applies to every put", async () => {
    const storage = new MemoryStorage({ maxSize: 4 });
    await storage.put("ok", "1234");
    await expect(storage.put("big", "12345")).rejects.toBeInstanceOf(StorageValidationError);
    // A per-call maxSize overrides it.
    await storage.put("big", "12345", { maxSize: 5 });
  });

  it("close drops everything", async () => {
    const storage = new MemoryStorage();
    await storage.put("a", "1");
    await storage.close();
    expect(storage.bytesUsed).toBe(0);
  });

  it("type: memory from config takes capacity as a size", async () => {
    const storage = await createStorage({ type: "memory", capacity: "1KB" });
    await expect(storage.put("a", "x".repeat(1001))).rejects.toBeInstanceOf(StorageQuotaError);
    await storage.put("a", "x".repeat(1000));
  });
});
