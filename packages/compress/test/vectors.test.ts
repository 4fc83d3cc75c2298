import { forwardedValueType } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { CompressedStorage, ZSTD_AVAILABLE } from "../src/index.js";

// Bytes written by 0.1.0 (format v1); every later release must still read them.
const dir = join(import.meta.dirname, "fixtures");
const manifest = JSON.parse(readFileSync(join(dir, "vectors.json"), "utf8")) as {
  vectors: { file: string; key: string; algorithm: string; valueType: "text" | "bytes" | "json"; value: unknown }[];
};

const readable = manifest.vectors.filter((v) => v.algorithm !== "zstd" || ZSTD_AVAILABLE);

it.skipIf(readable.length === manifest.vectors.length)(`zstd vectors are skipped because this Node (${process.version}) has no zstd in node:zlib`, () => {
  expect(ZSTD_AVAILABLE).toBe(false);
});

it.each(readable.map((v) => [v.file, v] as const))("reads the committed v1 vector %s", async (_, v) => {
  const inner = new MemoryStorage();
  const bytes = readFileSync(join(dir, v.file));
  expect(bytes[7], "algorithm byte").toBe({ stored: 0, gzip: 1, deflate: 2, brotli: 3, zstd: 4 }[v.algorithm]);
  await inner.put(v.key, bytes, forwardedValueType(v.valueType));
  const storage = new CompressedStorage({ backend: inner });
  expect(await storage.get(v.key)).toEqual(v.value);
  const expectedSize = Buffer.byteLength(typeof v.value === "string" ? v.value : JSON.stringify(v.value));
  expect((await storage.stat(v.key)).size).toBe(expectedSize);
});
