import { Readable } from "node:stream";
import { MAX_JSON_DEPTH, StorageValidationError, type StorageValue } from "@pepperpy/storage-core";
import { expect } from "vitest";
import { type ConformanceCase, allByteValues, expectBytes, expectRejects, patternBytes } from "./helpers.js";

/** A string value round-trips as a string with the same content. */
function stringCase(name: string, value: string): ConformanceCase {
  return {
    name: `values: string ${name} round-trips as a string`,
    async run({ storage, key }) {
      const k = key("value");
      await storage.put(k, value);
      const got = await storage.get(k);
      expect(typeof got, `get of a stored string returned a ${typeof got}`).toBe("string");
      expect(got === value, `get returned a different string (length ${(got as string).length}, expected ${value.length})`).toBe(true);
    },
  };
}

/** A bytes value round-trips as bytes with the same content. */
function bytesCase(name: string, make: () => Uint8Array, timeout?: number): ConformanceCase {
  return {
    name: `values: bytes ${name} round-trip as bytes`,
    timeout,
    async run({ storage, key }) {
      const k = key("value");
      const value = make();
      const expected = Buffer.from(value);
      await storage.put(k, value);
      expectBytes(await storage.get(k), expected, `get(${JSON.stringify(k)})`);
    },
  };
}

/** A JSON value round-trips deep-equal. */
function jsonCase(name: string, value: unknown): ConformanceCase {
  return {
    name: `values: JSON ${name} round-trips deep-equal`,
    async run({ storage, key }) {
      const k = key("value");
      await storage.put(k, value as StorageValue);
      expect(await storage.get(k)).toStrictEqual(value);
    },
  };
}

/** A value `put` must refuse with StorageValidationError, storing nothing. */
function rejectCase(name: string, make: () => unknown): ConformanceCase {
  return {
    name: `values: rejects ${name} with StorageValidationError`,
    async run({ storage, key }) {
      const k = key("value");
      await expectRejects(storage.put(k, make() as StorageValue), StorageValidationError, `put(key, ${name})`);
      expect(await storage.exists(k), `a rejected put of ${name} stored something`).toBe(false);
    },
  };
}

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

function nested(depth: number): unknown {
  let v: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) v = { level: i, child: v, list: [i, String(i)] };
  return v;
}

export const valueCases: ConformanceCase[] = [
  stringCase("ASCII", "hello world"),
  stringCase("empty", ""),
  stringCase("unicode", "héllo wörld — 日本語 — ключ — ﷽"),
  stringCase("emoji and astral", "😀👍🏽👨‍👩‍👧‍👦 𝄞 🇧🇷"),
  stringCase("that looks like JSON", '{"a":1,"b":[true,null]}'),
  stringCase('"null"', "null"),
  stringCase("with NUL, newlines and tabs", "a\u0000b\r\n\tc\n"),
  stringCase("of 200 000 characters", "abc😀".repeat(40_000)),
  bytesCase("of 0 bytes", () => new Uint8Array(0)),
  bytesCase("with all 256 byte values", () => allByteValues()),
  bytesCase("that are valid UTF-8 text", () => Buffer.from("hello, still bytes")),
  bytesCase("that are invalid UTF-8", () => Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x00])),
  bytesCase("as a plain Uint8Array", () => new Uint8Array([1, 2, 3, 250])),
  bytesCase("of 1 MiB + 1", () => patternBytes(1024 * 1024 + 1), 60_000),
  {
    name: "values: bytes from a Buffer view store only the view",
    async run({ storage, key }) {
      const k = key("value");
      const backing = Buffer.from([9, 9, 1, 2, 3, 9, 9]);
      await storage.put(k, backing.subarray(2, 5));
      expectBytes(await storage.get(k), Buffer.from([1, 2, 3]), "get of a stored subarray");
    },
  },
  {
    name: "values: an ArrayBuffer is stored as bytes",
    async run({ storage, key }) {
      const k = key("value");
      await storage.put(k, new Uint8Array([5, 6, 7]).buffer);
      expectBytes(await storage.get(k), Buffer.from([5, 6, 7]), "get of a stored ArrayBuffer");
    },
  },
  jsonCase("nested object", { user: { name: "Ada", tags: ["a", "b"], address: { city: "London", zip: null } }, n: 1 }),
  jsonCase("array", [1, "two", null, true, { three: [3] }, []]),
  jsonCase("null", null),
  jsonCase("numbers", { zero: 0, int: 42, neg: -7, float: 1.5, big: Number.MAX_SAFE_INTEGER, tiny: 5e-324, exp: -1e21 }),
  jsonCase("top-level number", 3.25),
  jsonCase("booleans", { t: true, f: false, list: [false, true] }),
  jsonCase("top-level boolean", false),
  jsonCase("unicode keys and values", { "ключ 😀": "значение 日本", "": "empty key", "a\nb": "\u0000" }),
  jsonCase("empty object and array", { o: {}, a: [] }),
  jsonCase("deeply nested (100 levels)", nested(100)),
  {
    name: "values: a later put replaces the value and its type",
    async run({ storage, key }) {
      const k = key("value");
      await storage.put(k, "text");
      await storage.put(k, Buffer.from([1, 2]));
      expectBytes(await storage.get(k), Buffer.from([1, 2]), "get after overwriting a string with bytes");
      await storage.put(k, { json: true });
      expect(await storage.get(k)).toStrictEqual({ json: true });
      await storage.put(k, "text again");
      expect(await storage.get(k)).toBe("text again");
    },
  },
  // Isolation by copy.
  {
    name: "isolation: changing bytes after put does not change what is stored",
    async run({ storage, key }) {
      const k = key("value");
      const value = Buffer.from([1, 2, 3]);
      await storage.put(k, value);
      value.fill(0);
      expectBytes(await storage.get(k), Buffer.from([1, 2, 3]), "get after mutating the put buffer");
    },
  },
  {
    name: "isolation: a buffer changed after put is called does not change or break what is stored",
    async run({ storage, key }) {
      // Large enough to be compressed by a compression layer (its CRC and its compressor must
      // see the same bytes), small enough for any backend.
      const original = patternBytes(64 * 1024 + 3, 11);
      const cases: [string, () => { value: Uint8Array | ArrayBuffer; scribble: () => void }][] = [
        ["a Buffer", () => {
          const b = Buffer.from(original);
          return { value: b, scribble: () => b.fill(66) };
        }],
        ["a Uint8Array view", () => {
          const backing = new Uint8Array(original.byteLength + 10);
          backing.set(original, 5);
          const view = backing.subarray(5, 5 + original.byteLength);
          return { value: view, scribble: () => backing.fill(67) };
        }],
        ["an ArrayBuffer", () => {
          const b = new Uint8Array(original);
          return { value: b.buffer, scribble: () => b.fill(68) };
        }],
      ];
      for (const [what, make] of cases) {
        const k = key(`scribbled-${what.replace(/\W+/g, "-")}`);
        const { value, scribble } = make();
        const pending = storage.put(k, value);
        // Changed at once, and again while the write is (probably) in flight.
        scribble();
        setImmediate(scribble);
        await pending;
        expectBytes(await storage.get(k), original, `get after changing ${what} while put ran`);
        expectBytes(await storage.getBytes(k), original, `getBytes after changing ${what} while put ran`);
      }
    },
  },
  {
    name: "isolation: a buffer changed after putMany is called does not change what is stored",
    async run({ storage, key }) {
      // More entries than a batch writes at once (16 by default), so most have not started
      // when the buffers change: every entry is taken at the call, not when its write starts.
      const count = 40;
      const size = 64 * 1024;
      const originals = Array.from({ length: count }, (_, i) => patternBytes(size, 101 + i));
      const scribbles: (() => void)[] = [];
      const entries = originals.map((original, i): [string, Uint8Array | ArrayBuffer] => {
        const fill = (i * 7 + 1) & 0xff;
        const k = key(`batch-${String(i).padStart(2, "0")}`);
        if (i % 3 === 0) {
          const b = Buffer.from(original);
          scribbles.push(() => b.fill(fill));
          return [k, b];
        }
        if (i % 3 === 1) {
          const backing = new Uint8Array(size + 10);
          backing.set(original, 5);
          scribbles.push(() => backing.fill(fill));
          return [k, backing.subarray(5, 5 + size)];
        }
        const b = new Uint8Array(original);
        scribbles.push(() => b.fill(fill));
        return [k, b.buffer];
      });
      const pending = storage.putMany(entries);
      // Each buffer gets a different byte right after the call, before the batch is awaited.
      for (const scribble of scribbles) scribble();
      await pending;
      for (const [i, [k]] of entries.entries()) {
        expectBytes(await storage.get(k), originals[i] as Uint8Array, `get(${JSON.stringify(k)}) after changing its buffer right after putMany was called`);
      }
    },
  },
  {
    name: "isolation: an object changed after putMany is called does not change what is stored",
    async run({ storage, key }) {
      const count = 40;
      const values = Array.from({ length: count }, (_, i) => ({ n: i, list: [i] }));
      const entries = values.map((v, i) => [key(`batch-${String(i).padStart(2, "0")}`), v] as const);
      const pending = storage.putMany(entries);
      for (const v of values) {
        v.n = -1;
        v.list.push(-1);
      }
      await pending;
      for (const [i, [k]] of entries.entries()) {
        expect(await storage.get(k), `get(${JSON.stringify(k)}) after changing its object right after putMany was called`).toStrictEqual({ n: i, list: [i] });
      }
    },
  },
  {
    name: "isolation: changing streamed chunks after put settles does not change what is stored",
    async run({ storage, key }) {
      // One chunk (a store may take it as the whole value) and several small ones.
      for (const sizes of [[5], [3, 4, 5]]) {
        const k = key(`stream-${sizes.length}`);
        const chunks = sizes.map((n, i) => Buffer.alloc(n, i + 1));
        const expected = Buffer.concat(chunks);
        async function* source(): AsyncGenerator<Uint8Array> {
          yield* chunks;
        }
        await storage.put(k, source());
        for (const c of chunks) c.fill(0);
        expectBytes(await storage.get(k), expected, `get after mutating the ${sizes.length} chunk(s) of a streamed put`);
      }
    },
  },
  {
    name: "isolation: changing an object after put does not change what is stored",
    async run({ storage, key }) {
      const k = key("value");
      const value = { list: [1, 2], inner: { a: "x" } };
      await storage.put(k, value);
      value.list.push(3);
      value.inner.a = "changed";
      expect(await storage.get(k)).toStrictEqual({ list: [1, 2], inner: { a: "x" } });
    },
  },
  {
    name: "isolation: changing bytes returned by get does not change what is stored",
    async run({ storage, key }) {
      const k = key("value");
      await storage.put(k, Buffer.from([1, 2, 3]));
      const got = (await storage.get(k)) as Uint8Array;
      got.fill(7);
      const bytes = await storage.getBytes(k);
      bytes.fill(8);
      expectBytes(await storage.get(k), Buffer.from([1, 2, 3]), "get after mutating a returned buffer");
    },
  },
  {
    name: "isolation: changing an object returned by get does not change what is stored",
    async run({ storage, key }) {
      const k = key("value");
      await storage.put(k, { a: [1] });
      const got = (await storage.get(k)) as { a: number[] };
      got.a.push(2);
      expect(await storage.get(k)).toStrictEqual({ a: [1] });
    },
  },
  {
    name: "isolation: changing metadata after put does not change what is stored",
    async run({ storage, key }) {
      const k = key("value");
      const metadata = { owner: "ada" };
      await storage.put(k, "v", { metadata });
      metadata.owner = "eve";
      const info = await storage.stat(k);
      info.metadata.owner = "mallory";
      expect((await storage.stat(k)).metadata).toStrictEqual({ owner: "ada" });
    },
  },
  rejectCase("undefined", () => undefined),
  rejectCase("a function", () => () => 1),
  rejectCase("a Date", () => new Date(0)),
  rejectCase("a Map", () => new Map([["a", 1]])),
  rejectCase("a Set", () => new Set([1])),
  rejectCase("a class instance", () => new Point(1, 2)),
  rejectCase("NaN", () => Number.NaN),
  rejectCase("Infinity inside an object", () => ({ n: Number.POSITIVE_INFINITY })),
  {
    // As JSON.stringify does, and as the types allow (an optional property left unset).
    name: "values: an undefined property inside an object is dropped, not stored",
    async run({ storage, key }) {
      const k = key("value");
      await storage.put(k, { a: 1, b: undefined, c: { d: undefined, e: [1] } });
      expect(await storage.get(k)).toStrictEqual({ a: 1, c: { e: [1] } });
    },
  },
  rejectCase("undefined inside an array", () => ({ a: [1, undefined] })),
  rejectCase("a bigint", () => 10n),
  rejectCase("a symbol", () => Symbol("s")),
  rejectCase("a cycle", () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    return o;
  }),
  rejectCase("a typed array other than Uint8Array", () => new Int16Array([1, 2])),
  // Lone surrogates have no UTF-8 form: backends turned them into U+FFFD. Rejected on every backend.
  rejectCase("a string with a lone high surrogate", () => "a\uD800b"),
  rejectCase("a string ending in a lone high surrogate", () => "cut at 7\uD83D"),
  rejectCase("a string with a lone low surrogate", () => "\uDC00x"),
  rejectCase("a text stream with a lone surrogate", () => Readable.from(["ok ", "a\uD800b"], { objectMode: true })),
  // JSON escapes them (\uD800), so inside a JSON value they round-trip exactly.
  jsonCase("with lone surrogates in strings and keys", { "k\uDC00": ["a\uD800b", "\uDFFF"] }),
  {
    name: "values: a metadata value with a lone surrogate is rejected with StorageValidationError",
    async run({ storage, key }) {
      const k = key("value");
      await expectRejects(storage.put(k, "v", { metadata: { note: "a\uD800b" } }), StorageValidationError, "put with a lone surrogate in metadata");
      expect(await storage.exists(k), "a rejected put stored something").toBe(false);
    },
  },
  {
    name: "values: a content type with a lone surrogate is rejected with StorageValidationError",
    async run({ storage, key }) {
      const k = key("value");
      await expectRejects(storage.put(k, "v", { contentType: "text/plain; x=\uDC00" }), StorageValidationError, "put with a lone surrogate in contentType");
      expect(await storage.exists(k), "a rejected put stored something").toBe(false);
    },
  },
  // Validation errors, not I/O errors, for JSON values that cannot be stored as they are.
  jsonCase(`nested ${MAX_JSON_DEPTH} levels (the limit)`, nestedArrays(MAX_JSON_DEPTH)),
  rejectCase(`JSON nested ${MAX_JSON_DEPTH + 1} levels`, () => nestedArrays(MAX_JSON_DEPTH + 1)),
  rejectCase("JSON nested 10 000 levels", () => nested(10_000)),
  rejectCase("an object with a throwing getter", () => ({
    a: 1,
    get b(): number {
      throw new Error("getter failed");
    },
  })),
  rejectCase("an array with a named property", () => Object.assign([1, 2], { extra: "lost by JSON" })),
  rejectCase("a sparse array", () => {
    const a = [1];
    a[2] = 3;
    return a;
  }),
  rejectCase("an object with a toJSON method", () => ({ a: 1, toJSON: () => "other" })),
];

function nestedArrays(depth: number): unknown {
  let v: unknown = [];
  for (let i = 1; i < depth; i++) v = [v];
  return v;
}
