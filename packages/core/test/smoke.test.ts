import { describe, expect, it } from "vitest";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { createStorage, parseConfig, StorageNotFoundError, CompositeStorage } from "@pepperpy/storage-core";

describe("smoke", () => {
  it("round-trips", async () => {
    const s = new MemoryStorage();
    await s.put("a/b", "hello");
    await s.put("a/c", new Uint8Array([1, 2, 3]));
    await s.put("a/d", { x: [1, null, "y"] });
    expect(await s.get("a/b")).toBe("hello");
    expect(await s.get("a/c")).toEqual(Buffer.from([1, 2, 3]));
    expect(await s.get("a/d")).toEqual({ x: [1, null, "y"] });
    expect(await s.list("a/")).toEqual(["a/b", "a/c", "a/d"]);
    await expect(s.get("nope")).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(s.get("nope")).rejects.toThrow(/Key not found \[get "nope" on memory\]/);
  });
  it("config", async () => {
    const cfg = await parseConfig("storage:\n  type: composite\n  backends:\n    - type: memory\n    - type: memory\n  options:\n    timeout: 30.0\n    max_size: 10MB\n");
    expect(cfg.timeout).toBe(30000);
    expect(cfg.maxSize).toBe(10_000_000);
    const s = await createStorage(cfg);
    expect(s).toBeInstanceOf(CompositeStorage);
    await s.put("k", "v");
    expect(await s.get("k")).toBe("v");
  });
});
