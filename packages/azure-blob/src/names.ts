import type { ValueType } from "@pepperpy/storage-core";

/**
 * Blob names. Azure returns listings in the order of its own comparison; Azurite sorts by
 * UTF-16 code units, which puts astral characters (emoji, U+10000 and up) before
 * U+E000–U+FFFF, where code-point order (our `list` order, S3's UTF-8 byte order) puts
 * them after. XML listings also cannot carry U+FFFE / U+FFFF.
 *
 * So every character from U+E000 up (including U+D7FF, the escape itself) is written as
 * U+D7FF followed by a fixed-width code: `U+00FF` for a literal U+D7FF, or three digits
 * U+0100–U+017F (base 128) holding `codePoint - 0xE000`. Every other character is written
 * as itself. All characters of an encoded name are below U+D800, where UTF-16, UTF-8 and
 * code-point order agree, and the codes are prefix-free and ordered like the characters
 * they stand for: encoded names sort like the keys, on any server, and a key prefix is
 * still a name prefix. Keys without such characters (nearly all) are stored unchanged.
 */
const ESCAPE = 0xd7ff;
const LITERAL_ESCAPE = 0x00ff;
const DIGIT0 = 0x0100;
const BASE = 128;

/** The blob name (below the storage prefix) of a key. */
export function encodeName(key: string): string {
  let simple = true;
  for (let i = 0; i < key.length; i++) {
    const u = key.charCodeAt(i);
    if (u >= ESCAPE) {
      simple = false;
      break;
    }
  }
  if (simple) return key;
  let out = "";
  for (const ch of key) {
    const cp = ch.codePointAt(0)!;
    if (cp < ESCAPE) out += ch;
    else if (cp === ESCAPE) out += String.fromCharCode(ESCAPE, LITERAL_ESCAPE);
    else {
      const n = cp - 0xe000;
      out += String.fromCharCode(ESCAPE, DIGIT0 + Math.floor(n / (BASE * BASE)), DIGIT0 + (Math.floor(n / BASE) % BASE), DIGIT0 + (n % BASE));
    }
  }
  return out;
}

/** The key of a blob name written by {@link encodeName}; `undefined` when the name is not one (written by another tool). */
export function decodeName(name: string): string | undefined {
  if (!name.includes("\ud7ff")) {
    for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) >= 0xd800) return undefined;
    return name;
  }
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const u = name.charCodeAt(i);
    if (u >= 0xd800) return undefined;
    if (u !== ESCAPE) {
      out += name[i];
      continue;
    }
    const a = name.charCodeAt(i + 1);
    if (a === LITERAL_ESCAPE) {
      out += String.fromCharCode(ESCAPE);
      i += 1;
      continue;
    }
    const b = name.charCodeAt(i + 2);
    const c = name.charCodeAt(i + 3);
    const digits = [a, b, c].map((d) => d - DIGIT0);
    if (digits.some((d) => !(d >= 0 && d < BASE))) return undefined;
    const cp = 0xe000 + digits[0]! * BASE * BASE + digits[1]! * BASE + digits[2]!;
    if (cp > 0x10ffff) return undefined;
    out += String.fromCodePoint(cp);
    i += 3;
  }
  return out;
}

/**
 * Metadata. Azure metadata names must be C# identifiers; ours are `[a-z0-9._-]`. A user
 * name `k` is stored as `u_` + `k` with `_` → `_5f`, `.` → `_2e`, `-` → `_2d`; values that
 * are not plain printable ASCII travel as RFC 2047 encoded words (`=?UTF-8?B?…?=`). The
 * value type and the expiry deadline use the reserved names below.
 */
export const VALUE_TYPE_NAME = "pepperpy_type";
/** Metadata name of the expiry deadline (epoch milliseconds). */
export const EXPIRES_NAME = "pepperpy_expires";

const ESCAPES: Record<string, string> = { _: "_5f", ".": "_2e", "-": "_2d" };
const UNESCAPES: Record<string, string> = { "5f": "_", "2e": ".", "2d": "-" };
const ENCODED_WORD = /^=\?UTF-8\?B\?([A-Za-z0-9+/]*={0,2})\?=$/;

function encodeValue(value: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !value.startsWith("=?");
  return plain ? value : `=?UTF-8?B?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

function decodeValue(value: string): string {
  const m = ENCODED_WORD.exec(value);
  return m ? Buffer.from(m[1]!, "base64").toString("utf8") : value;
}

/** Our metadata, value type and expiry as Azure metadata. */
export function toAzureMetadata(metadata: Record<string, string>, valueType: ValueType | undefined, expiresAt: number | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (valueType !== undefined) out[VALUE_TYPE_NAME] = valueType;
  if (expiresAt !== undefined) out[EXPIRES_NAME] = String(expiresAt);
  for (const [k, v] of Object.entries(metadata)) out[`u_${k.replace(/[_.-]/g, (c) => ESCAPES[c]!)}`] = encodeValue(v);
  return out;
}

/** Azure metadata back to ours; names this library did not write are kept (lowercased) as they are. */
export function fromAzureMetadata(raw: Record<string, string> | undefined): {
  metadata: Record<string, string>;
  valueType: ValueType | undefined;
  expiresAt: Date | undefined;
} {
  const metadata: Record<string, string> = {};
  let valueType: ValueType | undefined;
  let expiresAt: Date | undefined;
  for (const [name, v] of Object.entries(raw ?? {})) {
    const n = name.toLowerCase();
    if (n === VALUE_TYPE_NAME) {
      if (v === "text" || v === "bytes" || v === "json") valueType = v;
    } else if (n === EXPIRES_NAME) {
      const ms = Number(v);
      if (Number.isFinite(ms)) expiresAt = new Date(ms);
    } else if (n.startsWith("u_")) {
      metadata[n.slice(2).replace(/_(5f|2e|2d)/g, (_, h: string) => UNESCAPES[h]!)] = decodeValue(v);
    } else if (!n.startsWith("pepperpy")) {
      metadata[n] = decodeValue(v);
    }
  }
  return { metadata, valueType, expiresAt };
}
