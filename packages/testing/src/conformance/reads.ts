import { StorageIntegrityError, StorageNotFoundError, StorageValidationError } from "@pepperpy/storage-core";
import { expect } from "vitest";
import { type ConformanceCase, allByteValues, expectBytes, expectRejects, patternBytes, readAll } from "./helpers.js";

const DAY = 86_400_000;

export const readCases: ConformanceCase[] = [
  {
    name: "basics: get of a missing key rejects with StorageNotFoundError",
    async run({ storage, key }) {
      await expectRejects(storage.get(key("missing")), StorageNotFoundError, "get(missing)");
    },
  },
  {
    name: "basics: exists is true after put and false after delete",
    async run({ storage, key }) {
      const k = key("a");
      expect(await storage.exists(k), "exists before put").toBe(false);
      await storage.put(k, "v");
      expect(await storage.exists(k), "exists after put").toBe(true);
      await storage.delete(k);
      expect(await storage.exists(k), "exists after delete").toBe(false);
      await expectRejects(storage.get(k), StorageNotFoundError, "get after delete");
    },
  },
  {
    name: "basics: deleting a missing key succeeds",
    async run({ storage, key }) {
      await storage.delete(key("never-written"));
      await storage.put(key("a"), "v");
      await storage.delete(key("a"));
      await storage.delete(key("a"));
    },
  },
  {
    name: "basics: put resolves to the stored object's info",
    async run({ storage, key }) {
      const k = key("a");
      const info = await storage.put(k, "héllo");
      expect(info.key).toBe(k);
      expect(info.size, "size is in UTF-8 bytes").toBe(6);
      expect(info.lastModified).toBeInstanceOf(Date);
    },
  },
  {
    name: "stat: size, lastModified, key and default content types",
    async run({ storage, key }) {
      const before = Date.now();
      await storage.put(key("text"), "héllo");
      await storage.put(key("bytes"), Buffer.alloc(3));
      await storage.put(key("json"), { a: 1 });
      const text = await storage.stat(key("text"));
      expect(text.key).toBe(key("text"));
      expect(text.size, "size of a string is its UTF-8 length").toBe(6);
      expect(text.lastModified).toBeInstanceOf(Date);
      expect(Math.abs(text.lastModified.getTime() - before), "lastModified is about now (within a day)").toBeLessThan(DAY);
      expect(text.contentType).toMatch(/^text\/plain/);
      expect((await storage.stat(key("bytes"))).contentType).toBe("application/octet-stream");
      expect((await storage.stat(key("bytes"))).size).toBe(3);
      expect((await storage.stat(key("json"))).contentType).toMatch(/^application\/json/);
      expect((await storage.stat(key("json"))).size).toBe(Buffer.byteLength(JSON.stringify({ a: 1 })));
    },
  },
  {
    name: "stat: a missing key rejects with StorageNotFoundError",
    async run({ storage, key }) {
      await expectRejects(storage.stat(key("missing")), StorageNotFoundError, "stat(missing)");
    },
  },
  {
    name: "stat: contentType and metadata persist",
    async run({ storage, key }) {
      const k = key("doc.bin");
      await storage.put(k, "<p>hi</p>", { contentType: "text/html; charset=utf-8", metadata: { owner: "ada", "x-version": "2", "a.b_c": "with spaces" } });
      const info = await storage.stat(k);
      expect(info.contentType).toBe("text/html; charset=utf-8");
      expect(info.metadata).toStrictEqual({ owner: "ada", "x-version": "2", "a.b_c": "with spaces" });
      expect(await storage.get(k), "a custom content type does not change how a string reads back").toBe("<p>hi</p>");
    },
  },
  {
    name: "stat: metadata is replaced, not merged, by a later put",
    async run({ storage, key }) {
      const k = key("a");
      await storage.put(k, "1", { metadata: { first: "1" } });
      await storage.put(k, "2", { metadata: { second: "2" } });
      expect((await storage.stat(k)).metadata).toStrictEqual({ second: "2" });
      await storage.put(k, "3");
      expect((await storage.stat(k)).metadata).toStrictEqual({});
    },
  },
  {
    name: "stat: invalid metadata is rejected with StorageValidationError",
    async run({ storage, key }) {
      const k = key("a");
      await expectRejects(storage.put(k, "v", { metadata: { Upper: "x" } }), StorageValidationError, "put with metadata key 'Upper'");
      await expectRejects(storage.put(k, "v", { metadata: { a: 1 as unknown as string } }), StorageValidationError, "put with a number metadata value");
      await expectRejects(storage.put(k, "v", { metadata: { a: "x".repeat(3000) } }), StorageValidationError, "put with 3 KB of metadata");
      expect(await storage.exists(k), "a put with invalid metadata stored something").toBe(false);
    },
  },
  {
    name: "stat: the etag changes when the value changes",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key }) {
      const k = key("a");
      const first = await storage.put(k, "one");
      const statted = await storage.stat(k);
      expect(statted.etag, "stat must report an etag when conditional writes are supported").toBeDefined();
      if (first.etag !== undefined) expect(statted.etag).toBe(first.etag);
      await storage.put(k, "two");
      expect((await storage.stat(k)).etag).not.toBe(statted.etag);
    },
  },
  {
    name: "typed reads: getBytes returns the stored bytes of any value",
    async run({ storage, key }) {
      await storage.put(key("s"), "héllo");
      await storage.put(key("b"), allByteValues());
      await storage.put(key("j"), { a: [1] });
      expectBytes(await storage.getBytes(key("s")), Buffer.from("héllo"), "getBytes of a string");
      expectBytes(await storage.getBytes(key("b")), allByteValues(), "getBytes of bytes");
      expect(JSON.parse(Buffer.from(await storage.getBytes(key("j"))).toString("utf8"))).toStrictEqual({ a: [1] });
    },
  },
  {
    name: "typed reads: getText decodes UTF-8 whatever was stored",
    async run({ storage, key }) {
      await storage.put(key("s"), "héllo 😀");
      await storage.put(key("b"), Buffer.from("from bytes ✓"));
      await storage.put(key("j"), ["x"]);
      expect(await storage.getText(key("s"))).toBe("héllo 😀");
      expect(await storage.getText(key("b"))).toBe("from bytes ✓");
      expect(JSON.parse(await storage.getText(key("j")))).toStrictEqual(["x"]);
    },
  },
  {
    name: "typed reads: getJSON parses whatever was stored",
    async run({ storage, key }) {
      await storage.put(key("s"), '{"from":"text"}');
      await storage.put(key("b"), Buffer.from("[1,2]"));
      await storage.put(key("j"), { a: null });
      expect(await storage.getJSON(key("s"))).toStrictEqual({ from: "text" });
      expect(await storage.getJSON(key("b"))).toStrictEqual([1, 2]);
      expect(await storage.getJSON(key("j"))).toStrictEqual({ a: null });
    },
  },
  {
    name: "typed reads: invalid UTF-8 or JSON rejects with StorageIntegrityError",
    async run({ storage, key }) {
      await storage.put(key("b"), Buffer.from([0xff, 0xfe]));
      await storage.put(key("s"), "not json {");
      await expectRejects(storage.getText(key("b")), StorageIntegrityError, "getText of invalid UTF-8");
      await expectRejects(storage.getJSON(key("s")), StorageIntegrityError, "getJSON of invalid JSON");
    },
  },
  {
    name: "typed reads: missing keys reject with StorageNotFoundError",
    async run({ storage, key }) {
      const k = key("missing");
      await expectRejects(storage.getBytes(k), StorageNotFoundError, "getBytes(missing)");
      await expectRejects(storage.getText(k), StorageNotFoundError, "getText(missing)");
      await expectRejects(storage.getJSON(k), StorageNotFoundError, "getJSON(missing)");
      await expectRejects(storage.getStream(k), StorageNotFoundError, "getStream(missing)");
    },
  },
  {
    name: "streams: getStream reads the whole value",
    timeout: 60_000,
    async run({ storage, key }) {
      const data = patternBytes(300 * 1024 + 3);
      await storage.put(key("a"), data);
      expectBytes(await readAll(await storage.getStream(key("a"))), data, "getStream");
      await storage.put(key("s"), "text value");
      expect((await readAll(await storage.getStream(key("s")))).toString("utf8")).toBe("text value");
    },
  },
  {
    name: "streams: getStream of an empty value yields no bytes",
    async run({ storage, key }) {
      await storage.put(key("a"), new Uint8Array(0));
      expect((await readAll(await storage.getStream(key("a")))).byteLength).toBe(0);
    },
  },
  {
    name: "streams: ranges with start, inclusive end, and both",
    async run({ storage, key }) {
      const data = Buffer.from("0123456789");
      await storage.put(key("a"), data);
      const read = async (range: { start?: number; end?: number }) => (await readAll(await storage.getStream(key("a"), range))).toString();
      expect(await read({ start: 3 }), "start 3").toBe("3456789");
      expect(await read({ end: 3 }), "end 3 (inclusive)").toBe("0123");
      expect(await read({ start: 2, end: 4 }), "start 2, end 4").toBe("234");
      expect(await read({ start: 5, end: 5 }), "a one-byte range").toBe("5");
      expect(await read({ start: 0, end: 9 }), "the exact whole range").toBe("0123456789");
    },
  },
  {
    name: "streams: ranges beyond the size are clipped",
    async run({ storage, key }) {
      await storage.put(key("a"), Buffer.from("0123456789"));
      const read = async (range: { start?: number; end?: number }) => (await readAll(await storage.getStream(key("a"), range))).toString();
      expect(await read({ start: 8, end: 100 }), "end beyond the size").toBe("89");
      expect(await read({ start: 10 }), "start at the size").toBe("");
      expect(await read({ start: 50 }), "start beyond the size").toBe("");
    },
  },
  {
    name: "streams: a range on a large value",
    timeout: 60_000,
    async run({ storage, key }) {
      const data = patternBytes(2 * 1024 * 1024);
      await storage.put(key("a"), data);
      const start = 1024 * 1024 - 5;
      const end = 1024 * 1024 + 100_000;
      expectBytes(await readAll(await storage.getStream(key("a"), { start, end })), data.subarray(start, end + 1), "range across 1 MiB");
    },
  },
  {
    name: "streams: invalid ranges are rejected with StorageValidationError",
    async run({ storage, key }) {
      await storage.put(key("a"), "0123456789");
      await expectRejects(storage.getStream(key("a"), { start: 5, end: 2 }), StorageValidationError, "getStream end < start");
      await expectRejects(storage.getStream(key("a"), { start: -1 }), StorageValidationError, "getStream start -1");
      await expectRejects(storage.getStream(key("a"), { start: 1.5 }), StorageValidationError, "getStream start 1.5");
    },
  },
];
