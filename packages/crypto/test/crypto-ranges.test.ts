import {
  type DriverContext,
  ForwardingDriver,
  LayerStorage,
  type Storage,
  type StorageCapabilities,
  StorageIntegrityError,
  type StoredStream,
} from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EncryptedStorage } from "../src/index.js";
import { recordStats } from "../src/record.js";

const KEY = Buffer.alloc(32, 0x11);
const C = 2 ** 16;
const RECORD = C + 16;
const SIZES = [0, 1, C - 1, C, C + 1, 5 * C + 3];

/** A backend without ranged reads (Redis-like): the layer must use one inner stream. */
class NoRangeDriver extends ForwardingDriver {
  constructor(inner: Storage) {
    super(inner, "norange");
  }
  override get capabilities(): StorageCapabilities {
    return { ...this.inner.capabilities, rangeRead: false };
  }
}

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

type Backend = { name: string; make: () => Promise<{ raw: Storage; backend: Storage }> };
const backends: Backend[] = [
  {
    name: "memory (ranged inner reads)",
    make: async () => {
      const raw = new MemoryStorage();
      return { raw, backend: raw };
    },
  },
  {
    name: "memory (no ranged inner reads)",
    make: async () => {
      const raw = new MemoryStorage();
      return { raw, backend: new LayerStorage(new NoRangeDriver(raw), { backend: raw }) };
    },
  },
  {
    name: "file",
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), "pp-crypto-ranges-"));
      dirs.push(dir);
      const raw = new FileStorage({ path: dir, fsync: false });
      return { raw, backend: raw };
    },
  },
];

async function read(storage: Storage, key: string, range: { start?: number; end?: number }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of await storage.getStream(key, range)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

async function readError(storage: Storage, key: string, range: { start?: number; end?: number }): Promise<unknown> {
  try {
    await read(storage, key, range);
    return undefined;
  } catch (error) {
    return error;
  }
}

function rangesFor(size: number): { start: number; end?: number }[] {
  const points = [0, 1, 7, C - 1, C, C + 1, 2 * C - 1, 2 * C, 2 * C + 1, 3 * C + 1234, 5 * C - 1, 5 * C, 5 * C + 1, size - 9, size - 8, size - 1, size, size + 1, size + 5000];
  const starts = [...new Set(points.filter((p) => p >= 0))];
  const out: { start: number; end?: number }[] = [];
  for (const start of starts) {
    out.push({ start });
    const ends = new Set([start, start + 1, start + 7, ...points, size + 100].filter((e) => e >= start));
    for (const end of ends) out.push({ start, end });
  }
  return out;
}

function expected(data: Buffer, range: { start: number; end?: number }): Buffer {
  const from = Math.min(range.start, data.byteLength);
  const to = range.end === undefined ? data.byteLength : Math.min(range.end + 1, data.byteLength);
  return data.subarray(from, Math.max(from, to));
}

/** Header length of a stored value (fixed part, key id, salts). */
function headerLen(stored: Uint8Array): number {
  return 14 + stored[13]! + 48;
}

describe.each(backends)("ranged reads over $name", ({ make }) => {
  it("equal a full decrypt then slice, for every range tried", async () => {
    const { backend } = await make();
    const storage = new EncryptedStorage({ backend, key: KEY });
    for (const size of SIZES) {
      const data = randomBytes(size);
      await storage.put(`v${size}`, data);
      const full = await read(storage, `v${size}`, {});
      expect(full.equals(data)).toBe(true);
      for (const range of rangesFor(size)) {
        const got = await read(storage, `v${size}`, range);
        const want = expected(data, range);
        if (!got.equals(want)) expect.fail(`size ${size} range ${JSON.stringify(range)}: got ${got.byteLength} bytes, want ${want.byteLength}`);
      }
    }
  });

  it("a tail read decrypts only the last record", async () => {
    const { backend } = await make();
    const storage = new EncryptedStorage({ backend, key: KEY });
    const size = 40 * C + 100;
    const data = randomBytes(size);
    await storage.put("big", data);
    let before = recordStats.opened;
    expect((await read(storage, "big", { start: size - 8 })).equals(data.subarray(size - 8))).toBe(true);
    expect(recordStats.opened - before).toBe(1);
    before = recordStats.opened;
    expect((await read(storage, "big", { start: 10 * C - 1, end: 11 * C })).equals(data.subarray(10 * C - 1, 11 * C + 1))).toBe(true);
    expect(recordStats.opened - before).toBe(3);
    // Start 0 is today's path: every record up to the end of the range.
    before = recordStats.opened;
    await read(storage, "big", { start: 0, end: 2 * C });
    expect(recordStats.opened - before).toBe(3);
  });

  it("only the records read are authenticated: a flipped byte in a skipped record does not fail a tail read", async () => {
    const { raw, backend } = await make();
    const storage = new EncryptedStorage({ backend, key: KEY });
    const size = 5 * C + 3;
    const data = randomBytes(size);
    await storage.put("t", data);
    const stored = Buffer.from((await raw.get("t")) as Uint8Array);
    const h = headerLen(stored);
    const tampered = Buffer.from(stored);
    tampered[h + RECORD + 10]! ^= 1; // record 1
    await raw.put("t", tampered);
    // Record 1 is skipped by a read of record 5: served, as by any ranged read of an AEAD stream.
    expect((await read(storage, "t", { start: size - 8 })).equals(data.subarray(size - 8))).toBe(true);
    expect((await read(storage, "t", { start: 2 * C, end: 3 * C })).equals(data.subarray(2 * C, 3 * C + 1))).toBe(true);
    // A read covering record 1 fails, from any start.
    expect(await readError(storage, "t", { start: C + 5, end: C + 6 })).toBeInstanceOf(StorageIntegrityError);
    expect(await readError(storage, "t", { start: 1 })).toBeInstanceOf(StorageIntegrityError);
    expect(await readError(storage, "t", {})).toBeInstanceOf(StorageIntegrityError);
  });

  it("a flipped byte in a record read fails with StorageIntegrityError, releasing nothing of it", async () => {
    const { raw, backend } = await make();
    const storage = new EncryptedStorage({ backend, key: KEY });
    const size = 5 * C + 3;
    await storage.put("t", randomBytes(size));
    const stored = Buffer.from((await raw.get("t")) as Uint8Array);
    const h = headerLen(stored);
    for (const at of [h + 5 * RECORD + 1, stored.byteLength - 1, h + 3 * RECORD + 7]) {
      const tampered = Buffer.from(stored);
      tampered[at]! ^= 0x80;
      await raw.put("t", tampered);
      const range = at > h + 5 * RECORD ? { start: size - 8 } : { start: 3 * C + 100, end: 3 * C + 200 };
      expect(await readError(storage, "t", range), `byte ${at}`).toBeInstanceOf(StorageIntegrityError);
    }
  });

  it("a value truncated at a record boundary fails a tail read", async () => {
    const { raw, backend } = await make();
    const storage = new EncryptedStorage({ backend, key: KEY });
    const size = 5 * C + 3;
    await storage.put("t", randomBytes(size));
    const stored = Buffer.from((await raw.get("t")) as Uint8Array);
    const h = headerLen(stored);
    for (const records of [5, 3, 1]) {
      await raw.put("t", stored.subarray(0, h + records * RECORD));
      const cut = records * C;
      for (const range of [{ start: cut - 8 }, { start: cut - 1, end: cut - 1 }, { start: cut + 10 }, { start: 1 }]) {
        expect(await readError(storage, "t", range), `${records} records, ${JSON.stringify(range)}`).toBeInstanceOf(StorageIntegrityError);
      }
    }
    // Cut inside a tag: no valid layout at all.
    await raw.put("t", stored.subarray(0, h + 2 * RECORD + 5));
    expect(await readError(storage, "t", { start: C })).toBeInstanceOf(StorageIntegrityError);
  });

  it("serves plaintext values by range with allowPlaintext", async () => {
    const { raw, backend } = await make();
    const storage = new EncryptedStorage({ backend, key: KEY, allowPlaintext: true });
    const data = randomBytes(3 * C);
    await raw.put("p", data);
    expect((await read(storage, "p", { start: C + 3, end: 2 * C })).equals(data.subarray(C + 3, 2 * C + 1))).toBe(true);
    const strict = new EncryptedStorage({ backend, key: KEY });
    await expect(strict.getStream("p", { start: 5 })).rejects.toBeInstanceOf(StorageIntegrityError);
  });
});

/** Runs a hook after each inner `readStream` call has opened its stream. */
class HookDriver extends ForwardingDriver {
  onRead: (range: { start?: number | undefined; end?: number | undefined }) => Promise<void> = async () => {};
  constructor(inner: Storage) {
    super(inner, "hook");
  }
  override async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const result = await super.readStream(key, range, ctx);
    await this.onRead(range);
    return result;
  }
}

describe("a value replaced between the header read and the records read", () => {
  function setup() {
    const raw = new MemoryStorage();
    const hook = new HookDriver(raw);
    const storage = new EncryptedStorage({ backend: new LayerStorage(hook, { backend: raw }), key: KEY });
    const otherWriter = new EncryptedStorage({ backend: raw, key: KEY });
    return { hook, storage, otherWriter };
  }

  it("is read again, never mixing two versions", async () => {
    const { hook, storage, otherWriter } = setup();
    const a = randomBytes(5 * C + 3);
    const b = randomBytes(5 * C + 3);
    await storage.put("k", a);
    let calls = 0;
    hook.onRead = async () => {
      // Right after the first header read, another writer replaces the value.
      if (calls++ === 0) await otherWriter.put("k", b);
    };
    const got = await read(storage, "k", { start: 2 * C, end: 3 * C });
    expect(got.equals(b.subarray(2 * C, 3 * C + 1))).toBe(true);
    expect(calls).toBe(4);
  });

  it("falls back to one inner stream when it keeps changing", async () => {
    const { hook, storage, otherWriter } = setup();
    const values = [randomBytes(5 * C + 3), randomBytes(5 * C + 3), randomBytes(5 * C + 3)];
    await storage.put("k", values[0]!);
    let version = 0;
    let whole = 0;
    hook.onRead = async (range) => {
      if (range.start === undefined && range.end === undefined) whole++;
      else if (range.start === 0 && version < 2) await otherWriter.put("k", values[++version]!);
    };
    const got = await read(storage, "k", { start: 2 * C, end: 3 * C });
    expect(whole).toBe(1);
    expect(got.equals(values[2]!.subarray(2 * C, 3 * C + 1))).toBe(true);
  });
});
