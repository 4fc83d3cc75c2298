/**
 * A reversible encoding of any string into a key every backend accepts, for callers whose
 * keys come from elsewhere (the keyv and unstorage bridges, URLs used as cache keys).
 *
 * `/` stays the segment separator, so encoded keys still list by folder. Within a segment:
 * - `%`, `\`, control characters and lone surrogates become `%XX` / `%uXXXX`;
 * - a `.` that starts a segment becomes `%2E` (no `.`, `..` or `.pepperpy…` segments);
 * - `:` after a leading ASCII letter becomes `%3A` (no drive letters);
 * - an empty segment (`a//b`, a leading or trailing `/`, the empty string) is written `%`;
 * - a segment longer than {@link ENCODED_SEGMENT_BYTES} bytes is cut into several, each
 *   continuation starting with `%+`, so file systems (255-byte names) can store it.
 *
 * A key that is already valid, has no `%`, no segment starting with `.` and no segment over
 * 200 bytes encodes to itself. The encoded key can be up to three times longer for
 * unusual characters; one that ends up over 1024 bytes is still refused by the key rules.
 */

/** Largest segment, in UTF-8 bytes, that {@link encodeKey} writes (file names allow 255). */
export const ENCODED_SEGMENT_BYTES = 200;

const CONTINUATION = "%+";
const EMPTY_SEGMENT = "%";

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}

/** The token a character becomes at `index` of a segment. */
function token(c: string, index: number, driveRisk: boolean): string {
  const cp = c.codePointAt(0)!;
  if (cp >= 0xd800 && cp <= 0xdfff) return `%u${hex(cp, 4)}`; // a lone surrogate (pairs come whole)
  if (c === "%" || c === "\\" || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return `%${hex(cp, 2)}`;
  if (c === "." && index === 0) return "%2E";
  if (c === ":" && driveRisk) return "%3A";
  return c;
}

function encodeSegment(segment: string, first: boolean): string {
  if (segment === "") return EMPTY_SEGMENT;
  const chunks: string[] = [];
  let chunk = "";
  let bytes = 0;
  let index = 0;
  let previous = "";
  for (const c of segment) {
    const driveRisk = first && index === 1 && /^[A-Za-z]$/.test(previous);
    const t = token(c, index, driveRisk);
    const size = Buffer.byteLength(t, "utf8");
    if (bytes + size > ENCODED_SEGMENT_BYTES) {
      chunks.push(chunk);
      chunk = CONTINUATION;
      bytes = CONTINUATION.length;
    }
    chunk += t;
    bytes += size;
    previous = c;
    index++;
  }
  chunks.push(chunk);
  return chunks.join("/");
}

/**
 * Encodes any string as a valid key (see the module documentation); {@link decodeKey}
 * gives the string back exactly.
 *
 * @example
 * encodeKey("https://example.com/a?b=1") // "https:/%/example.com/a?b=1"
 */
export function encodeKey(key: string): string {
  return key
    .split("/")
    .map((segment, i) => encodeSegment(segment, i === 0))
    .join("/");
}

const ESCAPE = /%u([0-9A-F]{4})|%([0-9A-F]{2})/g;

/** The string {@link encodeKey} encoded. */
export function decodeKey(encoded: string): string {
  const segments: string[] = [];
  for (const part of encoded.split("/")) {
    if (part.startsWith(CONTINUATION) && segments.length > 0) segments[segments.length - 1] += part.slice(CONTINUATION.length);
    else segments.push(part === EMPTY_SEGMENT ? "" : part);
  }
  return segments
    .map((s) => s.replace(ESCAPE, (_, u: string | undefined, b: string | undefined) => String.fromCharCode(Number.parseInt((u ?? b)!, 16))))
    .join("/");
}
