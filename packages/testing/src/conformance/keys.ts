import { type Storage, StorageValidationError, readEntry } from "@pepperpy/storage-core";
import { expect } from "vitest";
import { type ConformanceCase, collect, expectRejects } from "./helpers.js";

/** Keys every backend must reject, with why. Not prefixed: they are rejected before any I/O. */
export const ILLEGAL_KEYS: readonly (readonly [label: string, key: unknown])[] = [
  ["the empty string", ""],
  ["a leading '/'", "/a/b"],
  ["a trailing '/'", "a/b/"],
  ["an empty segment", "a//b"],
  ["a '.' segment", "a/./b"],
  ["a leading '.' segment", "./a"],
  ["a '..' segment", "a/../b"],
  ["the key '..'", ".."],
  ["a backslash", "a\\b"],
  ["a drive letter", "C:/data/x"],
  ["a NUL character", "a\u0000b"],
  ["a newline", "a\nb"],
  ["a DEL control character", "a\u007fb"],
  ["a C1 control character", "a\u0085b"],
  ["a lone high surrogate", "a\ud800b"],
  ["a lone low surrogate", "a\udc00"],
  ["more than 1024 UTF-8 bytes", "k".repeat(1025)],
  ["more than 1024 UTF-8 bytes in multi-byte characters", "é".repeat(513)],
  ["a reserved '.pepperpy' segment", "a/.pepperpy/x"],
  ["a segment starting with '.pepperpy'", ".pepperpy-tmp-123"],
  ["a number instead of a string", 42],
  ["null", null],
];

/** Every public operation that takes a key, called with `key` in the position under test. */
function keyedCalls(storage: Storage, key: string, valid: string): [string, () => unknown][] {
  return [
    ["get", () => storage.get(key)],
    ["put", () => storage.put(key, "v")],
    ["delete", () => storage.delete(key)],
    ["exists", () => storage.exists(key)],
    ["stat", () => storage.stat(key)],
    ["getBytes", () => storage.getBytes(key)],
    ["getText", () => storage.getText(key)],
    ["getJSON", () => storage.getJSON(key)],
    ["getStream", () => storage.getStream(key)],
    ["getEntry", () => readEntry(storage, key)],
    ["copy (from)", () => storage.copy(key, valid)],
    ["copy (to)", () => storage.copy(valid, key)],
    ["move (from)", () => storage.move(key, valid)],
    ["move (to)", () => storage.move(valid, key)],
    ["getMany", () => storage.getMany([valid, key])],
    ["putMany", () => storage.putMany([[valid, "v"], [key, "v"]])],
    ["deleteMany", () => storage.deleteMany([valid, key])],
  ];
}

function illegalKeyCase(label: string, key: unknown): ConformanceCase {
  return {
    name: `keys: rejects a key with ${label} on every operation`,
    async run({ storage, key: k }) {
      const valid = k("valid");
      await storage.put(valid, "untouched");
      for (const [op, call] of keyedCalls(storage, key as string, valid)) {
        await expectRejects(call, StorageValidationError, `${op} with ${JSON.stringify(key)?.slice(0, 40)} (${label})`);
      }
      // Batches validate every key before doing anything.
      expect(await storage.get(valid), "a batch with one invalid key changed a valid key").toBe("untouched");
      expect(await storage.exists(valid), "move/deleteMany with an invalid key removed the valid key").toBe(true);
    },
  };
}

/** `bytes` UTF-8 bytes of `char` (1 or 2 bytes) in segments of about 100 bytes. */
function fill(bytes: number, char: string): string {
  let out = "";
  let used = 0;
  let segment = 0;
  while (used < bytes) {
    if (segment >= 98 && bytes - used > 2) {
      out += "/";
      used += 1;
      segment = 0;
      continue;
    }
    const c = bytes - used >= Buffer.byteLength(char) ? char : "x";
    out += c;
    used += Buffer.byteLength(c);
    segment += Buffer.byteLength(c);
  }
  return out;
}

/** Keys every backend must accept: the suffix after the case's prefix. */
const LEGAL_KEYS: readonly (readonly [label: string, suffix: (prefix: string) => string])[] = [
  ["unicode segments", () => "日本語/ключ/😀/ñ"],
  ["spaces", () => "with space/and  two spaces / edge "],
  ["dots inside names", () => "a.b/.hidden/c..d/...x/trailing."],
  ["URL-special characters", () => "q?a=1&b=2#frag/%20/+plus/~tilde"],
  ["punctuation", () => "!@$^*()_=[]{};:'\",<>|`-"],
  ["many segments", () => "a/b/c/d/e/f/g/h/i/j/k"],
  ["exactly 1024 ASCII bytes (in segments of 100)", (p) => fill(1024 - Buffer.byteLength(p), "x")],
  ["exactly 1024 UTF-8 bytes of 2-byte characters (in segments)", (p) => fill(1024 - Buffer.byteLength(p), "é")],
  ["a single 300-byte segment", () => "s".repeat(300)],
  ["a name like 'pepperpy' without the dot", () => "pepperpy/x.pepperpy"],
];

function legalKeyCase(label: string, suffix: (prefix: string) => string): ConformanceCase {
  return {
    name: `keys: accepts a key with ${label}`,
    async run({ storage, prefix }) {
      const k = prefix + suffix(prefix);
      expect(Buffer.byteLength(k), "test bug: legal key too long").toBeLessThanOrEqual(1024);
      await storage.put(k, "value");
      expect(await storage.get(k), `get(${JSON.stringify(k)})`).toBe("value");
      expect(await storage.exists(k)).toBe(true);
      expect((await storage.stat(k)).key).toBe(k);
      expect(await storage.list(prefix), `list must return the exact key ${JSON.stringify(k)}`).toStrictEqual([k]);
      await storage.delete(k);
      expect(await storage.exists(k)).toBe(false);
    },
  };
}

export const keyCases: ConformanceCase[] = [
  ...ILLEGAL_KEYS.map(([label, key]) => illegalKeyCase(label, key)),
  ...LEGAL_KEYS.map(([label, suffix]) => legalKeyCase(label, suffix)),
  {
    name: "keys: invalid list prefixes are rejected",
    async run({ storage }) {
      for (const prefix of ["/a", "a//", "a/../", "a\\", "a\u0000"]) {
        await expectRejects(storage.list(prefix), StorageValidationError, `list(${JSON.stringify(prefix)})`);
        await expectRejects(storage.listPage(prefix), StorageValidationError, `listPage(${JSON.stringify(prefix)})`);
        await expectRejects(collect(storage.iterate(prefix)), StorageValidationError, `iterate(${JSON.stringify(prefix)})`);
      }
    },
  },
  {
    name: "keys: the validation error names the key and the operation",
    async run({ storage }) {
      const error = await expectRejects(storage.get("a//b"), StorageValidationError, 'get("a//b")');
      expect(error.key).toBe("a//b");
      expect(error.operation).toBe("get");
      expect(error.message).toContain("a//b");
    },
  },
];
