import {
  MAX_KEY_BYTES,
  StorageValidationError,
  compareKeys,
  sortKeys,
  isValidKey,
  validateKey,
  validateMetadata,
  validatePrefix,
} from "@pepperpy/storage-core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const LEGAL = [
  "a",
  "a/b/c",
  "日本語/ключ/😀",
  "with space/ and trailing ",
  "a.b/.hidden/c..d/...x",
  "trailing.",
  ".config",
  "..double-dot-name",
  "pepperpy/x.pepperpy",
  "x".repeat(MAX_KEY_BYTES),
  "é".repeat(MAX_KEY_BYTES / 2),
  "q?a=1&b=2#f/%20/+",
  "C/not-a-drive",
  "1:2",
];

const ILLEGAL: [string, unknown, RegExp][] = [
  ["empty", "", /empty/],
  ["leading slash", "/a", /leading/],
  ["trailing slash", "a/", /empty segment/],
  ["double slash", "a//b", /empty segment/],
  ["dot segment", "a/./b", /'\.' segment/],
  ["dotdot segment", "a/../b", /'\.\.' segment/],
  ["dot key", ".", /'\.' segment/],
  ["dotdot key", "..", /'\.\.' segment/],
  ["backslash", "a\\b", /backslash/],
  ["drive letter", "C:/x", /drive/],
  ["drive letter without slash", "c:x", /drive/],
  ["NUL", "a\u0000", /control/],
  ["tab", "a\tb", /control/],
  ["DEL", "\u007f", /control/],
  ["C1", "a\u009fb", /control/],
  ["lone high surrogate", "\ud83d", /surrogate/],
  ["lone low surrogate", "a\ude00b", /surrogate/],
  ["reversed surrogates", "\ude00\ud83d", /surrogate/],
  ["too long", "x".repeat(MAX_KEY_BYTES + 1), /1024/],
  ["too long in UTF-8 bytes", "é".repeat(MAX_KEY_BYTES / 2 + 1), /1024/],
  ["reserved segment", "a/.pepperpy", /reserved/],
  ["reserved segment prefix", ".pepperpy-tmp/a", /reserved/],
  ["number", 1, /expected a string, got number/],
  ["null", null, /expected a string, got null/],
  ["undefined", undefined, /expected a string, got undefined/],
];

describe("validateKey", () => {
  it.each(LEGAL.map((k) => [k.length > 40 ? `${k.slice(0, 20)}… (${k.length})` : k, k]))("accepts %j", (_, key) => {
    expect(() => validateKey(key)).not.toThrow();
    expect(isValidKey(key)).toBe(true);
  });

  it.each(ILLEGAL)("rejects %s", (_, key, why) => {
    let error: unknown;
    try {
      validateKey(key, "put");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageValidationError);
    const e = error as StorageValidationError;
    expect(e.detail).toMatch(why);
    expect(e.operation).toBe("put");
    expect(e.key).toBe(typeof key === "string" ? key : undefined);
    expect(isValidKey(key)).toBe(false);
  });

  it("shortens very long keys in messages", () => {
    try {
      validateKey("x".repeat(5000));
    } catch (e) {
      expect((e as Error).message.length).toBeLessThan(400);
      expect((e as StorageValidationError).key).toHaveLength(5000);
    }
  });
});

describe("validatePrefix", () => {
  it.each(["", "a", "a/", "a/b/", "a/b.", "a/.", "a/..", "a/.conf", "日本/"])("accepts %j", (prefix) => {
    expect(() => validatePrefix(prefix)).not.toThrow();
  });
  it.each(["/", "/a", "a//", "a//b", "a/../b", "a/./", "a\\", "a\u0000", "C:", ".pepperpy", "a/.pepperpy/"])("rejects %j", (prefix) => {
    expect(() => validatePrefix(prefix, "list")).toThrow(StorageValidationError);
  });
  it("rejects a non-string prefix", () => {
    expect(() => validatePrefix(3)).toThrow(/expected a string/);
  });
});

describe("compareKeys", () => {
  const utf8 = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
  // Strings of whole code points (no lone surrogates), biased towards the tricky ranges.
  const codePoint = fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }),
    fc.integer({ min: 0x80, max: 0x7ff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
    fc.constantFrom(0x2f, 0x2e, 0x2d, 0xd7ff, 0xe000, 0xfffd, 0x10000, 0x1f600),
  );
  const key = fc.array(codePoint, { maxLength: 8 }).map((cps) => String.fromCodePoint(...cps));

  it("orders like UTF-8 bytes (the order S3 lists in)", () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(utf8(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it("is antisymmetric and sorts consistently with byte order", () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 30 }), (keys) => {
        const byCompare = [...keys].sort(compareKeys);
        const byBytes = [...keys].sort((a, b) => utf8(a, b));
        expect(byCompare).toStrictEqual(byBytes);
        for (const a of keys.slice(0, 5)) for (const b of keys.slice(0, 5)) expect(Math.sign(compareKeys(a, b))).toBe(-Math.sign(compareKeys(b, a)) || 0);
      }),
    );
  });

  it("sortKeys sorts exactly like compareKeys (the engine's sort when no key needs the comparator)", () => {
    const ascii = fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 8 }).map((cps) => String.fromCodePoint(...cps));
    fc.assert(
      fc.property(fc.array(fc.oneof(key, ascii, ascii), { maxLength: 40 }), (keys) => {
        const byBytes = [...keys].sort((a, b) => utf8(a, b));
        expect(sortKeys([...keys])).toStrictEqual(byBytes);
        const low = keys.filter((k) => !/[\ud800-\uffff]/.test(k));
        expect(sortKeys([...low])).toStrictEqual([...low].sort((a, b) => utf8(a, b)));
      }),
      { numRuns: 500 },
    );
    expect(sortKeys(["\ue000", "😀", "a"])).toStrictEqual(["a", "\ue000", "😀"]);
  });

  it("puts U+E000–U+FFFF before astral characters, unlike UTF-16 order", () => {
    expect(compareKeys("\ue000", "😀")).toBeLessThan(0);
    expect("\ue000" < "😀").toBe(false);
    expect(compareKeys("a/b", "a0")).toBeLessThan(0);
    expect(compareKeys("a", "a/b")).toBeLessThan(0);
    expect(compareKeys("x", "x")).toBe(0);
  });
});

describe("validateMetadata", () => {
  it("returns a copy of valid metadata", () => {
    const input = { owner: "ada", "x-v.1_2": "a b" };
    const out = validateMetadata(input);
    expect(out).toStrictEqual(input);
    expect(out).not.toBe(input);
    expect(validateMetadata(undefined)).toStrictEqual({});
  });
  it.each([
    ["uppercase key", { Owner: "x" }],
    ["reserved key", { "pepperpy-type": "x" }],
    ["key with space", { "a b": "x" }],
    ["non-string value", { a: 1 }],
    ["control character", { a: "x\ny" }],
    ["array", ["a"]],
    ["too large", { a: "x".repeat(2100) }],
  ])("rejects %s", (_, metadata) => {
    expect(() => validateMetadata(metadata, "k")).toThrow(StorageValidationError);
  });
});
