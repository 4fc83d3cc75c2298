// Config-built stacks through the umbrella, which registers every built-in plugin.
import { StorageValidationError, createStorage, parseConfig } from "@pepperpy/storage";
import { describe, expect, it } from "vitest";

describe("config-built stacks", () => {
  it("max_size limits the values users store, not the compressed bytes", async () => {
    const config = await parseConfig(
      ["storage:", "  type: memory", "  options:", "    compression: { threshold: 0 }", "    cache: true", "    max_size: 1KB"].join("\n"),
    );
    const storage = await createStorage(config);
    expect(storage.name).toBe("cache(compress(memory))");
    // 2 000 bytes that compress to a few dozen: still over the user's 1 000-byte limit.
    await expect(storage.put("big", "a".repeat(2000))).rejects.toBeInstanceOf(StorageValidationError);
    expect(await storage.exists("big")).toBe(false);
    await storage.put("small", "a".repeat(1000));
    expect(await storage.get("small")).toBe("a".repeat(1000));
  });

  it("an encrypted value at the limit is accepted although its ciphertext is larger", async () => {
    const storage = await createStorage({ type: "memory", maxSize: 4096, options: { encryption: { key: "k".repeat(32) } } });
    const value = new Uint8Array(4096).fill(7);
    await storage.put("at-limit", value);
    expect(Buffer.from((await storage.get("at-limit")) as Uint8Array).equals(Buffer.from(value))).toBe(true);
    await expect(storage.put("over", new Uint8Array(4097))).rejects.toBeInstanceOf(StorageValidationError);
  });

  it("without layers the backend enforces max_size", async () => {
    const storage = await createStorage({ type: "memory", maxSize: 10 });
    await expect(storage.put("k", "12345678901")).rejects.toBeInstanceOf(StorageValidationError);
    await storage.put("k", "1234567890");
  });

  it("builds every layer in the documented order whatever order the config lists them", async () => {
    const storage = await createStorage({
      type: "memory",
      options: { retry: { max: 1, delay: 1 }, encryption: { key: "x".repeat(32) }, compression: true, cache: true, metrics: true },
    });
    expect(storage.name).toBe("metrics(cache(compress(crypto(retry(memory)))))");
    await storage.put("k", { v: [1, "two"] });
    expect(await storage.get("k")).toEqual({ v: [1, "two"] });
  });
});
