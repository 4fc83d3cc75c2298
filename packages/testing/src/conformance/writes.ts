import { Readable } from "node:stream";
import {
  StorageConflictError,
  StorageNotFoundError,
  StorageUnsupportedError,
  StorageValidationError,
} from "@pepperpy/storage-core";
import { expect } from "vitest";
import { type ConformanceCase, chunksOf, expectBytes, expectRejects, patternBytes } from "./helpers.js";

export const writeCases: ConformanceCase[] = [
  // Streamed puts.
  {
    name: "put streams: from a Node Readable",
    async run({ storage, key }) {
      const data = patternBytes(100_000);
      await storage.put(key("a"), Readable.from([data.subarray(0, 40_000), data.subarray(40_000)]));
      expectBytes(await storage.get(key("a")), data, "get of a value put from a Readable");
    },
  },
  {
    name: "put streams: from a web ReadableStream",
    async run({ storage, key }) {
      const data = patternBytes(70_000, 3);
      const web = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(data.subarray(0, 1000));
          controller.enqueue(data.subarray(1000));
          controller.close();
        },
      });
      await storage.put(key("a"), web);
      expectBytes(await storage.get(key("a")), data, "get of a value put from a web ReadableStream");
    },
  },
  {
    name: "put streams: from an async generator",
    async run({ storage, key }) {
      const data = patternBytes(50_001, 5);
      await storage.put(key("a"), chunksOf(data, 4096));
      expectBytes(await storage.get(key("a")), data, "get of a value put from an async generator");
      expect((await storage.stat(key("a"))).size).toBe(50_001);
    },
  },
  {
    name: "put streams: an empty stream stores 0 bytes",
    async run({ storage, key }) {
      await storage.put(key("a"), Readable.from([]));
      expectBytes(await storage.get(key("a")), new Uint8Array(0), "get of an empty stream");
    },
  },
  {
    name: "put streams: a streamed value of 3 MiB",
    timeout: 120_000,
    async run({ storage, key }) {
      const data = patternBytes(3 * 1024 * 1024 + 17, 11);
      await storage.put(key("big"), chunksOf(data, 64 * 1024), { contentType: "application/x-test", metadata: { kind: "big" } });
      expectBytes(await storage.getBytes(key("big")), data, "getBytes of a 3 MiB streamed value");
      const info = await storage.stat(key("big"));
      expect(info.size).toBe(data.byteLength);
      expect(info.contentType).toBe("application/x-test");
      expect(info.metadata).toStrictEqual({ kind: "big" });
    },
  },
  {
    name: "put streams: a stream that fails stores nothing",
    async run({ storage, key }) {
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield Buffer.from("partial");
        throw new Error("source broke");
      }
      await expect(storage.put(key("a"), failing())).rejects.toThrow();
      expect(await storage.exists(key("a")), "a failed stream left a value").toBe(false);
      await storage.put(key("b"), "old");
      await expect(storage.put(key("b"), failing())).rejects.toThrow();
      expect(await storage.get(key("b")), "a failed stream changed the old value").toBe("old");
    },
  },
  // maxSize.
  {
    name: "maxSize: a value over maxSize is rejected and nothing is stored",
    async run({ storage, key }) {
      await expectRejects(storage.put(key("a"), "x".repeat(11), { maxSize: 10 }), StorageValidationError, "put of 11 bytes with maxSize 10");
      expect(await storage.exists(key("a"))).toBe(false);
      await storage.put(key("b"), "x".repeat(10), { maxSize: 10 });
      expect(await storage.get(key("b")), "a value of exactly maxSize is accepted").toBe("x".repeat(10));
    },
  },
  {
    name: "maxSize: a stream over maxSize is rejected and nothing is stored",
    async run({ storage, key }) {
      await storage.put(key("a"), "old");
      await expectRejects(storage.put(key("a"), chunksOf(patternBytes(5000), 1000), { maxSize: 4096 }), StorageValidationError, "streamed put over maxSize");
      expect(await storage.get(key("a")), "an oversized stream changed the old value").toBe("old");
    },
  },
  // Batches.
  {
    name: "batches: getMany returns values in the order of keys, undefined for missing",
    async run({ storage, key }) {
      await storage.put(key("a"), "A");
      await storage.put(key("b"), { b: 1 });
      await storage.put(key("c"), Buffer.from([3]));
      const got = await storage.getMany([key("b"), key("missing"), key("a"), key("c"), key("a")]);
      expect(got.length).toBe(5);
      expect(got[0]).toStrictEqual({ b: 1 });
      expect(got[1]).toBeUndefined();
      expect(got[2]).toBe("A");
      expectBytes(got[3], Buffer.from([3]), "getMany bytes entry");
      expect(got[4]).toBe("A");
      expect(await storage.getMany([])).toStrictEqual([]);
    },
  },
  {
    name: "batches: putMany takes [key, value] pairs",
    async run({ storage, key }) {
      await storage.putMany([
        [key("a"), "A"],
        [key("b"), { n: 2 }],
        [key("c"), Buffer.from([1])],
      ]);
      expect(await storage.get(key("a"))).toBe("A");
      expect(await storage.get(key("b"))).toStrictEqual({ n: 2 });
      expectBytes(await storage.get(key("c")), Buffer.from([1]), "putMany bytes");
    },
  },
  {
    name: "batches: putMany takes a plain object and a Map",
    async run({ storage, key }) {
      await storage.putMany({ [key("o1")]: "one", [key("o2")]: [2] });
      await storage.putMany(new Map([[key("m1"), "map"]]));
      expect(await storage.getMany([key("o1"), key("o2"), key("m1")])).toStrictEqual(["one", [2], "map"]);
    },
  },
  {
    name: "batches: putMany with an invalid value rejects",
    async run({ storage, key }) {
      await expectRejects(
        storage.putMany([
          [key("ok"), "fine"],
          [key("bad"), undefined as unknown as string],
        ]),
        StorageValidationError,
        "putMany with an undefined value",
      );
      expect(await storage.exists(key("bad"))).toBe(false);
    },
  },
  {
    name: "batches: deleteMany removes keys and ignores missing ones",
    async run({ storage, key }) {
      await storage.putMany([
        [key("a"), "1"],
        [key("b"), "2"],
        [key("c"), "3"],
      ]);
      await storage.deleteMany([key("a"), key("missing"), key("c"), key("a")]);
      expect(await storage.list(key(""))).toStrictEqual([key("b")]);
      await storage.deleteMany([]);
    },
  },
  {
    name: "batches: a batch with a concurrency of 1 still does every key",
    async run({ storage, key }) {
      const keys = Array.from({ length: 10 }, (_, i) => key(`k${i}`));
      await storage.putMany(
        keys.map((k, i) => [k, i] as const),
        { concurrency: 1 },
      );
      expect(await storage.getMany(keys, { concurrency: 1 })).toStrictEqual(keys.map((_, i) => i));
      await storage.deleteMany(keys, { concurrency: 1 });
      expect(await storage.list(key(""))).toStrictEqual([]);
    },
  },
  // Copy and move.
  {
    name: "copy: copies the value with its type, content type and metadata",
    async run({ storage, key }) {
      await storage.put(key("src"), "text", { contentType: "text/x-custom", metadata: { m: "1" } });
      await storage.copy(key("src"), key("dst"));
      expect(await storage.get(key("dst"))).toBe("text");
      const info = await storage.stat(key("dst"));
      expect(info.contentType).toBe("text/x-custom");
      expect(info.metadata).toStrictEqual({ m: "1" });
      expect(await storage.get(key("src")), "copy must keep the source").toBe("text");
      await storage.put(key("bin"), Buffer.from([0, 255]));
      await storage.copy(key("bin"), key("bin2"));
      expectBytes(await storage.get(key("bin2")), Buffer.from([0, 255]), "copied bytes");
      await storage.put(key("json"), { j: true });
      await storage.copy(key("json"), key("json2"));
      expect(await storage.get(key("json2"))).toStrictEqual({ j: true });
    },
  },
  {
    name: "copy: overwrites an existing destination",
    async run({ storage, key }) {
      await storage.put(key("src"), "new");
      await storage.put(key("dst"), Buffer.from([1]), { metadata: { old: "yes" } });
      await storage.copy(key("src"), key("dst"));
      expect(await storage.get(key("dst"))).toBe("new");
      expect((await storage.stat(key("dst"))).metadata).toStrictEqual({});
    },
  },
  {
    name: "copy: a missing source rejects with StorageNotFoundError and leaves the destination",
    async run({ storage, key }) {
      await storage.put(key("dst"), "keep");
      await expectRejects(storage.copy(key("missing"), key("dst")), StorageNotFoundError, "copy(missing, dst)");
      expect(await storage.get(key("dst"))).toBe("keep");
    },
  },
  {
    name: "copy: onto itself keeps the value",
    async run({ storage, key }) {
      await storage.put(key("a"), "same", { metadata: { m: "1" } });
      await storage.copy(key("a"), key("a"));
      expect(await storage.get(key("a"))).toBe("same");
      expect((await storage.stat(key("a"))).metadata).toStrictEqual({ m: "1" });
      await expectRejects(storage.copy(key("missing"), key("missing")), StorageNotFoundError, "copy(missing, missing)");
    },
  },
  {
    name: "copy: later changes to the copy do not change the source",
    async run({ storage, key }) {
      await storage.put(key("src"), "original");
      await storage.copy(key("src"), key("dst"));
      await storage.put(key("dst"), "changed");
      expect(await storage.get(key("src"))).toBe("original");
    },
  },
  {
    name: "move: moves the value with its metadata and removes the source",
    async run({ storage, key }) {
      await storage.put(key("src"), { v: 1 }, { metadata: { m: "2" }, contentType: "application/vnd.test+json" });
      await storage.put(key("dst"), "old");
      await storage.move(key("src"), key("dst"));
      expect(await storage.get(key("dst"))).toStrictEqual({ v: 1 });
      const info = await storage.stat(key("dst"));
      expect(info.metadata).toStrictEqual({ m: "2" });
      expect(info.contentType).toBe("application/vnd.test+json");
      expect(await storage.exists(key("src")), "move must remove the source").toBe(false);
    },
  },
  {
    name: "move: a missing source rejects with StorageNotFoundError",
    async run({ storage, key }) {
      await expectRejects(storage.move(key("missing"), key("dst")), StorageNotFoundError, "move(missing, dst)");
      expect(await storage.exists(key("dst"))).toBe(false);
    },
  },
  {
    name: "move: onto itself keeps the value",
    async run({ storage, key }) {
      await storage.put(key("a"), "stay");
      await storage.move(key("a"), key("a"));
      expect(await storage.get(key("a"))).toBe("stay");
    },
  },
  // Conditional writes.
  {
    name: "conditional: ifNoneMatch '*' creates a missing key",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key }) {
      await storage.put(key("a"), "created", { ifNoneMatch: "*" });
      expect(await storage.get(key("a"))).toBe("created");
    },
  },
  {
    name: "conditional: ifNoneMatch '*' on an existing key rejects with StorageConflictError",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key }) {
      await storage.put(key("a"), "first");
      await expectRejects(storage.put(key("a"), "second", { ifNoneMatch: "*" }), StorageConflictError, "put ifNoneMatch on an existing key");
      expect(await storage.get(key("a"))).toBe("first");
    },
  },
  {
    name: "conditional: ifMatch with the current etag replaces the value",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key }) {
      await storage.put(key("a"), "v1");
      const { etag } = await storage.stat(key("a"));
      expect(etag, "stat must report an etag when conditional writes are supported").toBeDefined();
      await storage.put(key("a"), "v2", { ifMatch: etag });
      expect(await storage.get(key("a"))).toBe("v2");
    },
  },
  {
    name: "conditional: ifMatch with a stale etag rejects with StorageConflictError",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key }) {
      await storage.put(key("a"), "v1");
      const { etag } = await storage.stat(key("a"));
      await storage.put(key("a"), "v2");
      await expectRejects(storage.put(key("a"), "v3", { ifMatch: etag }), StorageConflictError, "put ifMatch with a stale etag");
      expect(await storage.get(key("a"))).toBe("v2");
    },
  },
  {
    name: "conditional: ifMatch on a missing key rejects with StorageConflictError",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key }) {
      await expectRejects(storage.put(key("a"), "v", { ifMatch: '"some-etag"' }), StorageConflictError, "put ifMatch on a missing key");
      expect(await storage.exists(key("a"))).toBe(false);
    },
  },
  {
    name: "conditional: of 10 concurrent creates with ifNoneMatch '*' exactly one wins",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key }) {
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => storage.put(key("a"), `writer ${i}`, { ifNoneMatch: "*" })));
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won.length, "exactly one create may succeed").toBe(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StorageConflictError);
      expect(await storage.get(key("a"))).toMatch(/^writer \d$/);
    },
  },
  {
    name: "conditional: a stack without conditional writes rejects them with StorageUnsupportedError",
    requires: { capability: "conditionalWrite", value: false },
    async run({ storage, key }) {
      await expectRejects(storage.put(key("a"), "v", { ifNoneMatch: "*" }), StorageUnsupportedError, "put ifNoneMatch without the capability");
      await expectRejects(storage.put(key("a"), "v", { ifMatch: '"x"' }), StorageUnsupportedError, "put ifMatch without the capability");
      expect(await storage.exists(key("a"))).toBe(false);
    },
  },
];
