import { Readable } from "node:stream";
import { copyBytes } from "./bytes.js";
import { StorageIntegrityError, StorageValidationError } from "./errors.js";
import type { ByteStream, ObjectInfo, ValueType } from "./types.js";

/** Default content types by value type. */
export const DEFAULT_CONTENT_TYPES: Record<ValueType, string> = {
  text: "text/plain; charset=utf-8",
  bytes: "application/octet-stream",
  json: "application/json",
};

/** A value turned into bytes the encoder owns (see `encodeValue`). */
export interface EncodedBytes {
  kind: "bytes";
  data: Uint8Array;
  valueType: ValueType;
}

/** A streamed value: bytes arrive as the stream is read. */
export interface EncodedStream {
  kind: "stream";
  stream: AsyncIterable<Uint8Array>;
  valueType: ValueType;
}

/** True for Node `Readable`s, web `ReadableStream`s and other async iterables of bytes. */
export function isByteStream(value: unknown): value is ByteStream {
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof Readable) return true;
  if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) return true;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

/** Iterates any {@link ByteStream} as `Uint8Array` chunks (strings from a text-mode Readable are UTF-8 encoded). */
export async function* iterateBytes(stream: ByteStream): AsyncIterable<Uint8Array> {
  const source: AsyncIterable<unknown> =
    typeof ReadableStream !== "undefined" && stream instanceof ReadableStream
      ? Readable.fromWeb(stream as import("node:stream/web").ReadableStream<Uint8Array>)
      : (stream as AsyncIterable<unknown>);
  // A high surrogate at the end of a text chunk waits for the low one that starts the next.
  let pending = "";
  for await (const chunk of source) {
    if (typeof chunk === "string") {
      let text = pending + chunk;
      pending = "";
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        pending = text.slice(-1);
        text = text.slice(0, -1);
      }
      if (!isWellFormedText(text)) throw loneSurrogateInStream();
      if (text.length > 0) yield Buffer.from(text, "utf8");
      continue;
    }
    if (pending) throw loneSurrogateInStream();
    if (chunk instanceof Uint8Array) yield chunk;
    else if (chunk instanceof ArrayBuffer) yield new Uint8Array(chunk);
    else throw new StorageValidationError(`Invalid stream chunk: expected bytes, got ${typeof chunk}`);
  }
  if (pending) throw loneSurrogateInStream();
}

function loneSurrogateInStream(): StorageValidationError {
  return new StorageValidationError("Invalid stream chunk: text with a lone UTF-16 surrogate, which has no UTF-8 form", { operation: "put" });
}

/**
 * Deepest nesting of arrays and objects a JSON value may have: 1000 levels. Deeper values
 * are rejected with `StorageValidationError` before anything is serialized (JSON.stringify
 * and JSON.parse recurse, and ten thousand levels overflow the stack).
 */
export const MAX_JSON_DEPTH = 1000;

/** True when a string holds no lone UTF-16 surrogate (it has an exact UTF-8 form). */
export function isWellFormedText(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Describes why `value` is not exactly representable as JSON, or `undefined` when it is.
 * Non-enumerable own properties are not looked at: they are left out of what is stored, as
 * `JSON.stringify` leaves them out (rejecting them would reject values whose internals are
 * hidden that way); docs/formats.md states the rule.
 */
function jsonProblem(value: unknown, seen: Set<object>, path: string, depth: number): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value} (not representable in JSON)`;
    case "undefined":
      return `${path} is undefined`;
    case "function":
      return `${path} is a function`;
    case "symbol":
      return `${path} is a symbol`;
    case "bigint":
      return `${path} is a bigint`;
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (depth >= MAX_JSON_DEPTH) return `${path} is nested deeper than ${MAX_JSON_DEPTH} levels`;
  if (seen.has(obj)) return `${path} is a circular reference`;
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) return `${path}[${i}] is a hole in a sparse array`;
        const p = jsonProblem(obj[i], seen, `${path}[${i}]`, depth + 1);
        if (p) return p;
      }
      // JSON keeps only the elements: named properties of an array would be lost.
      if (Object.keys(obj).length !== obj.length) {
        const extra = Object.keys(obj).find((k) => !/^(?:0|[1-9]\d*)$/.test(k));
        return `${path} is an array with a named property ${JSON.stringify(extra)} (JSON would drop it)`;
      }
      if (Object.getOwnPropertySymbols(obj).length > 0) return `${path} has symbol keys`;
      return undefined;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? "object";
      return `${path} is a ${name}, not a plain object`;
    }
    if (Object.getOwnPropertySymbols(obj).length > 0) return `${path} has symbol keys`;
    for (const [k, v] of Object.entries(obj)) {
      // An undefined property is dropped, as JSON.stringify drops it (an optional field left unset).
      if (v === undefined) continue;
      const p = jsonProblem(v, seen, `${path}.${k}`, depth + 1);
      if (p) return p;
    }
    return undefined;
  } finally {
    seen.delete(obj);
  }
}

/** Serializes a JSON value, rejecting with `StorageValidationError` what would not come back deep-equal. */
function encodeJSON(value: unknown, key: string | undefined): Buffer {
  let problem: string | undefined;
  let text: string;
  try {
    problem = jsonProblem(value, new Set(), "value", 0);
    text = problem ? "" : JSON.stringify(value);
  } catch (cause) {
    // A getter or proxy that throws while the value is read: the value, not the I/O, is at fault.
    throw new StorageValidationError(`Invalid value: reading it threw (${(cause as Error)?.message ?? String(cause)})`, { key, operation: "put", cause });
  }
  if (problem) throw new StorageValidationError(`Invalid value: ${problem}`, { key, operation: "put" });
  return Buffer.from(text, "utf8");
}

/**
 * Turns a value into bytes and remembers its type. Rejects what would not round-trip
 * exactly: a string with a lone UTF-16 surrogate (it has no UTF-8 form; JSON values keep
 * theirs as `\uD800` escapes and round-trip), and JSON values that are not plain data or
 * nest deeper than {@link MAX_JSON_DEPTH}.
 *
 * Every result owns its bytes: strings and JSON values become new bytes, and a
 * `Uint8Array` or `ArrayBuffer` is copied here, synchronously, before `put` awaits anything,
 * so the stored value is the buffer's state at the call whatever the caller does to it
 * afterwards (SPEC §3). The one exception is bytes marked by {@link handOver}: nobody else
 * holds them, so they are taken as they are.
 *
 * @param valueType - overrides the recorded type for bytes (used by layers)
 */
export function encodeValue(value: unknown, key?: string, valueType?: ValueType): EncodedBytes | EncodedStream {
  if (typeof value === "string") {
    if (!isWellFormedText(value)) {
      throw new StorageValidationError("Invalid value: the string holds a lone UTF-16 surrogate, which has no UTF-8 form", { key, operation: "put" });
    }
    return { kind: "bytes", data: Buffer.from(value, "utf8"), valueType: valueType ?? "text" };
  }
  if (value instanceof Uint8Array) return { kind: "bytes", data: takeBytes(value), valueType: valueType ?? "bytes" };
  if (value instanceof ArrayBuffer) return { kind: "bytes", data: copyBytes(new Uint8Array(value)), valueType: valueType ?? "bytes" };
  if (ArrayBuffer.isView(value)) {
    throw new StorageValidationError("Invalid value: typed arrays other than Uint8Array are not stored; pass a Uint8Array", {
      key,
      operation: "put",
    });
  }
  if (isByteStream(value)) return { kind: "stream", stream: iterateBytes(value), valueType: valueType ?? "bytes" };
  return { kind: "bytes", data: encodeJSON(value, key), valueType: "json" };
}

/**
 * Bytes a layer made itself and gives to its inner storage's `put` (a compressed or
 * encrypted body, or the copy the layer's own `put` already took). Nobody else holds them, so
 * the inner `put` takes them without copying. The mark is used up by that `put`.
 */
const handedOver = new WeakSet<Uint8Array>();

/**
 * Marks bytes that nobody but the caller holds and that the caller will not touch again, so
 * the next `put` of exactly these bytes stores them without its defensive copy (the mark is
 * used up by that `put`). For layers: a compressed or encrypted body they made. For callers:
 * a large buffer built only to be stored (`put(key, handOver(buffer))`), where the copy
 * would cost more than the write; changing such a buffer before the `put` settles breaks
 * the guarantee that the stored value is the buffer as it was at the call. Returns `bytes`.
 */
export function handOver<T extends Uint8Array>(bytes: T): T {
  handedOver.add(bytes);
  return bytes;
}

/** The bytes `put` stores: its own copy, or the bytes themselves when they were handed over. */
function takeBytes(bytes: Uint8Array): Buffer {
  if (handedOver.delete(bytes)) return toBuffer(bytes);
  return copyBytes(bytes);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes UTF-8, rejecting invalid sequences with `StorageIntegrityError`. */
export function decodeText(data: Uint8Array, key?: string, operation = "get"): string {
  try {
    return utf8.decode(data);
  } catch (cause) {
    throw new StorageIntegrityError("Stored value is not valid UTF-8 text", { key, operation, cause });
  }
}

/** Parses JSON bytes, rejecting invalid JSON with `StorageIntegrityError`. */
export function decodeJSON<T>(data: Uint8Array, key?: string, operation = "get"): T {
  const text = decodeText(data, key, operation);
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new StorageIntegrityError("Stored value is not valid JSON", { key, operation, cause });
  }
}

/** The value type of an object, from its recorded type or, for foreign objects, its content type. */
export function inferValueType(info: Pick<ObjectInfo, "valueType" | "contentType">): ValueType | "json-or-text" {
  if (info.valueType) return info.valueType;
  const ct = info.contentType.toLowerCase();
  if (ct.startsWith("application/json") || /\+json\b/.test(ct)) return "json-or-text";
  if (ct.startsWith("text/")) return "text";
  return "bytes";
}

/** Turns stored bytes back into the value that was written. */
export function decodeValue(data: Uint8Array, info: Pick<ObjectInfo, "valueType" | "contentType">, key?: string): unknown {
  const type = inferValueType(info);
  switch (type) {
    case "text":
      return decodeText(data, key);
    case "json":
      return decodeJSON(data, key);
    case "json-or-text": {
      // A file this library did not write: JSON when it parses, else its text.
      const text = decodeText(data, key);
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    }
    default:
      return toBuffer(data);
  }
}

/** A Buffer view of bytes without copying. */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// A Map, not an object: an extension named `constructor` or `__proto__` is unknown, never Object's member.
const EXTENSION_TYPES: ReadonlyMap<string, string> = new Map(Object.entries({
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  xml: "application/xml",
  json: "application/json",
  yaml: "text/yaml; charset=utf-8",
  yml: "text/yaml; charset=utf-8",
  log: "text/plain; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  wasm: "application/wasm",
  mp3: "audio/mpeg",
  mp4: "video/mp4",
}));

/** Content type from a key's extension, for objects this library did not write. */
export function contentTypeFromKey(key: string): string {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return DEFAULT_CONTENT_TYPES.bytes;
  return EXTENSION_TYPES.get(name.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPES.bytes;
}
