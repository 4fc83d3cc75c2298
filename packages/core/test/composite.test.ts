import {
  CompositeStorage,
  StorageNotFoundError,
  StoragePartialWriteError,
  StorageUnavailableError,
  type Storage,
} from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";
import { withFaults } from "@pepperpy/storage-testing";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function walk(storage: Storage, prefix: string, limit: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.listPage(prefix, { limit, cursor });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    keys.push(...page.items.map((i) => i.key));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return keys;
}

describe("CompositeStorage writes", () => {
  it("a write that fails on one backend is a StoragePartialWriteError naming it", async () => {
    const first = new MemoryStorage();
    const failing = withFaults(new MemoryStorage(), { failOn: (c) => c.operation === "write" });
    const composite = new CompositeStorage([first, failing]);
    const error = await composite.put("k", "v").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoragePartialWriteError);
    const partial = error as StoragePartialWriteError;
    expect(partial.failures).toHaveLength(1);
    expect(partial.failures[0]).toMatchObject({ index: 1, backend: "faults(memory)" });
    expect(partial.failures[0]!.error).toBeInstanceOf(StorageUnavailableError);
    expect(partial.succeeded).toStrictEqual([0]);
    expect(partial.message).toContain("faults(memory)");
    expect(partial.key).toBe("k");
    expect(partial.operation).toBe("put");
    expect(partial.retryable, "retryable when every failure is").toBe(true);
    // The backend that succeeded has the value: the error says so instead of hiding it.
    expect(await first.get("k")).toBe("v");
    expect(failing.injectedFaults).toBe(1);
  });

  it("deletes that fail on one backend are partial failures too", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    const faulty = withFaults(b, { failOn: (c) => c.operation === "delete" || c.operation === "deleteMany" });
    const composite = new CompositeStorage([a, faulty]);
    await composite.put("k", "v");
    await expect(composite.delete("k")).rejects.toBeInstanceOf(StoragePartialWriteError);
    await expect(composite.deleteMany(["k"])).rejects.toBeInstanceOf(StoragePartialWriteError);
    expect(await b.get("k")).toBe("v");
  });

  it("a write that fails everywhere rejects with the first backend's error", async () => {
    const composite = new CompositeStorage([
      withFaults(new MemoryStorage(), { failOn: () => true }),
      withFaults(new MemoryStorage(), { failOn: () => true, error: () => new StorageNotFoundError("other") }),
    ]);
    const error = await composite.put("k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error).not.toBeInstanceOf(StoragePartialWriteError);
  });

  it("a streamed put reaches every backend", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    const composite = new CompositeStorage([a, b]);
    async function* chunks() {
      yield Buffer.from("ab");
      yield Buffer.from("cd");
    }
    await composite.put("s", chunks());
    expect(await a.get("s")).toStrictEqual(Buffer.from("abcd"));
    expect(await b.get("s")).toStrictEqual(Buffer.from("abcd"));
  });

  it("a timed-out streamed put stops reading the stream", async () => {
    const composite = new CompositeStorage([new MemoryStorage(), new MemoryStorage()]);
    let pulled = 0;
    async function* slow() {
      for (let i = 0; i < 50; i++) {
        pulled++;
        yield Buffer.from([i]);
        // Longer than the timeout: for a stream the timeout bounds the wait for a chunk.
        await new Promise((r) => setTimeout(r, 60));
      }
    }
    await expect(composite.put("s", slow(), { timeout: 30 })).rejects.toMatchObject({ code: "TIMEOUT" });
    const atTimeout = pulled;
    await new Promise((r) => setTimeout(r, 300));
    // At most the chunk already requested when the timeout fired is still pulled.
    expect(pulled, "the composite kept consuming the stream after the timeout").toBeLessThanOrEqual(atTimeout + 1);
    expect(await composite.exists("s")).toBe(false);
  });
});

describe("CompositeStorage reads", () => {
  it("falls back to the next backend when the first fails", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    const flakyA = withFaults(a, { failOn: (c) => c.operation === "read" || c.operation === "stat" });
    const composite = new CompositeStorage([flakyA, b]);
    flakyA.enabled = false;
    await composite.put("k", { v: 1 });
    flakyA.enabled = true;
    expect(await composite.get("k")).toStrictEqual({ v: 1 });
    expect((await composite.stat("k")).size).toBeGreaterThan(0);
    expect(flakyA.injectedFaults).toBe(2);
  });

  it("a miss everywhere with a failure reports the failure, not NotFound", async () => {
    const composite = new CompositeStorage([withFaults(new MemoryStorage(), { failOn: () => true }), new MemoryStorage()]);
    await expect(composite.get("missing")).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it("a miss everywhere is NotFound", async () => {
    const composite = new CompositeStorage([new MemoryStorage(), new MemoryStorage()]);
    await expect(composite.get("missing")).rejects.toBeInstanceOf(StorageNotFoundError);
  });

  it("read repair copies a value found later to the earlier backends that missed it", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    const c = new MemoryStorage();
    await c.put("k", "from c", { metadata: { m: "1" }, contentType: "text/x-test" });
    const composite = new CompositeStorage([a, b, c]);
    expect(await composite.get("k")).toBe("from c");
    expect(await a.get("k")).toBe("from c");
    expect(await b.get("k")).toBe("from c");
    const info = await a.stat("k");
    expect(info.metadata).toStrictEqual({ m: "1" });
    expect(info.contentType).toBe("text/x-test");
  });

  it("read repair keeps the value type of bytes and JSON", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    await b.put("bytes", Buffer.from([0, 1, 255]));
    await b.put("json", { j: [1] });
    const composite = new CompositeStorage([a, b]);
    await composite.get("bytes");
    await composite.get("json");
    expect(await a.get("bytes")).toStrictEqual(Buffer.from([0, 1, 255]));
    expect(await a.get("json")).toStrictEqual({ j: [1] });
  });

  it("read repair skips a backend that failed and ignores repair failures", async () => {
    const a = new MemoryStorage();
    const failingA = withFaults(a, { failOn: (c) => c.operation === "write" });
    const b = new MemoryStorage();
    await b.put("k", "v");
    const composite = new CompositeStorage([failingA, b]);
    expect(await composite.get("k")).toBe("v");
    expect(failingA.injectedFaults).toBe(1);
    expect(await a.exists("k")).toBe(false);
  });

  it("readRepair: false leaves the earlier backends alone", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    await b.put("k", "v");
    const composite = new CompositeStorage([a, b], { readRepair: false });
    expect(await composite.get("k")).toBe("v");
    expect(await a.exists("k")).toBe(false);
  });
});

describe("CompositeStorage listing", () => {
  it("lists the sorted union of disjoint backends across pages", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    const keys = Array.from({ length: 40 }, (_, i) => `p/k${String(i).padStart(2, "0")}`);
    for (const [i, k] of keys.entries()) await (i % 3 === 0 ? a : b).put(k, i);
    const composite = new CompositeStorage([a, b]);
    expect(await composite.list("p/")).toStrictEqual(keys);
    for (const limit of [1, 2, 3, 7, 40, 100]) expect(await walk(composite, "p/", limit), `limit ${limit}`).toStrictEqual(keys);
    expect((await collect(composite.iterate("p/", { pageSize: 4 }))).map((e) => e.key)).toStrictEqual(keys);
  });

  it("lists keys present in both backends once, with the first backend's entry", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    await a.put("x", "four");
    await b.put("x", "longer value");
    await b.put("y", "1");
    const composite = new CompositeStorage([a, b]);
    const entries = await collect(composite.iterate(""));
    expect(entries.map((e) => [e.key, e.size])).toStrictEqual([
      ["x", 4],
      ["y", 1],
    ]);
  });

  it("lists keys of one backend that all sort after the other's", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    for (let i = 0; i < 10; i++) await a.put(`a${i}`, i);
    for (let i = 0; i < 10; i++) await b.put(`b${i}`, i);
    const composite = new CompositeStorage([b, a]);
    expect(await walk(composite, "", 3)).toStrictEqual([...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`)]);
  });
});

describe("CompositeStorage construction", () => {
  it("needs at least one backend and reports the stack's capabilities", () => {
    expect(() => new CompositeStorage([])).toThrow(/at least one backend/);
    const composite = new CompositeStorage([new MemoryStorage(), new MemoryStorage()]);
    expect(composite.name).toBe("composite(memory,memory)");
    expect(composite.capabilities.conditionalWrite).toBe(false);
    expect(composite.capabilities.keyIsAlsoPrefix).toBe(true);
    expect(composite.backends).toHaveLength(2);
  });
});
