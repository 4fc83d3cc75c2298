import {
  CompositeStorage,
  StorageConfigError,
  StorageIntegrityError,
  StorageUnsupportedError,
  createStorage,
  forwardedValueType,
  parseConfig,
  registerLayer,
  registerStorage,
} from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { EncryptedStorage, MAGIC, SCRYPT_WRITE, layerPlugin } from "../src/index.js";

// Core loads a layer from @pepperpy/storage-<name>; encryption is named otherwise, so a
// core-only setup registers it (the umbrella @pepperpy/storage does it itself).
registerLayer(layerPlugin);

const KEY = Buffer.alloc(32, 0x11);
const OTHER = Buffer.alloc(32, 0x22);

function setup(options: Partial<ConstructorParameters<typeof EncryptedStorage>[0]> = { key: KEY }) {
  const inner = new MemoryStorage();
  return { inner, storage: new EncryptedStorage({ backend: inner, ...options }) };
}

/** scrypt runs of an instance so far. */
function derivations(storage: EncryptedStorage): number {
  return (storage as unknown as { driver: { keyRing: { derivations: number } } }).driver.keyRing.derivations;
}

/** Reads a stream to its end; returns the bytes released before an error, and the error. */
async function drainStream(open: () => Promise<AsyncIterable<Uint8Array>>): Promise<{ released: number; error: unknown; data: Buffer }> {
  const parts: Buffer[] = [];
  let released = 0;
  try {
    for await (const chunk of await open()) {
      released += chunk.byteLength;
      parts.push(Buffer.from(chunk));
    }
    return { released, error: undefined, data: Buffer.concat(parts) };
  } catch (error) {
    return { released, error, data: Buffer.concat(parts) };
  }
}

describe("round trips", () => {
  it("text, bytes, JSON, empty, record boundaries, streams, ranges and logical stat sizes", async () => {
    const { inner, storage } = setup();
    const sizes = [0, 1, 65535, 65536, 65537, 3 * 65536, 200_001];
    for (const size of sizes) {
      const data = randomBytes(size);
      await storage.put(`b${size}`, data);
      expect(Buffer.from((await storage.get(`b${size}`)) as Uint8Array).equals(data), `size ${size}`).toBe(true);
      expect((await storage.stat(`b${size}`)).size).toBe(size);
      const streamed = await drainStream(() => storage.getStream(`b${size}`));
      expect(streamed.data.equals(data)).toBe(true);
      // Stream put, in odd-sized chunks.
      const chunks = [];
      for (let i = 0; i < size; i += 10_007) chunks.push(data.subarray(i, i + 10_007));
      const info = await storage.put(`s${size}`, Readable.from(chunks));
      expect(info.size).toBe(size);
      expect((await inner.stat(`s${size}`)).size, "same layout whether streamed or buffered").toBe((await inner.stat(`b${size}`)).size);
      expect(Buffer.from(await storage.getBytes(`s${size}`)).equals(data)).toBe(true);
    }
    await storage.put("t", "héllo");
    await storage.put("j", { a: [1, "x"] });
    expect(await storage.get("t")).toBe("héllo");
    expect(await storage.get("j")).toEqual({ a: [1, "x"] });
    const big = await inner.getBytes("b200001");
    expect(Buffer.from(big.subarray(0, 6)).equals(MAGIC)).toBe(true);
    const range = await drainStream(() => storage.getStream("b200001", { start: 65530, end: 131080 }));
    expect(range.data.equals(Buffer.from(await storage.getBytes("b200001")).subarray(65530, 131081))).toBe(true);
  });

  it("copy and move re-encrypt under the destination key", async () => {
    const { inner, storage } = setup();
    await storage.put("a", "secret", { metadata: { owner: "me" } });
    await storage.copy("a", "b");
    await storage.move("b", "c");
    expect(await storage.get("c")).toBe("secret");
    expect(await storage.exists("b")).toBe(false);
    expect((await storage.stat("c")).metadata).toEqual({ owner: "me" });
    expect(Buffer.from(await inner.getBytes("c")).equals(Buffer.from(await inner.getBytes("a")))).toBe(false);
  });
});

describe("tampering", () => {
  it("every single-byte flip of a 4 KiB object fails, with 0 plaintext bytes released (buffer and stream)", async () => {
    const { inner, storage } = setup();
    const plain = randomBytes(4096);
    await storage.put("k", plain);
    const stored = Buffer.from(await inner.getBytes("k"));
    let detected = 0;
    let released = 0;
    for (let i = 0; i < stored.length; i++) {
      const bad = Buffer.from(stored);
      bad[i]! ^= 0xff;
      await inner.put("x", bad, forwardedValueType("bytes"));
      const buffered = await storage.getBytes("x").then(
        (v) => ({ error: undefined, released: v.byteLength }),
        (error: unknown) => ({ error, released: 0 }),
      );
      const streamed = await drainStream(() => storage.getStream("x"));
      for (const r of [buffered, streamed]) {
        expect(r.error, `flip at byte ${i}`).toBeInstanceOf(StorageIntegrityError);
        released += r.released;
        if (r.error instanceof StorageIntegrityError) detected++;
      }
    }
    console.log(`[figures] crypto tamper: ${stored.length} positions × 2 paths = ${stored.length * 2} flipped reads, ${detected} detected, ${released} plaintext bytes released`);
    expect(detected).toBe(stored.length * 2);
    expect(released).toBe(0);
  });

  it("every truncation point fails, also at record boundaries, with 0 bytes released", async () => {
    const { inner, storage } = setup();
    const plain = randomBytes(2 * 65536 + 100);
    await storage.put("k", plain);
    const stored = Buffer.from(await inner.getBytes("k"));
    const header = stored.length - (plain.length + 3 * 16);
    // Every cut inside the header and the first and last 64 bytes of each record, plus every record boundary.
    const points = new Set<number>();
    for (let n = 0; n < stored.length; n++) {
      const inRecord = (n - header) % (65536 + 16);
      if (n < header + 64 || inRecord < 64 || inRecord > 65536 + 16 - 64 || n > stored.length - 64) points.add(n);
    }
    let released = 0;
    for (const n of points) {
      await inner.put("x", stored.subarray(0, n), forwardedValueType("bytes"));
      await expect(storage.getBytes("x"), `cut at ${n}`).rejects.toBeInstanceOf(StorageIntegrityError);
      const streamed = await drainStream(() => storage.getStream("x"));
      expect(streamed.error, `stream cut at ${n}`).toBeInstanceOf(StorageIntegrityError);
      // A cut inside record 2 may release records 0 and 1, which verified; never anything unverified.
      const verifiedBefore = Math.max(0, Math.floor((n - header) / (65536 + 16)) - 1) * 65536;
      expect(streamed.released, `stream cut at ${n}`).toBeLessThanOrEqual(verifiedBefore);
      released += n < header + 65536 + 16 ? streamed.released : 0;
    }
    console.log(`[figures] crypto truncation: ${points.size} cut points (all of the header, every record boundary, 64 bytes around each), all rejected; ${released} bytes released from the first record`);
    expect(released).toBe(0);
    // A missing final record: drop the whole last record.
    await inner.put("x", stored.subarray(0, header + 2 * (65536 + 16)), forwardedValueType("bytes"));
    await expect(storage.getBytes("x")).rejects.toBeInstanceOf(StorageIntegrityError);
  });

  it("swapped records and extra data fail", async () => {
    const { inner, storage } = setup();
    await storage.put("k", randomBytes(3 * 65536));
    const stored = Buffer.from(await inner.getBytes("k"));
    const header = stored.length - 3 * (65536 + 16);
    const r = (i: number) => stored.subarray(header + i * (65536 + 16), header + (i + 1) * (65536 + 16));
    await inner.put("x", Buffer.concat([stored.subarray(0, header), r(1), r(0), r(2)]));
    await expect(storage.getBytes("x")).rejects.toBeInstanceOf(StorageIntegrityError);
    await inner.put("x", Buffer.concat([stored, Buffer.from("more")]));
    await expect(storage.getBytes("x")).rejects.toBeInstanceOf(StorageIntegrityError);
  });

  it("a ciphertext copied to another key, a wrong key and an unknown key id fail", async () => {
    const { inner, storage } = setup();
    await storage.put("a", "secret");
    await inner.copy("a", "b");
    await expect(storage.get("b")).rejects.toBeInstanceOf(StorageIntegrityError);
    expect((await drainStream(() => storage.getStream("b"))).released).toBe(0);
    const wrong = new EncryptedStorage({ backend: inner, key: OTHER });
    await expect(wrong.get("a")).rejects.toBeInstanceOf(StorageIntegrityError);
    const unknown = new EncryptedStorage({ backend: inner, keys: { k2: KEY } });
    await expect(unknown.get("a")).rejects.toThrow(/key id "default".*not configured/);
    await expect(unknown.get("a")).rejects.toBeInstanceOf(StorageIntegrityError);
  });

  it("hostile KDF parameters are refused before any work", async () => {
    const { inner, storage } = setup({ key: "a passphrase" });
    await storage.put("a", "x");
    const stored = Buffer.from(await inner.getBytes("a"));
    expect(stored[10]).toBe(17);
    for (const [offset, value] of [
      [10, 30], // N = 2^30
      [11, 255], // r = 255
      [12, 200], // p = 200
      [8, 31], // 2 GiB chunks
    ] as const) {
      const bad = Buffer.from(stored);
      bad[offset] = value;
      await inner.put("x", bad);
      await expect(storage.get("x")).rejects.toThrow(/invalid header/);
      await expect(storage.getStream("x")).rejects.toThrow(/invalid header/);
    }
    expect(derivations(storage), "no key derivation ran for a refused header").toBe(1);
  });

  it("plaintext objects are an integrity error unless allowPlaintext", async () => {
    const { inner, storage } = setup();
    await inner.put("p", "plain");
    await expect(storage.get("p")).rejects.toBeInstanceOf(StorageIntegrityError);
    await expect(storage.getStream("p")).rejects.toBeInstanceOf(StorageIntegrityError);
    const lenient = new EncryptedStorage({ backend: inner, key: KEY, allowPlaintext: true });
    expect(await lenient.get("p")).toBe("plain");
  });
});

describe("keys and rotation", () => {
  it("passphrases are stretched once per instance, not per operation", async () => {
    const { storage } = setup({ key: "correct horse battery staple" });
    await Promise.all(Array.from({ length: 20 }, (_, i) => storage.put(`k${i}`, `v${i}`)));
    for (let i = 0; i < 20; i++) expect(await storage.get(`k${i}`)).toBe(`v${i}`);
    expect(derivations(storage), "one scrypt for 40 operations, concurrent first use included").toBe(1);
    // Another instance with the same passphrase reads them with one scrypt of its own (another salt for its writes).
    const reader = new EncryptedStorage({ backend: storage.backend, key: "correct horse battery staple" });
    expect(await reader.get("k3")).toBe("v3");
    expect(await reader.get("k4")).toBe("v4");
    expect(derivations(reader)).toBe(1);
  });

  it("rotation: old data reads, reencrypt moves it to the active key, counts reported", async () => {
    const inner = new MemoryStorage();
    const v1 = new EncryptedStorage({ backend: inner, keys: { v1: KEY } });
    await v1.put("users/a", "A");
    await v1.put("users/b", { b: 2 });
    await v1.put("other/c", "C");
    await inner.put("users/plain", "P");
    const rotated = new EncryptedStorage({ backend: inner, keys: { v1: KEY, v2: OTHER }, activeKeyId: "v2", allowPlaintext: true });
    expect(await rotated.get("users/a")).toBe("A");
    await rotated.put("users/new", "N");
    const result = await rotated.reencrypt("users/");
    expect(result).toMatchObject({ scanned: 4, reencrypted: 3, upToDate: 1 });
    expect(result.failed).toEqual([]);
    const v2Only = new EncryptedStorage({ backend: inner, keys: { v2: OTHER } });
    expect(await v2Only.get("users/a")).toBe("A");
    expect(await v2Only.get("users/b")).toEqual({ b: 2 });
    expect(await v2Only.get("users/plain")).toBe("P");
    await expect(v2Only.get("other/c")).rejects.toThrow(/"v1"/);
    expect((await rotated.reencrypt("users/")).upToDate).toBe(4);
  });

  it("bad key configurations are config errors that never print the key", async () => {
    const inner = new MemoryStorage();
    const attempts = [
      { key: Buffer.alloc(31, 7) },
      { key: "" },
      { keys: { a: KEY, b: OTHER } },
      { keys: { a: KEY }, activeKeyId: "b" },
      { key: KEY, keys: { a: KEY } },
      {},
    ];
    for (const options of attempts) {
      let error: unknown;
      try {
        new EncryptedStorage({ backend: inner, ...(options as object) });
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(Object.keys(options))).toBeInstanceOf(StorageConfigError);
      expect((error as Error).message).not.toContain("0707");
    }
  });

  it("config options.encryption builds the layer", async () => {
    expect(layerPlugin).toMatchObject({ name: "encryption", order: 40 });
    const storage = await createStorage({ type: "memory", options: { encryption: { keys: { k1: "pass one" }, activeKeyId: "k1" } } } as never);
    expect(storage).toBeInstanceOf(EncryptedStorage);
    await storage.put("a", "b");
    expect(await storage.get("a")).toBe("b");
  });
});

describe("reencrypt without conditional writes (issue 15)", () => {
  /** A memory backend whose `stat` answers after a network-like delay. */
  class SlowStatMemory extends MemoryStorage {
    override async stat(key: string, opts?: Parameters<MemoryStorage["stat"]>[1]) {
      await new Promise((r) => setTimeout(r, 30));
      return super.stat(key, opts);
    }
  }

  async function setupComposite() {
    const backend = new CompositeStorage([new SlowStatMemory(), new MemoryStorage()]);
    expect(backend.capabilities.conditionalWrite).toBe(false);
    const v1 = new EncryptedStorage({ backend, keys: { v1: KEY } });
    const keys = Array.from({ length: 27 }, (_, i) => `users/${String(i).padStart(2, "0")}`);
    for (const k of keys) await v1.put(k, `old ${k}`);
    const rotated = new EncryptedStorage({ backend, keys: { v1: KEY, v2: OTHER }, activeKeyId: "v2" });
    const user = new EncryptedStorage({ backend, keys: { v1: KEY, v2: OTHER }, activeKeyId: "v2" });
    return { backend, rotated, user, keys };
  }

  it("refuses to start on a stack without conditional writes, and rewrites nothing", async () => {
    const { backend, rotated, keys } = await setupComposite();
    const before = await Promise.all(keys.map((k) => backend.getBytes(k)));
    const error = await rotated.reencrypt("users/").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageUnsupportedError);
    expect((error as Error).message).toMatch(/conditional writes.*Nothing was rewritten.*allowUnconditional/s);
    const after = await Promise.all(keys.map((k) => backend.getBytes(k)));
    for (let i = 0; i < keys.length; i++) expect(Buffer.compare(Buffer.from(after[i]!), Buffer.from(before[i]!)), keys[i]).toBe(0);
  });

  it("with allowUnconditional, 27 concurrent user writes are not reverted: each is reported as skipped", async () => {
    const { rotated, user, keys } = await setupComposite();
    const writes: Promise<unknown>[] = [];
    // A user writes each key right after reencrypt has read it, before reencrypt writes it back.
    rotated.on("storage.get", (event) => {
      if (event.key) writes.push(user.put(event.key, `user ${event.key}`));
    });
    const result = await rotated.reencrypt("users/", { allowUnconditional: true });
    await Promise.all(writes);
    expect(writes).toHaveLength(27);
    expect(result.conditional).toBe(false);
    expect(result.failed).toEqual([]);
    expect(result.skipped.map((s) => s.key)).toEqual(keys);
    expect(result.skipped[0]!.reason).toMatch(/changed/);
    expect(result.reencrypted).toBe(0);
    for (const k of keys) expect(await rotated.get(k), `${k} was reverted`).toBe(`user ${k}`);
  });

  it("with allowUnconditional and no concurrent writer, every object is re-encrypted", async () => {
    const { rotated, keys } = await setupComposite();
    const result = await rotated.reencrypt("users/", { allowUnconditional: true });
    expect(result).toMatchObject({ scanned: 27, reencrypted: 27, upToDate: 0, failed: [], skipped: [], conditional: false });
    const v2Only = new EncryptedStorage({ backend: rotated.backend, keys: { v2: OTHER } });
    for (const k of keys) expect(await v2Only.get(k)).toBe(`old ${k}`);
  });
});

describe("scrypt parameters of a planted header (issue 15)", () => {
  const PASS = "correct horse battery staple";

  it("a header asking for other scrypt parameters than the library writes is refused before any derivation", async () => {
    const { inner, storage } = setup({ key: PASS });
    await storage.put("k", "v");
    const reader = new EncryptedStorage({ backend: inner, key: PASS });
    const bytes = Buffer.from(await inner.getBytes("k"));
    // N = 2^18, r = 8: 256 MiB, within the format's hard limit, never written by this library.
    bytes[10] = 18;
    await inner.put("planted", bytes);
    const started = performance.now();
    const error = await reader.get("planted").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageIntegrityError);
    expect((error as Error).message).toMatch(/N=2\^18 r=8 p=1, which this storage does not accept.*acceptScrypt/);
    expect(derivations(reader), "no scrypt ran").toBe(0);
    expect(performance.now() - started).toBeLessThan(500);
    await expect(reader.getStream("planted")).rejects.toBeInstanceOf(StorageIntegrityError);
    expect(derivations(reader)).toBe(0);
  });

  it("other parameters are accepted when configured with acceptScrypt (and still authenticated)", async () => {
    const { inner, storage } = setup({ key: PASS });
    await storage.put("k", "v");
    const bytes = Buffer.from(await inner.getBytes("k"));
    bytes[10] = 16;
    await inner.put("other-params", bytes);
    const reader = new EncryptedStorage({ backend: inner, key: PASS, acceptScrypt: [{ logN: 16, r: 8, p: 1 }] });
    // The parameters are accepted, so the key is derived; the header is authenticated, so the
    // changed byte then fails authentication.
    await expect(reader.get("other-params")).rejects.toThrow(/failed authentication/);
    expect(derivations(reader)).toBe(1);
    expect(await reader.get("k")).toBe("v");
    expect(() => new EncryptedStorage({ backend: inner, key: PASS, acceptScrypt: [{ logN: 21, r: 8, p: 1 }] })).toThrow(StorageConfigError);
  });
});

describe("accept_scrypt in config (issue 15 item 12, audit G7)", () => {
  const PASS = "correct horse battery staple";
  const shared = new MemoryStorage();
  registerStorage({ type: "g7-shared-memory", create: () => shared });

  /** Writes `value` the way another tool with scrypt N = 2^14 would: a valid object, only the parameters differ. */
  async function writeWithOtherParameters(key: string, value: string): Promise<void> {
    const params = SCRYPT_WRITE as { logN: number };
    const written = params.logN;
    params.logN = 14;
    try {
      await new EncryptedStorage({ backend: shared, key: PASS }).put(key, value);
    } finally {
      params.logN = written;
    }
  }

  const yaml = (acceptScrypt: string) =>
    `storage:\n  type: g7-shared-memory\n  options:\n    encryption:\n      key: \${PASS}\n${acceptScrypt ? `      accept_scrypt: ${acceptScrypt}\n` : ""}`;

  it("reads data written with other parameters only when accept_scrypt lists them", async () => {
    await writeWithOtherParameters("other", "written elsewhere");
    const strict = await createStorage(await parseConfig(yaml(""), { env: { PASS } }));
    await expect(strict.get("other")).rejects.toThrow(/N=2\^14 r=8 p=1, which this storage does not accept/);
    const config = await parseConfig(yaml("[{ log_n: 14, r: 8, p: 1 }]"), { env: { PASS } });
    expect((config.options.encryption as { acceptScrypt: unknown }).acceptScrypt).toStrictEqual([{ logN: 14, r: 8, p: 1 }]);
    const lenient = await createStorage(config);
    expect(await lenient.get("other")).toBe("written elsewhere");
    // A block list and values from ${VAR} work too.
    const block = await parseConfig(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} references in config text
      "storage:\n  type: g7-shared-memory\n  options:\n    encryption:\n      key: ${PASS}\n      accept_scrypt:\n        - log_n: ${LOG_N}\n          r: 8\n          p: 1\n",
      { env: { PASS, LOG_N: "14" } },
    );
    expect(await (await createStorage(block)).get("other")).toBe("written elsewhere");
  });

  it("parameters beyond what the acceptScrypt option accepts are refused before anything is built", async () => {
    for (const [params, detail] of [
      ["[{ log_n: 21, r: 8, p: 1 }]", /accept_scrypt\[0\]: N=2\^21 r=8 p=1 is outside the limits/],
      ["[{ log_n: 14, r: 8, p: 1 }, { log_n: 20, r: 32, p: 1 }]", /accept_scrypt\[1\]: N=2\^20 r=32 p=1 is outside the limits/], // 4 GiB
      ["[{ log_n: 14, r: 8, p: 5 }]", /accept_scrypt\[0\]: .* is outside the limits/],
      ["[{ log_n: 9, r: 8, p: 1 }]", /accept_scrypt\[0\]: .* is outside the limits/],
      ["[{ log_n: 4000000000, r: 8, p: 1 }]", /accept_scrypt\[0\]: .* is outside the limits/],
    ] as const) {
      const config = await parseConfig(yaml(params), { env: { PASS } });
      await expect(createStorage(config), params).rejects.toThrow(detail);
      await expect(createStorage(config)).rejects.toBeInstanceOf(StorageConfigError);
    }
  });

  it("a malformed accept_scrypt is a config error naming the field", async () => {
    for (const [params, detail] of [
      ["[{ log_n: 14, r: 8 }]", /storage\.options\.encryption\.accept_scrypt\[0\]\.p: required/],
      ["[{ n: 16384, r: 8, p: 1 }]", /accept_scrypt\[0\]\.n: unknown field.*known: log_n, p, r/],
      ["[{ log_n: 14.5, r: 8, p: 1 }]", /accept_scrypt\[0\]\.log_n: expected a non-negative integer/],
      ["[{ log_n: -14, r: 8, p: 1 }]", /accept_scrypt\[0\]\.log_n: expected a non-negative integer/],
      ["{ log_n: 14, r: 8, p: 1 }", /accept_scrypt: expected a list of \{ log_n, r, p \}/],
      ["[14]", /accept_scrypt\[0\]: expected \{ log_n, r, p \}/],
    ] as const) {
      await expect(parseConfig(yaml(params), { env: { PASS } }), params).rejects.toThrow(detail);
    }
  });
});
