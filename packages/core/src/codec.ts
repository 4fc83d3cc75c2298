import { Readable } from "node:stream";
import { StorageIntegrityError, StorageValidationError } from "./errors.js";
import type { ByteStream, ObjectInfo, ValueType } from "./types.js";

/** Default content types by value type. */
export const DEFAULT_CONTENT_TYPES: Record<ValueType, string> = {
  text: "text/plain; charset=utf-8",
  bytes: "application/octet-stream",
  json: "application/json",
};

/** A value turned into bytes (a `Uint8Array` is borrowed, not copied: see `encodeValue`). */
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
  for await (const chunk of source) {
    if (chunk instanceof Uint8Array) yield chunk;
    else if (typeof chunk === "string") yield Buffer.from(chunk, "utf8");
    else if (chunk instanceof ArrayBuffer) yield new Uint8Array(chunk);
    else throw new StorageValidationError(`Invalid stream chunk: expected bytes, got ${typeof chunk}`);
  }
}

/** Describes why `value` is not exactly representable as JSON, or `undefined` when it is. */
function jsonProblem(value: unknown, seen: Set<object>, path: string): string | undefined {
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
  if (seen.has(obj)) return `${path} is a circular reference`;
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) return `${path}[${i}] is a hole in a sparse array`;
        const p = jsonProblem(obj[i], seen, `${path}[${i}]`);
        if (p) return p;
      }
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
      const p = jsonProblem(v, seen, `${path}.${k}`);
      if (p) return p;
    }
    return undefined;
  } finally {
    seen.delete(obj);
  }
}

/**
 * Turns a value into bytes and remembers its type. Rejects what would not round-trip
 * exactly. Strings and JSON values become new bytes; a `Uint8Array` or `ArrayBuffer` is
 * borrowed, not copied: it is read while the write runs (as `fs.writeFile` and the AWS SDK
 * do), and a driver that keeps the bytes after its write settles copies them (see
 * `WriteRequest.body`).
 *
 * @param valueType - overrides the recorded type for bytes (used by layers)
 */
export function encodeValue(value: unknown, key?: string, valueType?: ValueType): EncodedBytes | EncodedStream {
  if (typeof value === "string") return { kind: "bytes", data: Buffer.from(value, "utf8"), valueType: valueType ?? "text" };
  // Borrowed: copying a 64 MiB value costs more than writing it to a local disk.
  if (value instanceof Uint8Array) return { kind: "bytes", data: toBuffer(value), valueType: valueType ?? "bytes" };
  if (value instanceof ArrayBuffer) return { kind: "bytes", data: Buffer.from(value), valueType: valueType ?? "bytes" };
  if (ArrayBuffer.isView(value)) {
    throw new StorageValidationError("Invalid value: typed arrays other than Uint8Array are not stored; pass a Uint8Array", {
      key,
      operation: "put",
    });
  }
  if (isByteStream(value)) return { kind: "stream", stream: iterateBytes(value), valueType: valueType ?? "bytes" };
  const problem = jsonProblem(value, new Set(), "value");
  if (problem) throw new StorageValidationError(`Invalid value: ${problem}`, { key, operation: "put" });
  return { kind: "bytes", data: Buffer.from(JSON.stringify(value), "utf8"), valueType: "json" };
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

const EXTENSION_TYPES: Record<string, string> = {
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
};

/** Content type from a key's extension, for objects this library did not write. */
export function contentTypeFromKey(key: string): string {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return DEFAULT_CONTENT_TYPES.bytes;
  return EXTENSION_TYPES[name.slice(dot + 1).toLowerCase()] ?? DEFAULT_CONTENT_TYPES.bytes;
}
