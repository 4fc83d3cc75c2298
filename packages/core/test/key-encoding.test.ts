import { ENCODED_SEGMENT_BYTES, decodeKey, encodeKey, isValidKey } from "@pepperpy/storage-core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

describe("encodeKey / decodeKey", () => {
  it("round-trips any string to a valid key with short segments", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), (s) => {
        const encoded = encodeKey(s);
        expect(decodeKey(encoded)).toBe(s);
        expect(isValidKey(encoded), JSON.stringify(encoded)).toBe(true);
        for (const segment of encoded.split("/")) expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(ENCODED_SEGMENT_BYTES);
      }),
      { numRuns: 400 },
    );
  });

  it("round-trips the keys the key rules refuse", () => {
    const cases = ["", "/", "a//b", "/lead", "trail/", ".", "..", "a/./b", ".pepperpy/x", "C:/x", "a\\b", "a\u0000b", "a\ud800", "s".repeat(300), "https://example.com/a?b=1", "100%"];
    for (const s of cases) {
      const encoded = encodeKey(s);
      expect(isValidKey(encoded), `${JSON.stringify(s)} -> ${JSON.stringify(encoded)}`).toBe(true);
      expect(decodeKey(encoded)).toBe(s);
    }
    expect(encodeKey("https://example.com/a?b=1")).toBe("https:/%/example.com/a?b=1");
    expect(encodeKey("s".repeat(300)).split("/").map((x) => x.length)).toStrictEqual([200, 102]);
  });

  it("leaves ordinary keys unchanged", () => {
    for (const s of ["users/1", "a.b/c..d", "日本語/😀", "q?a=1&b=2#frag"]) expect(encodeKey(s)).toBe(s);
  });
});
