import { forwardedValueType } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { EncryptedStorage } from "../src/index.js";

// Bytes written by 0.1.0 (format v1); every later release must still read them.
const dir = join(import.meta.dirname, "fixtures");
const manifest = JSON.parse(readFileSync(join(dir, "vectors.json"), "utf8")) as {
  vectors: { file: string; key: string; keyId: string; secret: string; valueType: "text" | "bytes" | "json"; value: unknown }[];
};

function material(secret: string): string | Buffer {
  return secret.startsWith("hex:") ? Buffer.from(secret.slice(4), "hex") : secret.slice("passphrase:".length);
}

it.each(manifest.vectors.map((v) => [v.file, v] as const))("reads the committed v1 vector %s", async (_, v) => {
  const inner = new MemoryStorage();
  await inner.put(v.key, readFileSync(join(dir, v.file)), forwardedValueType(v.valueType));
  const storage = new EncryptedStorage({ backend: inner, keys: { [v.keyId]: material(v.secret) } });
  const got = await storage.get(v.key);
  if (v.valueType === "bytes") {
    const expected = v.value as { sha256: string; length: number };
    expect((got as Buffer).length).toBe(expected.length);
    expect(createHash("sha256").update(got as Buffer).digest("hex")).toBe(expected.sha256);
  } else expect(got).toEqual(v.value);
  // The storage key is authenticated: the same bytes under another key do not decrypt.
  await inner.copy(v.key, `${v.key}-moved`);
  await expect(storage.get(`${v.key}-moved`)).rejects.toThrow(/authentication/);
});
