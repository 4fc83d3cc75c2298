import { StorageConfigError, createStorage, registerLayer } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { EncryptedStorage, layerPlugin } from "../src/index.js";

// Core loads a layer from @pepperpy/storage-<name>; encryption is named otherwise, so a
// core-only setup registers it (the umbrella @pepperpy/storage does it itself).
registerLayer(layerPlugin);

/** scrypt runs of an instance so far. */
function derivations(storage: unknown): number {
  return (storage as { driver: { keyRing: { derivations: number } } }).driver.keyRing.derivations;
}

describe("a raw 32-byte key written as text (base64: / hex:), as a config file holds one", () => {
  it("base64: and hex: keys skip scrypt and read what the same bytes as a Uint8Array wrote", async () => {
    const raw = randomBytes(32);
    const inner = new MemoryStorage();
    const byBytes = new EncryptedStorage({ backend: inner, key: raw });
    await byBytes.put("a", "secret text");
    for (const text of [`base64:${raw.toString("base64")}`, `hex:${raw.toString("hex")}`, `hex:${raw.toString("hex").toUpperCase()}`]) {
      const byText = new EncryptedStorage({ backend: inner, key: text });
      expect(await byText.get("a")).toBe("secret text");
      await byText.put("b", "from text");
      expect(await byBytes.get("b")).toBe("from text");
      expect(derivations(byText), text.slice(0, 7)).toBe(0);
    }
    expect(derivations(byBytes)).toBe(0);
  });

  it("from config (options.encryption.key), no scrypt runs", async () => {
    const key = `base64:${randomBytes(32).toString("base64")}`;
    const storage = await createStorage({ type: "memory", options: { encryption: { key } } } as never);
    await storage.put("k", { n: 1 });
    expect(await storage.get("k")).toEqual({ n: 1 });
    expect(derivations(storage)).toBe(0);
  });

  it("a prefixed key that is not 32 bytes is a config error that never prints the key", async () => {
    const short = `base64:${randomBytes(16).toString("base64")}`;
    const bad = [short, "hex:zz", `hex:${"ab".repeat(31)}`, "base64:!!!!"];
    for (const key of bad) {
      let error: unknown;
      try {
        new EncryptedStorage({ backend: new MemoryStorage(), key });
      } catch (e) {
        error = e;
      }
      expect(error, key).toBeInstanceOf(StorageConfigError);
      expect((error as Error).message).toMatch(/not 32 bytes/);
      expect((error as Error).message).not.toContain(key.slice(key.indexOf(":") + 1));
    }
  });

  it("an unprefixed string is still a passphrase", async () => {
    const storage = new EncryptedStorage({ backend: new MemoryStorage(), key: "base64 is just a word here" });
    await storage.put("x", "y");
    expect(derivations(storage)).toBe(1);
  });
});
