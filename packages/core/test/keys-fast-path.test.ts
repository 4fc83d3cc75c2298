// The one-pass key check must agree with the rule-by-rule one on every string.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isValidKey, validateKey } from "../src/keys.js";

function slowValid(key: string): boolean {
  // The rules of SPEC §3, written out plainly as the reference.
  if (key.length === 0) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the rule under test
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) return false;
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key)) return false;
  if (key.includes("\\") || key.startsWith("/") || /^[a-zA-Z]:/.test(key)) return false;
  if (Buffer.byteLength(key, "utf8") > 1024) return false;
  return key.split("/").every((s) => s !== "" && s !== "." && s !== ".." && !s.startsWith(".pepperpy"));
}

const alphabet = fc.constantFrom("a", "Z", "/", ".", "\\", ":", "\u0000", "\u001f", "\u007f", "\u0085", "é", "日", "\ud83d", "\ude00", "😀", " ", "-", ".pepperpy");

describe("key validation fast path", () => {
  it("agrees with the plain rules on 20,000 generated strings", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.array(alphabet, { maxLength: 30 }).map((a) => a.join(""))), (key) => {
        expect(isValidKey(key)).toBe(slowValid(key));
        if (slowValid(key)) expect(() => validateKey(key)).not.toThrow();
        else expect(() => validateKey(key)).toThrow();
      }),
      { numRuns: 20_000 },
    );
  });

  it("agrees at the 1024-byte limit with multi-byte characters", () => {
    for (const ch of ["a", "é", "日", "😀"]) {
      for (let n = 250; n <= 1030; n++) {
        const key = ch.repeat(Math.ceil(n / Buffer.byteLength(ch))).slice(0, n);
        expect(isValidKey(key)).toBe(slowValid(key));
      }
    }
  });
});
