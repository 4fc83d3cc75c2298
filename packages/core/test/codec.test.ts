import { Readable } from "node:stream";
import {
  DEFAULT_CONTENT_TYPES,
  StorageIntegrityError,
  StorageValidationError,
  contentTypeFromKey,
  decodeJSON,
  decodeText,
  decodeValue,
  encodeValue,
  handOver,
  inferValueType,
  MAX_JSON_DEPTH,
  isByteStream,
  iterateBytes,
} from "@pepperpy/storage-core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

async function drain(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of it) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

function roundTrip(value: unknown): unknown {
  const encoded = encodeValue(value, "k");
  if (encoded.kind !== "bytes") throw new Error("expected bytes");
  return decodeValue(encoded.data, { valueType: encoded.valueType, contentType: DEFAULT_CONTENT_TYPES[encoded.valueType] });
}

describe("encodeValue / decodeValue", () => {
  it("round-trips strings, bytes and JSON exactly (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "grapheme" }), fc.uint8Array(), fc.jsonValue()), (value) => {
        const back = roundTrip(value);
        if (value instanceof Uint8Array) expect(Buffer.compare(back as Buffer, Buffer.from(value))).toBe(0);
        // JSON turns -0 into 0; everything else is exact.
        else expect(back).toStrictEqual(JSON.parse(JSON.stringify(value)) ?? value);
      }),
      { numRuns: 500 },
    );
  });

  it("copies bytes at the call (the stored value is the buffer as it was), and serializes strings and objects now", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const encoded = encodeValue(bytes);
    bytes.fill(9);
    if (encoded.kind !== "bytes") throw new Error("expected bytes");
    expect(encoded.data.buffer).not.toBe(bytes.buffer);
    expect([...encoded.data]).toEqual([1, 2, 3]);
    const ab = new Uint8Array([4, 5, 6, 7]).buffer;
    const fromAb = encodeValue(ab);
    new Uint8Array(ab).fill(0);
    if (fromAb.kind !== "bytes") throw new Error("expected bytes");
    expect([...fromAb.data]).toEqual([4, 5, 6, 7]);
    const object = { a: [1] };
    const json = encodeValue(object);
    object.a.push(2);
    if (json.kind !== "bytes") throw new Error("expected bytes");
    expect(Buffer.from(json.data).toString()).toBe('{"a":[1]}');
  });

  it("takes handed-over bytes without a copy, once", () => {
    const bytes = handOver(Buffer.from([1, 2, 3]));
    const first = encodeValue(bytes);
    if (first.kind !== "bytes") throw new Error("expected bytes");
    expect(first.data).toBe(bytes);
    const second = encodeValue(bytes);
    if (second.kind !== "bytes") throw new Error("expected bytes");
    expect(second.data).not.toBe(bytes);
    bytes.fill(0);
    expect([...second.data]).toEqual([1, 2, 3]);
  });

  it("rejects JSON it cannot store as it is with StorageValidationError, never a stack overflow or an I/O error", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    expect(() => encodeValue(deep, "k")).toThrow(StorageValidationError);
    expect(() => encodeValue(deep, "k")).toThrow(/nested deeper than 1000 levels/);
    let limit: unknown = [];
    for (let i = 1; i < MAX_JSON_DEPTH; i++) limit = [limit];
    expect(encodeValue(limit)).toMatchObject({ kind: "bytes", valueType: "json" });
    expect(() => encodeValue([limit])).toThrow(StorageValidationError);
    const getter = {
      get boom(): never {
        throw new TypeError("no");
      },
    };
    expect(() => encodeValue(getter, "k")).toThrow(StorageValidationError);
    expect(() => encodeValue(getter, "k")).toThrow(/reading it threw \(no\)/);
    expect(() => encodeValue(Object.assign([1], { extra: 2 }), "k")).toThrow(/named property "extra"/);
    const proxy = new Proxy({}, { ownKeys: () => { throw new Error("trap"); } });
    expect(() => encodeValue(proxy, "k")).toThrow(StorageValidationError);
  });

  it("stores only enumerable string-keyed own properties, as JSON.stringify does: non-enumerable ones are dropped, not rejected", () => {
    // Audit G8 (issue 15 item 3): rejecting them would reject every class-like value whose
    // internals are non-enumerable; docs/formats.md states the rule instead.
    const array = Object.defineProperty([1, 2], "extra", { value: 3, enumerable: false });
    expect(roundTrip(array)).toStrictEqual([1, 2]);
    const object = Object.defineProperty({ a: 1 }, "hidden", { value: "x", enumerable: false });
    expect(roundTrip(object)).toStrictEqual({ a: 1 });
    expect(roundTrip({ nested: object })).toStrictEqual({ nested: { a: 1 } });
    expect(Buffer.from((encodeValue(object) as { data: Uint8Array }).data).toString()).toBe(JSON.stringify(object));
    // Symbol keys, enumerable or not, are rejected (docs/formats.md).
    expect(() => encodeValue(Object.defineProperty({ a: 1 }, Symbol("s"), { value: 1, enumerable: false }), "k")).toThrow(/symbol keys/);
  });

  it("rejects strings with lone surrogates, in values and in text streams (split pairs are joined)", async () => {
    expect(() => encodeValue("a\uD800b", "k")).toThrow(StorageValidationError);
    expect(() => encodeValue("\uDC00", "k")).toThrow(StorageValidationError);
    expect(encodeValue("😀")).toMatchObject({ kind: "bytes" });
    // A pair split across two text chunks is one character.
    expect((await drain(iterateBytes(Readable.from(["a\uD83D", "\uDE00b"], { objectMode: true })))).toString()).toBe("a😀b");
    await expect(drain(iterateBytes(Readable.from(["a\uD83D", "b"], { objectMode: true })))).rejects.toBeInstanceOf(StorageValidationError);
    await expect(drain(iterateBytes(Readable.from(["a\uD83D"], { objectMode: true })))).rejects.toBeInstanceOf(StorageValidationError);
  });

  it("records the value type", () => {
    expect(encodeValue("s")).toMatchObject({ kind: "bytes", valueType: "text" });
    expect(encodeValue(new Uint8Array(1))).toMatchObject({ kind: "bytes", valueType: "bytes" });
    expect(encodeValue(new ArrayBuffer(2))).toMatchObject({ kind: "bytes", valueType: "bytes" });
    expect(encodeValue({ a: 1 })).toMatchObject({ kind: "bytes", valueType: "json" });
    expect(encodeValue(null)).toMatchObject({ kind: "bytes", valueType: "json" });
    expect(encodeValue(Readable.from([]))).toMatchObject({ kind: "stream", valueType: "bytes" });
    expect(encodeValue(Buffer.from("x"), "k", "text")).toMatchObject({ valueType: "text" });
  });

  it.each([
    ["undefined", undefined, /undefined/],
    ["a function", () => 1, /function/],
    ["a Date", new Date(), /Date, not a plain object/],
    ["a Map", new Map(), /Map/],
    ["a class instance", new (class Point {})(), /Point/],
    ["NaN", Number.NaN, /NaN/],
    ["nested Infinity", { a: [1, Number.POSITIVE_INFINITY] }, /value\.a\[1\] is Infinity/],
    ["undefined in an array", { a: [1, undefined] }, /value\.a\[1\] is undefined/],
    ["a sparse array", new Array<number>(3), /hole/],
    ["symbol keys", { [Symbol("s")]: 1 }, /symbol keys/],
    ["a bigint", 1n, /bigint/],
    ["a Float32Array", new Float32Array(1), /typed arrays/],
  ])("rejects %s with a message saying where", (_, value, why) => {
    expect(() => encodeValue(value, "k")).toThrow(StorageValidationError);
    expect(() => encodeValue(value, "k")).toThrow(why);
  });

  it("rejects cycles but accepts shared (non-cyclic) references", () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(() => encodeValue(o)).toThrow(/circular/);
    const shared = { x: 1 };
    expect(roundTrip({ a: shared, b: shared })).toStrictEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it("accepts objects without a prototype", () => {
    const bare = Object.assign(Object.create(null), { a: 1 });
    expect(roundTrip(bare)).toStrictEqual({ a: 1 });
  });
});

describe("decoding", () => {
  it("decodeText rejects invalid UTF-8 and keeps a BOM", () => {
    expect(() => decodeText(Buffer.from([0xc3, 0x28]), "k")).toThrow(StorageIntegrityError);
    expect(decodeText(Buffer.from("\ufeffhi"))).toBe("\ufeffhi");
  });

  it("decodeJSON rejects invalid JSON with StorageIntegrityError naming the key", () => {
    expect(() => decodeJSON(Buffer.from("{"), "cfg")).toThrow(/not valid JSON \[get "cfg"\]/);
  });

  it("foreign objects decode by content type", () => {
    const data = Buffer.from('{"a":1}');
    expect(decodeValue(data, { contentType: "application/json" })).toStrictEqual({ a: 1 });
    expect(decodeValue(Buffer.from("not json"), { contentType: "application/json" })).toBe("not json");
    expect(decodeValue(data, { contentType: "text/plain" })).toBe('{"a":1}');
    expect(decodeValue(data, { contentType: "application/octet-stream" })).toStrictEqual(data);
    expect(inferValueType({ contentType: "application/ld+json" })).toBe("json-or-text");
    expect(inferValueType({ contentType: "TEXT/CSV" })).toBe("text");
  });

  it("contentTypeFromKey uses the extension", () => {
    expect(contentTypeFromKey("a/b.json")).toBe("application/json");
    expect(contentTypeFromKey("a/readme.MD")).toMatch(/^text\/markdown/);
    expect(contentTypeFromKey("a/.hidden")).toBe("application/octet-stream");
    expect(contentTypeFromKey("a.b/noext")).toBe("application/octet-stream");
  });

  it("contentTypeFromKey looks up its own table only: an extension named after an Object member is unknown", () => {
    // Issue 15 item 10 (audit G4): a plain-object lookup gave `function Object()` for `.constructor`.
    for (const ext of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "CONSTRUCTOR"]) {
      expect(contentTypeFromKey(`dir/a.${ext}`)).toBe("application/octet-stream");
    }
  });
});

describe("byte streams", () => {
  it("isByteStream knows Readables, web streams and async iterables", () => {
    expect(isByteStream(Readable.from([]))).toBe(true);
    expect(isByteStream(new ReadableStream())).toBe(true);
    expect(isByteStream((async function* () {})())).toBe(true);
    expect(isByteStream("string")).toBe(false);
    expect(isByteStream({})).toBe(false);
  });

  it("iterateBytes reads every kind, encoding strings as UTF-8", async () => {
    expect(await drain(iterateBytes(Readable.from(["hé", Buffer.from("!")])))).toStrictEqual(Buffer.from("hé!"));
    const web = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([1]));
        c.close();
      },
    });
    expect(await drain(iterateBytes(web))).toStrictEqual(Buffer.from([1]));
  });

  it("iterateBytes rejects chunks that are not bytes", async () => {
    await expect(drain(iterateBytes(Readable.from([{ not: "bytes" }])))).rejects.toThrow(StorageValidationError);
  });
});
