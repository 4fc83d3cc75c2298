import {
  createStorage,
  StorageAbortedError,
  StorageConflictError,
  StorageIOError,
  StorageNotFoundError,
  StorageTimeoutError,
  StorageValidationError,
  readEntry
} from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";
import { CachedStorage } from "../src/index.js";
import { gate, ProbeStorage } from "./probe-storage.js";

function setup(opts: Partial<ConstructorParameters<typeof CachedStorage>[0]> = {}) {
  const memory = new MemoryStorage();
  const probe = new ProbeStorage(memory);
  const cache = new CachedStorage({ backend: probe, ...opts });
  return { memory, probe, cache };
}

describe("CachedStorage: hits and single flight", () => {
  it("serves repeated reads of every kind from one backend read", async () => {
    const { probe, cache } = setup();
    await cache.put("k", { a: 1 });
    expect(await cache.get("k")).toEqual({ a: 1 });
    expect(await cache.getJSON("k")).toEqual({ a: 1 });
    expect(await cache.getText("k")).toBe('{"a":1}');
    expect(Buffer.from(await cache.getBytes("k")).toString()).toBe('{"a":1}');
    expect((await cache.stat("k")).size).toBe(7);
    expect(await cache.exists("k")).toBe(true);
    expect(probe.reads).toBe(1);
    expect(probe.stats).toBe(0);
    const s = cache.getCacheStats();
    expect(s).toMatchObject({ hits: 5, misses: 1, loads: 1, entries: 1 });
    expect(s.hitRatio).toBeCloseTo(5 / 6);
  });

  it("1,000 concurrent gets of one key make exactly one backend read", async () => {
    const { probe, cache } = setup();
    await cache.put("hot", "value");
    const hold = gate();
    probe.hooks.beforeRead = () => hold.promise;
    const reads = Array.from({ length: 1000 }, () => cache.get("hot"));
    await new Promise((r) => setImmediate(r));
    hold.open();
    const values = await Promise.all(reads);
    expect(values.every((v) => v === "value")).toBe(true);
    expect(probe.reads).toBe(1);
    expect(cache.getCacheStats()).toMatchObject({ loads: 1, misses: 1000, hits: 0 });
  });

  it("1,000 concurrent getBytes of one key share one read yet each get a private copy", async () => {
    const { probe, cache } = setup();
    await cache.put("b", new Uint8Array([1, 2, 3]));
    const all = await Promise.all(Array.from({ length: 1000 }, () => cache.getBytes("b")));
    expect(probe.reads).toBe(1);
    all[0]![0] = 99;
    expect(all[1]![0]).toBe(1);
    expect([...(await cache.getBytes("b"))]).toEqual([1, 2, 3]);
  });

  it("hands out copies: changing a returned buffer, entry or info never changes the cache", async () => {
    const { cache } = setup();
    await cache.put("bin", new Uint8Array([1, 2, 3]), { metadata: { owner: "a" } });
    const v = (await cache.get("bin")) as Buffer;
    v[0] = 42;
    const bytes = await cache.getBytes("bin");
    bytes[1] = 42;
    const entry = await readEntry(cache, "bin");
    entry.data[2] = 42;
    entry.info.metadata.owner = "mallory";
    const info = await cache.stat("bin");
    info.metadata.owner = "mallory";
    info.lastModified.setTime(0);
    const stream = await cache.getStream("bin");
    for await (const chunk of stream) (chunk as Buffer)[0] = 42;
    expect([...((await cache.get("bin")) as Buffer)]).toEqual([1, 2, 3]);
    const after = await cache.stat("bin");
    expect(after.metadata).toEqual({ owner: "a" });
    expect(after.lastModified.getTime()).toBeGreaterThan(0);
    expect(cache.getCacheStats().loads).toBe(1);
  });

  it("serves ranges of cached values", async () => {
    const { probe, cache } = setup();
    await cache.put("r", "0123456789");
    await cache.get("r");
    const chunks: Buffer[] = [];
    for await (const c of await cache.getStream("r", { start: 2, end: 5 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("2345");
    expect(probe.reads).toBe(1);
  });
});

describe("CachedStorage: never stale after a write through the layer", () => {
  it("a put that lands while a read of the old value is in flight wins", async () => {
    const { probe, cache } = setup();
    await cache.put("k", "old");
    const hold = gate();
    probe.hooks.afterRead = () => hold.promise;
    const inFlight = cache.get("k"); // has read "old" from the backend, held before returning
    await new Promise((r) => setImmediate(r));
    probe.hooks.afterRead = undefined;
    await cache.put("k", "new");
    hold.open();
    expect(await inFlight).toBe("old"); // it overlapped the write: either value is fine
    expect(await cache.get("k")).toBe("new");
    expect(await cache.get("k")).toBe("new");
  });

  it("a delete that lands while a read is in flight wins", async () => {
    const { probe, cache } = setup({ negative: true });
    await cache.put("k", "old");
    const hold = gate();
    probe.hooks.afterRead = () => hold.promise;
    const inFlight = cache.get("k");
    await new Promise((r) => setImmediate(r));
    probe.hooks.afterRead = undefined;
    await cache.delete("k");
    hold.open();
    await inFlight;
    await expect(cache.get("k")).rejects.toBeInstanceOf(StorageNotFoundError);
    expect(await cache.exists("k")).toBe(false);
  });

  it("a read that starts and ends during a write does not cache the old value", async () => {
    const { probe, cache } = setup();
    await cache.put("k", "old");
    const hold = gate();
    probe.hooks.beforeWrite = () => hold.promise;
    const writing = cache.put("k", "new");
    await new Promise((r) => setImmediate(r));
    expect(await cache.get("k")).toBe("old"); // the write has not landed yet
    hold.open();
    await writing;
    expect(await cache.get("k")).toBe("new");
  });

  it("readers joining after a write do not share the read that started before it", async () => {
    const { probe, cache } = setup();
    await cache.put("k", "old");
    const hold = gate();
    probe.hooks.afterRead = () => hold.promise;
    const early = cache.get("k");
    await new Promise((r) => setImmediate(r));
    probe.hooks.afterRead = undefined;
    await cache.put("k", "new");
    const late = cache.get("k"); // must not join the held read of "old"
    expect(await late).toBe("new");
    hold.open();
    expect(await early).toBe("old");
  });

  it("random interleavings: each writer reads its own write, and the cache ends equal to the backend", async () => {
    const { memory, probe, cache } = setup({ cacheSize: 4 });
    const tick = () => new Promise<void>((r) => (Math.random() < 0.5 ? setImmediate(r) : queueMicrotask(r)));
    probe.hooks.beforeRead = tick;
    probe.hooks.afterRead = tick;
    probe.hooks.beforeWrite = tick;
    probe.hooks.afterWrite = tick;
    const keys = ["a", "b", "c", "d", "e", "f"];
    const writer = async (key: string) => {
      for (let i = 0; i < 40; i++) {
        if (Math.random() < 0.2) {
          await cache.delete(key);
          expect(await cache.exists(key)).toBe(false);
        } else {
          const v = `${key}-${i}`;
          await cache.put(key, v);
          expect(await cache.get(key)).toBe(v);
        }
      }
    };
    const reader = async () => {
      for (let i = 0; i < 200; i++) {
        await cache.get(keys[i % keys.length]!).catch((e) => expect(e).toBeInstanceOf(StorageNotFoundError));
      }
    };
    await Promise.all([...keys.map(writer), reader(), reader(), reader()]);
    for (const key of keys) {
      const truth = await memory.get(key).catch(() => undefined);
      expect(await cache.get(key).catch(() => undefined)).toBe(truth);
    }
  });

  it("copy, move, deleteMany and putMany invalidate", async () => {
    const { cache } = setup({ negative: true });
    await cache.putMany({ a: "A", b: "B", c: "C", d: "D" });
    for (const k of ["a", "b", "c", "d", "e"]) await cache.get(k).catch(() => undefined);
    await cache.copy("a", "b");
    expect(await cache.get("b")).toBe("A");
    await cache.move("c", "e");
    expect(await cache.get("e")).toBe("C");
    expect(await cache.exists("c")).toBe(false);
    await cache.deleteMany(["a", "d"]);
    expect(await cache.getMany(["a", "d"])).toEqual([undefined, undefined]);
    await cache.putMany([
      ["a", "A2"],
      ["b", "B2"],
    ]);
    expect(await cache.getMany(["a", "b"])).toEqual(["A2", "B2"]);
  });
});

describe("CachedStorage: failures", () => {
  it("a write that certainly did not change the backend leaves the cache as it was", async () => {
    const { probe, cache } = setup();
    await cache.put("k", "v1");
    await cache.get("k");
    await expect(cache.put("k", "v2", { ifNoneMatch: "*" })).rejects.toBeInstanceOf(StorageConflictError);
    const before = cache.getCacheStats().hits;
    expect(await cache.get("k")).toBe("v1");
    expect(cache.getCacheStats().hits).toBe(before + 1);
    expect(probe.reads).toBe(1);
  });

  it("a write that failed after it may have landed drops the entry, so the next read sees the backend", async () => {
    const { probe, cache } = setup();
    await cache.put("k", "v1");
    await cache.get("k");
    probe.hooks.afterWrite = () => {
      throw new StorageIOError("connection reset after the write");
    };
    await expect(cache.put("k", "v2")).rejects.toBeInstanceOf(StorageIOError);
    probe.hooks.afterWrite = undefined;
    expect(await cache.get("k")).toBe("v2");
    expect(probe.reads).toBe(2);
  });

  it("a failed load is not cached", async () => {
    const { probe, cache } = setup();
    await cache.put("k", "v");
    probe.hooks.beforeRead = () => {
      throw new StorageIOError("flaky");
    };
    await expect(cache.get("k")).rejects.toBeInstanceOf(StorageIOError);
    probe.hooks.beforeRead = undefined;
    expect(await cache.get("k")).toBe("v");
    expect(await cache.get("k")).toBe("v");
    expect(probe.reads).toBe(2);
  });

  it("one caller's abort does not fail the others sharing its read; when all give up the read is aborted", async () => {
    const { probe, cache } = setup();
    await cache.put("k", "v");
    const hold = gate();
    let backendSignal: AbortSignal | undefined;
    probe.hooks.beforeRead = (_k, ctx) => {
      backendSignal = ctx.signal;
      return hold.promise;
    };
    const a = new AbortController();
    const first = cache.get("k", { signal: a.signal });
    const second = cache.get("k", { timeout: 60_000 });
    await new Promise((r) => setImmediate(r));
    a.abort();
    await expect(first).rejects.toBeInstanceOf(StorageAbortedError);
    expect(backendSignal?.aborted).toBe(false);
    hold.open();
    expect(await second).toBe("v");
    expect(probe.reads).toBe(1);

    cache.invalidate();
    const hold2 = gate();
    probe.hooks.beforeRead = (_k, ctx) => {
      backendSignal = ctx.signal;
      return hold2.promise;
    };
    await expect(cache.get("k", { timeout: 20 })).rejects.toBeInstanceOf(StorageTimeoutError);
    expect(backendSignal?.aborted).toBe(true);
    hold2.open();
  });
});

describe("CachedStorage: bounds, ttl, negative caching", () => {
  it("is bounded by entries and counts evictions", async () => {
    const { cache } = setup({ cacheSize: 3 });
    for (let i = 0; i < 5; i++) await cache.put(`k${i}`, `v${i}`);
    for (let i = 0; i < 5; i++) await cache.get(`k${i}`);
    expect(cache.getCacheStats()).toMatchObject({ entries: 3, evictions: 2 });
  });

  it("is bounded by bytes and never caches a value larger than maxBytes", async () => {
    const { probe, cache } = setup({ maxBytes: 3000 });
    for (let i = 0; i < 4; i++) await cache.put(`k${i}`, new Uint8Array(1000));
    for (let i = 0; i < 4; i++) await cache.get(`k${i}`);
    const s = cache.getCacheStats();
    expect(s.entries).toBe(2);
    expect(s.bytes).toBeLessThanOrEqual(3000);
    await cache.put("big", new Uint8Array(5000));
    await cache.get("big");
    await cache.get("big");
    expect(probe.reads).toBe(6);
  });

  it("ttl bounds how long a write by someone else goes unseen", async () => {
    let now = 1000;
    const { memory, cache } = setup({ ttl: 5000, clock: { now: () => now } });
    await memory.put("k", "v1");
    expect(await cache.get("k")).toBe("v1");
    await memory.put("k", "v2"); // another process, behind the cache's back
    now += 4000;
    expect(await cache.get("k")).toBe("v1");
    now += 1001;
    expect(await cache.get("k")).toBe("v2");
    expect(cache.getCacheStats().expirations).toBe(1);
  });

  it("negative caching remembers misses until a write", async () => {
    const { probe, cache } = setup({ negative: true });
    await expect(cache.get("nope")).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(cache.get("nope")).rejects.toBeInstanceOf(StorageNotFoundError);
    expect(await cache.exists("nope")).toBe(false);
    expect(probe.reads).toBe(1);
    await cache.put("nope", "now");
    expect(await cache.get("nope")).toBe("now");

    const plain = setup();
    await plain.cache.get("nope").catch(() => undefined);
    await plain.cache.get("nope").catch(() => undefined);
    expect(plain.probe.reads).toBe(2);
  });

  it("rejects bad options", () => {
    const backend = new MemoryStorage();
    expect(() => new CachedStorage({ backend, cacheSize: 0 })).toThrow(StorageValidationError);
    expect(() => new CachedStorage({ backend, maxBytes: -1 })).toThrow(StorageValidationError);
    expect(() => new CachedStorage({ backend, ttl: 0 })).toThrow(StorageValidationError);
  });

  it("close drops the entries and closes the backend", async () => {
    const { memory, cache } = setup();
    await cache.put("k", "v");
    await cache.get("k");
    await cache.close();
    expect(cache.getCacheStats().entries).toBe(0);
    await expect(memory.get("k")).rejects.toThrow(/closed/);
  });
});

describe("CachedStorage: config", () => {
  it("is built from options.cache with size, max_bytes, ttl and negative", async () => {
    const storage = await createStorage({ type: "memory", options: { cache: { size: 2, max_bytes: "1MB", ttl: 60_000, negative: true } } });
    expect(storage).toBeInstanceOf(CachedStorage);
    const cache = storage as CachedStorage;
    for (const k of ["a", "b", "c"]) await cache.put(k, k);
    for (const k of ["a", "b", "c"]) expect(await cache.get(k)).toBe(k);
    expect(cache.getCacheStats()).toMatchObject({ entries: 2, evictions: 1 });
    // @ts-expect-error size is a number of entries
    await expect(createStorage({ type: "memory", options: { cache: { size: "lots" } } })).rejects.toThrow(/cache\.size/);
  });
});
