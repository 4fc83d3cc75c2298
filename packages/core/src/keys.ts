import { StorageValidationError } from "./errors.js";

/** Longest key in UTF-8 bytes (the S3 limit). */
export const MAX_KEY_BYTES = 1024;

/**
 * Segments starting with this are reserved for the library's own bookkeeping (the file
 * backend's temp files and metadata). They are rejected on every backend, so every
 * backend accepts exactly the same keys.
 */
export const RESERVED_SEGMENT_PREFIX = ".pepperpy";

// C0 controls, DEL and C1 controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const DRIVE = /^[a-zA-Z]:/;

function reject(key: unknown, why: string, operation?: string): never {
  throw new StorageValidationError(`Invalid key: ${why}`, {
    key: typeof key === "string" ? key : undefined,
    operation,
  });
}

/** True when `key[start..end)` is a valid segment (see {@link keyProblem}). */
function segmentOk(key: string, start: number, end: number): boolean {
  const len = end - start;
  if (len === 0) return false;
  if (key.charCodeAt(start) === 0x2e /* . */) {
    if (len === 1 || (len === 2 && key.charCodeAt(start + 1) === 0x2e)) return false;
    if (key.startsWith(RESERVED_SEGMENT_PREFIX, start)) return false;
  }
  return true;
}

/**
 * One pass over a key for the common case, a valid key: no regular expressions, no
 * `split`, no byte-length call (validation runs on every operation). `false` means
 * "not sure" — {@link keyProblem} then finds the exact reason.
 */
function isValidKeyFast(key: string): boolean {
  const n = key.length;
  // Every UTF-16 unit is at least one UTF-8 byte.
  if (n === 0 || n > MAX_KEY_BYTES) return false;
  const first = key.charCodeAt(0);
  if (n >= 2 && key.charCodeAt(1) === 0x3a /* : */ && ((first | 0x20) >= 0x61 && (first | 0x20) <= 0x7a)) return false;
  let bytes = 0;
  let segStart = 0;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x80) {
      if (c < 0x20 || c === 0x7f || c === 0x5c /* \ */) return false;
      bytes += 1;
      if (c === 0x2f /* / */) {
        if (!segmentOk(key, segStart, i)) return false;
        segStart = i + 1;
      }
    } else if (c < 0x800) {
      if (c <= 0x9f) return false; // C1 controls
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = key.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    } else {
      bytes += 3;
    }
  }
  return bytes <= MAX_KEY_BYTES && segmentOk(key, segStart, n);
}

/** Why a string is not a valid key or prefix, or `undefined` when it is valid. */
function keyProblem(key: string, isPrefix: boolean): string | undefined {
  if (key.length === 0) return isPrefix ? undefined : "empty";
  if (CONTROL.test(key)) return "control or NUL character";
  if (LONE_SURROGATE.test(key)) return "lone UTF-16 surrogate";
  if (key.includes("\\")) return "backslash";
  if (key.startsWith("/")) return "leading '/'";
  if (DRIVE.test(key)) return "drive letter";
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} UTF-8 bytes`;
  const segments = key.split("/");
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    // A prefix may end in "/" (a whole directory) or in a partial segment.
    if (seg === "") {
      if (isPrefix && last) continue;
      return "empty segment ('//' or trailing '/')";
    }
    if (seg === "." || seg === "..") {
      // A prefix's last segment may be a partial name such as "." of ".config".
      if (isPrefix && last) continue;
      return `'${seg}' segment`;
    }
    if (seg.startsWith(RESERVED_SEGMENT_PREFIX)) return `segment starting with reserved '${RESERVED_SEGMENT_PREFIX}'`;
  }
  return undefined;
}

/**
 * Checks a key and throws `StorageValidationError` when it is not one every backend accepts:
 * a non-empty string of at most 1024 UTF-8 bytes, `/`-separated, with no empty, `.` or
 * `..` segments, no control characters, no lone surrogates, no leading `/`, no backslash,
 * no drive letter, and no segment starting with `.pepperpy`.
 */
export function validateKey(key: unknown, operation?: string): asserts key is string {
  if (typeof key !== "string") reject(key, `expected a string, got ${key === null ? "null" : typeof key}`, operation);
  if (isValidKeyFast(key)) return;
  const problem = keyProblem(key, false);
  if (problem) reject(key, problem, operation);
}

/** True when `key` is valid (see {@link validateKey}). */
export function isValidKey(key: unknown): key is string {
  return typeof key === "string" && (isValidKeyFast(key) || keyProblem(key, false) === undefined);
}

/**
 * Checks a list prefix: the empty string, or any string that could begin a valid key
 * (it may end in `/` or in part of a segment).
 */
export function validatePrefix(prefix: unknown, operation = "list"): asserts prefix is string {
  if (typeof prefix !== "string") {
    throw new StorageValidationError(`Invalid prefix: expected a string, got ${typeof prefix}`, { operation });
  }
  const problem = keyProblem(prefix, true);
  if (problem) throw new StorageValidationError(`Invalid prefix: ${problem}`, { key: prefix, operation });
}

/**
 * Orders keys by Unicode code point, which is the UTF-8 byte order S3 lists in.
 * (Plain `<` compares UTF-16 code units and puts U+E000–U+FFFF after astral characters.)
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800–0xDFFF) encode code points above 0xFFFF: they sort after 0xE000–0xFFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1; // a surrogate pair is above every BMP code point
    return x - y;
  }
  return a.length - b.length;
}

// A UTF-16 unit from 0xD800 up: where UTF-16 order and code-point order can disagree.
const HIGH_UNIT = /[\ud800-\uffff]/;

/**
 * Sorts keys in place in {@link compareKeys} order and returns them. When no key holds a
 * UTF-16 unit from 0xD800 up (surrogates, or the units they sort against), UTF-16 order is
 * code-point order and the engine's own string sort runs, about 3× faster than a
 * comparator written in JavaScript.
 */
export function sortKeys(keys: string[]): string[] {
  for (const key of keys) if (HIGH_UNIT.test(key)) return keys.sort(compareKeys);
  return keys.sort();
}

const METADATA_KEY = /^[a-z0-9][a-z0-9._-]*$/;
/** Total size of user metadata (keys and values, UTF-8), the S3 limit. */
export const MAX_METADATA_BYTES = 2048;

/**
 * Checks user metadata: a plain object of lowercase keys `[a-z0-9._-]` (so it survives
 * S3, which lowercases header names) with string values (no control characters, no lone
 * UTF-16 surrogates), at most 2 KiB in all.
 * Returns a copy.
 */
export function validateMetadata(metadata: unknown, key?: string, operation = "put"): Record<string, string> {
  if (metadata === undefined) return {};
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new StorageValidationError("Invalid metadata: expected a string map", { key, operation });
  }
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [k, v] of Object.entries(metadata)) {
    if (!METADATA_KEY.test(k) || k.startsWith("pepperpy")) {
      throw new StorageValidationError(
        `Invalid metadata key ${JSON.stringify(k)}: use lowercase [a-z0-9._-], not starting with 'pepperpy'`,
        { key, operation },
      );
    }
    if (typeof v !== "string") {
      throw new StorageValidationError(`Invalid metadata value for ${JSON.stringify(k)}: expected a string`, { key, operation });
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: header values cannot carry control characters
    if (/[\u0000-\u001f\u007f]/.test(v)) {
      throw new StorageValidationError(`Invalid metadata value for ${JSON.stringify(k)}: control character`, { key, operation });
    }
    // No UTF-8 form: S3 turned it into U+FFFD, memory kept it. Rejected everywhere instead.
    if (LONE_SURROGATE.test(v)) {
      throw new StorageValidationError(`Invalid metadata value for ${JSON.stringify(k)}: lone UTF-16 surrogate`, { key, operation });
    }
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    out[k] = v;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new StorageValidationError(`Metadata too large: ${bytes} bytes (at most ${MAX_METADATA_BYTES})`, { key, operation });
  }
  return out;
}
