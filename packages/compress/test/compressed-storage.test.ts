import { StorageConfigError, StorageIntegrityError, StorageUnsupportedError, StorageValidationError, createStorage, registerLayer, forwardedValueType } from "@pepperpy/storage-core";
import { EncryptedStorage, layerPlugin as encryptionPlugin } from "@pepperpy/storage-crypto";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CompressedStorage, type CompressionAlgorithm, MAGIC, ZSTD_AVAILABLE, layerPlugin } from "../src/index.js";

// Core loads a layer from @pepperpy/storage-<name>; compression and encryption are named
// otherwise, so a core-only setup registers them (the umbrella @pepperpy/storage does it itself).
registerLayer(layerPlugin);
registerLayer(encryptionPlugin);

const ALGORITHMS: CompressionAlgorithm[] = ["gzip", "deflate", "brotli", ...(ZSTD_AVAILABLE ? (["zstd"] as const) : [])];

function compressible(size: number): Buffer {
  const line = Buffer.from("the quick brown fox jumps over the lazy dog 0123456789\n");
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(out, i);
  return out;
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function setup(options: Partial<ConstructorParameters<typeof CompressedStorage>[0]> = {}) {
  const inner = new MemoryStorage();
  return { inner, storage: new CompressedStorage({ backend: inner, ...options }) };
}

describe.each(ALGORITHMS)("%s", (algorithm) => {
  it("round-trips text, bytes, JSON and empty values and stores fewer bytes", async () => {
    const { inner, storage } = setup({ algorithm });
    const text = compressible(100_000).toString();
    await storage.put("t", text);
    await storage.put("b", compressible(50_000));
    await storage.put("j", { rows: Array.from({ length: 500 }, (_, i) => ({ i, name: "row" })) });
    await storage.put("e", new Uint8Array(0));
    expect(await storage.get("t")).toBe(text);
    expect(Buffer.compare((await storage.get("b")) as Buffer, compressible(50_000))).toBe(0);
    expect(((await storage.get("j")) as { rows: unknown[] }).rows).toHaveLength(500);
    expect(((await storage.get("e")) as Uint8Array).byteLength).toBe(0);
    const stored = await inner.getBytes("t");
    expect(stored.byteLength).toBeLessThan(text.length / 10);
    expect(Buffer.from(stored.subarray(0, 6)).equals(MAGIC)).toBe(true);
    expect(stored[7], "algorithm byte").toBe({ gzip: 1, deflate: 2, brotli: 3, zstd: 4 }[algorithm]);
    expect((await storage.stat("t")).size, "stat reports the logical size").toBe(text.length);
    expect((await inner.stat("t")).size).toBe(stored.byteLength);
  });

  it("compresses a streamed put as it flows and decompresses getStream with ranges", async () => {
    const { inner, storage } = setup({ algorithm });
    const data = compressible(5 * 1024 * 1024 + 123);
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    const info = await storage.put("s", Readable.from(chunks));
    expect(info.size).toBe(data.length);
    expect((await inner.stat("s")).size).toBeLessThan(data.length / 10);
    expect((await readAll(await storage.getStream("s"))).equals(data)).toBe(true);
    expect((await readAll(await storage.getStream("s", { start: 1_000_000, end: 1_000_099 }))).equals(data.subarray(1_000_000, 1_000_100))).toBe(true);
    expect((await storage.stat("s")).size).toBe(data.length);
  });

  it("every flipped byte is an integrity error or the exact value (0x00 flip of the magic: a foreign value)", async () => {
    const { inner, storage } = setup({ algorithm });
    const value = compressible(20_000);
    await storage.put("k", value);
    const stored = Buffer.from(await inner.getBytes("k"));
    let detected = 0;
    let intact = 0;
    for (let i = 0; i < stored.length; i++) {
      const bad = Buffer.from(stored);
      bad[i]! ^= 0x01;
      await inner.put("x", bad, forwardedValueType("bytes"));
      for (const read of [() => storage.getBytes("x"), async () => readAll(await storage.getStream("x"))]) {
        try {
          const got = Buffer.from(await read());
          if (i < MAGIC.length) expect(got.equals(bad), "without the full magic the value is foreign and returned as stored").toBe(true);
          else {
            // Fields the decoder ignores (gzip MTIME/OS) may change without changing the value.
            expect(got.equals(value), `flip at ${i} returned wrong data`).toBe(true);
            intact++;
          }
        } catch (error) {
          expect(error, `flip at ${i}`).toBeInstanceOf(StorageIntegrityError);
          detected++;
        }
      }
    }
    expect(detected).toBeGreaterThan((stored.length - MAGIC.length) * 2 * 0.9);
    expect(intact + detected).toBe((stored.length - MAGIC.length) * 2);
  });

  it("every truncation point is an integrity error", async () => {
    const { inner, storage } = setup({ algorithm });
    await storage.put("k", compressible(20_000));
    const stored = Buffer.from(await inner.getBytes("k"));
    for (let n = MAGIC.length; n < stored.length; n++) {
      await inner.put("x", stored.subarray(0, n), forwardedValueType("bytes"));
      await expect(storage.getBytes("x"), `cut at ${n}`).rejects.toBeInstanceOf(StorageIntegrityError);
      await expect(
        storage.getStream("x").then(readAll),
        `stream cut at ${n}`,
      ).rejects.toBeInstanceOf(StorageIntegrityError);
    }
  });
});

describe("format decisions", () => {
  it("values below the threshold or that do not shrink are stored with the stored header", async () => {
    const { inner, storage } = setup({ threshold: 100 });
    await storage.put("small", "tiny");
    const random = Buffer.from(Array.from({ length: 5000 }, () => Math.floor(Math.random() * 256)));
    await storage.put("random", random);
    for (const key of ["small", "random"]) {
      const stored = await inner.getBytes(key);
      expect(stored[7], `${key} algorithm byte`).toBe(0);
    }
    expect(await storage.get("small")).toBe("tiny");
    expect(Buffer.from((await storage.get("random")) as Uint8Array).equals(random)).toBe(true);
    expect((await storage.stat("small")).size).toBe(4);
    // A streamed value shorter than the threshold is stored too.
    await storage.put("ss", Readable.from([Buffer.from("ab"), Buffer.from("cd")]));
    expect((await inner.getBytes("ss"))[7]).toBe(0);
    expect((await storage.getBytes("ss")).toString()).toBe("abcd");
  });

  it("values written without the layer read back unchanged; a full magic with a bad header is an integrity error", async () => {
    const { inner, storage } = setup();
    await inner.put("text", "plain text");
    await inner.put("json", { a: 1 });
    const partial = Buffer.concat([MAGIC.subarray(0, 5), Buffer.from("x")]);
    await inner.put("partial", partial);
    expect(await storage.get("text")).toBe("plain text");
    expect(await storage.get("json")).toEqual({ a: 1 });
    expect(Buffer.from((await storage.get("partial")) as Uint8Array).equals(partial)).toBe(true);
    expect((await readAll(await storage.getStream("text", { start: 6 }))).toString()).toBe("text");
    expect((await storage.stat("text")).size).toBe(10);
    await inner.put("collide", Buffer.concat([MAGIC, Buffer.from("not a header at all")]));
    await expect(storage.get("collide")).rejects.toBeInstanceOf(StorageIntegrityError);
    await expect(storage.getStream("collide")).rejects.toBeInstanceOf(StorageIntegrityError);
    // A raw value that starts with the magic, written THROUGH the layer, round-trips.
    const tricky = Buffer.concat([MAGIC, Buffer.from([1, 0, 0])]);
    await storage.put("tricky", tricky);
    expect(Buffer.from((await storage.get("tricky")) as Uint8Array).equals(tricky)).toBe(true);
  });

  it("levels: per put compressionLevel, validated", async () => {
    const { inner, storage } = setup({ algorithm: "gzip", level: 1 });
    const data = compressible(200_000);
    await storage.put("fast", data);
    await storage.put("best", data, { compressionLevel: 9 });
    expect((await inner.stat("best")).size).toBeLessThanOrEqual((await inner.stat("fast")).size);
    await expect(storage.put("bad", data, { compressionLevel: 12 })).rejects.toBeInstanceOf(StorageValidationError);
    expect(() => new CompressedStorage({ backend: inner, algorithm: "brotli", level: 12 })).toThrow(StorageConfigError);
    expect(() => new CompressedStorage({ backend: inner, algorithm: "lz4" as never })).toThrow(StorageConfigError);
  });

  it("reads objects written with another algorithm", async () => {
    const inner = new MemoryStorage();
    await new CompressedStorage({ backend: inner, algorithm: "brotli" }).put("k", compressible(10_000));
    const gzipReader = new CompressedStorage({ backend: inner, algorithm: "gzip" });
    expect(Buffer.from((await gzipReader.get("k")) as Uint8Array).equals(compressible(10_000))).toBe(true);
  });

  it.skipIf(ZSTD_AVAILABLE)("zstd on a Node without it is a clear StorageUnsupportedError (reason: this Node has no zstd)", async () => {
    const inner = new MemoryStorage();
    let error: unknown;
    try {
      new CompressedStorage({ backend: inner, algorithm: "zstd" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageUnsupportedError);
    expect((error as Error).message).toContain(process.version);
    // An object another Node wrote with zstd: the same error on read, not an integrity error.
    const zstdObject = Buffer.concat([MAGIC, Buffer.from([1, 4, 0]), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(12)]);
    zstdObject.writeUInt32BE(0, zstdObject.length - 4);
    await inner.put("z", zstdObject);
    await expect(new CompressedStorage({ backend: inner }).get("z")).rejects.toBeInstanceOf(StorageUnsupportedError);
  });
});

describe("composition and config", () => {
  it("compress then encrypt round-trips and still compresses", async () => {
    const memory = new MemoryStorage();
    const storage = new CompressedStorage({ backend: new EncryptedStorage({ backend: memory, key: new Uint8Array(32).fill(1) }) });
    const data = compressible(1_000_000);
    await storage.put("k", data);
    await storage.put("s", Readable.from([data.subarray(0, 300_000), data.subarray(300_000)]));
    expect(Buffer.from((await storage.get("k")) as Uint8Array).equals(data)).toBe(true);
    expect((await readAll(await storage.getStream("s"))).equals(data)).toBe(true);
    expect((await memory.stat("k")).size, "compressed before encryption").toBeLessThan(data.length / 10);
    expect((await storage.stat("k")).size).toBe(data.length);
    await storage.copy("k", "k2");
    expect(Buffer.from((await storage.get("k2")) as Uint8Array).equals(data)).toBe(true);
  });

  it("config options.compression builds the layer, outside encryption", async () => {
    expect(layerPlugin.name).toBe("compression");
    expect(layerPlugin.order).toBe(30);
    const storage = await createStorage({
      type: "memory",
      options: { compression: { algorithm: "brotli", level: 5, threshold: "1KB" }, encryption: { key: "config passphrase" } },
    } as never);
    expect(storage).toBeInstanceOf(CompressedStorage);
    expect((storage as CompressedStorage).algorithm).toBe("brotli");
    expect((storage as CompressedStorage).backend).toBeInstanceOf(EncryptedStorage);
    await storage.put("k", "hello ".repeat(1000));
    expect(await storage.get("k")).toBe("hello ".repeat(1000));
  });
});
