import type { Readable } from "node:stream";
import type { StorageError } from "./errors.js";

/** A JSON value, as `JSON.parse` returns it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Anything that yields chunks of bytes: a Node `Readable`, a web `ReadableStream`, an async iterable. */
export type ByteStream = Readable | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** What `put` accepts: a string, bytes, a JSON value, or a stream of bytes. */
export type StorageValue = string | Uint8Array | ArrayBuffer | JsonValue | ByteStream;

/** A property of a {@link Jsonable} object: `undefined` is allowed (and dropped, as `JSON.stringify` does). */
type JsonableProperty<T> = Jsonable<Exclude<T, undefined>> | (undefined extends T ? undefined : never);

/**
 * `T` when it is exactly representable as JSON, checked property by property at compile
 * time — so values typed with an `interface` (which has no index signature, and so is not
 * a {@link JsonValue}) are accepted. A property whose type is not JSON (a function, a
 * `Date`, a `Map`, a `bigint`, a class with methods) becomes `never`, and `put` refuses the
 * value where it is written. Optional and `undefined` properties are allowed: they are
 * dropped as `JSON.stringify` drops them (so `{ nick: undefined }` reads back as `{}`);
 * `undefined` inside an array is refused, by the type and at run time.
 *
 * @example
 * interface User { name: string; nick?: string; tags: string[] }
 * const u: User = { name: "ada", tags: [] };
 * await storage.put("users/ada", u); // compiles: User is Jsonable
 */
export type Jsonable<T> = T extends string | number | boolean | null
  ? T
  : T extends bigint | symbol | undefined | ((...args: never[]) => unknown)
    ? never
    : T extends readonly unknown[]
      ? { [I in keyof T]: Jsonable<T[I]> }
      : T extends object
        ? { [K in keyof T]: K extends string ? JsonableProperty<T[K]> : never }
        : never;

/**
 * The type `put` checks a value against: a {@link StorageValue} as it is (strings, bytes,
 * streams, `JsonValue`s), anything else — such as an `interface` — as {@link Jsonable}.
 */
export type PutValue<T> = T extends StorageValue ? T : Jsonable<T>;

/**
 * How stored bytes are turned back into a value by `get`.
 * - `text`: a UTF-8 string
 * - `bytes`: a `Uint8Array` (a Node `Buffer`)
 * - `json`: a parsed JSON value
 */
export type ValueType = "text" | "bytes" | "json";

/** One entry of `list` pages and `iterate`. */
export interface ListEntry {
  /** The full key. */
  key: string;
  /** Stored size in bytes. */
  size: number;
  /** Last write time. */
  lastModified: Date;
  /** An opaque version tag, when the backend has one cheaply. */
  etag?: string | undefined;
  /**
   * When the value expires (SPEC §11), if it was written with `ttl` / `expiresAt` and the
   * backend returns the deadline in listings cheaply. The core hides entries whose deadline
   * has passed.
   */
  expiresAt?: Date | undefined;
}

/** What `stat` returns: a {@link ListEntry} plus content type and metadata. */
export interface ObjectInfo extends ListEntry {
  /** MIME type given at `put`, or derived from the value type or the file extension. */
  contentType: string;
  /** User metadata given at `put` (string map, keys lowercase). */
  metadata: Record<string, string>;
  /**
   * How `get` decodes the bytes. `undefined` for objects this library did not write;
   * they are decoded by content type (JSON, `text/*`, otherwise bytes).
   */
  valueType?: ValueType | undefined;
  /** Etag of the object; always set by backends that support `ifMatch`. */
  etag?: string | undefined;
}

/** Options shared by every operation. */
export interface OperationOptions {
  /**
   * Milliseconds before the call rejects with `StorageTimeoutError`; overrides the storage's
   * default. `0` disables. For a `put` of a stream it is the longest wait for the next
   * chunk, so a long transfer that keeps moving is not cut off; `getStream` is bounded
   * until the stream is open.
   */
  timeout?: number | undefined;
  /** Aborting rejects the call with `StorageAbortedError` and leaves nothing half-done. */
  signal?: AbortSignal | undefined;
}

/**
 * Options of `put`. A layer adds its own by declaration merging, so that a misspelled
 * option is a compile error and an option of a layer that is not installed is not offered:
 *
 * @example
 * declare module "@pepperpy/storage-core" {
 *   interface PutOptions {
 *     // the compression layer's level
 *     compressionLevel?: number | undefined;
 *   }
 * }
 */
export interface PutOptions extends OperationOptions {
  /** MIME type to record; default from the value: text, JSON or octet-stream. */
  contentType?: string | undefined;
  /** User metadata: lowercase keys `[a-z0-9._-]`, string values, 2 KiB in all. */
  metadata?: Record<string, string> | undefined;
  /** `"*"`: create only; fails with `StorageConflictError` when the key exists. */
  ifNoneMatch?: "*" | undefined;
  /** Compare-and-swap: write only while the stored etag equals this one, else `StorageConflictError`. */
  ifMatch?: string | undefined;
  /** Largest value accepted, in bytes; overrides the storage's `maxSize`. */
  maxSize?: number | undefined;
  /** Expiry: the value is absent from every read this many milliseconds after the write (SPEC §11). */
  ttl?: number | undefined;
  /** Expiry: the value is absent from every read from this instant on (SPEC §11). */
  expiresAt?: Date | undefined;
}

/** Byte range of `getStream`: `start` and `end` are inclusive offsets, as in `fs.createReadStream`. */
export interface RangeOptions extends OperationOptions {
  start?: number | undefined;
  end?: number | undefined;
}

/** Options of `iterate`. */
export interface IterateOptions extends OperationOptions {
  /** Entries fetched per backend call (default 1000). */
  pageSize?: number | undefined;
}

/** Options of `listPage`. */
export interface ListPageOptions extends OperationOptions {
  /** The `cursor` of the previous page (the last key it returned): the page starts after it. */
  cursor?: string | undefined;
  /**
   * At most this many entries (default 1000). A page may hold fewer, even none, while more
   * follow (expired entries are left out): keep going while `cursor` is set.
   */
  limit?: number | undefined;
  /**
   * Only the keys are wanted (what `list` asks for). A backend that gathers each entry's
   * size and time with an extra call (a file `lstat`) may then skip it: entries carry the
   * key, `size: -1` and an invalid `lastModified`. Backends that get them for free
   * (memory, S3) ignore the hint.
   */
  keysOnly?: boolean | undefined;
}

/** What a driver's `list` is asked for: a page of {@link ListPageOptions}, with defaults applied. */
export interface ListPageRequest {
  /** The page starts strictly after this key. */
  cursor?: string | undefined;
  /** At most this many entries. */
  limit: number;
  /** See {@link ListPageOptions.keysOnly}. */
  keysOnly?: boolean | undefined;
}

/** One page of a listing. */
export interface ListPage {
  /** Entries in key order. */
  items: ListEntry[];
  /** Pass to the next `listPage` call; absent on the last page. */
  cursor?: string | undefined;
}

/** Options of batch operations. */
export interface BatchOptions extends OperationOptions {
  /** Operations in flight at once (default 16). */
  concurrency?: number | undefined;
}

/** A stored value's bytes with its info: the byte-level view layers build on. */
export interface StoredEntry {
  info: ObjectInfo;
  data: Uint8Array;
}

/** A stored value as a stream with its info. */
export interface StoredStream {
  info: ObjectInfo;
  stream: Readable;
}

/** Names of the events a storage emits. */
export type StorageEventName = "storage.put" | "storage.get" | "storage.delete" | "storage.error";

/** Payload of every storage event. */
export interface StorageEvent {
  /** The key, when the operation had one. */
  key?: string | undefined;
  /** The public operation (`get`, `put`, `getMany`, …). */
  operation: string;
  /** Bytes read or written, when known. */
  bytes?: number | undefined;
  /** Wall time of the operation. */
  durationMs: number;
  /** The error, on `storage.error`. */
  error?: StorageError | undefined;
}

/** An event listener. A listener that throws is reported on `process` warnings and never breaks the operation. */
export type StorageListener = (event: StorageEvent) => void;

/** What a stack of backend and layers can do; the conformance suite skips by these. */
export interface StorageCapabilities {
  /** `getStream` with `start`/`end` reads only the range. */
  rangeRead: boolean;
  /** `ifNoneMatch` / `ifMatch` are honoured atomically. */
  conditionalWrite: boolean;
  /** `copy` runs inside the backend without moving bytes through this process. */
  serverSideCopy: boolean;
  /** A key can be both an object and a prefix of other keys (`a` and `a/b`); false on file systems. */
  keyIsAlsoPrefix: boolean;
  /** Writes survive a process crash once `put` resolves. */
  durable: boolean;
  /** Values persist across instances (false for memory). */
  persistent: boolean;
  /**
   * Every awaited operation yields to the event loop (it waits for real I/O), so a loop of
   * awaited calls never stops timers and a reader polling a key never stops writers.
   * `false`: answers may resolve in microtasks without I/O — an in-memory store, or a layer
   * that answers from memory (a cache hit); the conformance suite then skips its fairness
   * cases by name with this reason. Absent means `true`: every backend that does I/O.
   */
  yieldsToEventLoop?: boolean | undefined;
}

/**
 * The public API every backend and every layer implements.
 *
 * Keys are `/`-separated strings (see `validateKey`); values round-trip exactly: a string
 * comes back a string, bytes come back bytes, a JSON value deep-equal. Every method
 * rejects with a `StorageError` subclass and never with anything else.
 */
export interface Storage {
  /** Name used in errors and events (`memory`, `file`, `s3`, `cache(file)`, …). */
  readonly name: string;
  /** What this storage can do. */
  readonly capabilities: StorageCapabilities;

  /**
   * Reads a value, decoded as it was written.
   * Behaviour: a missing key rejects with `StorageNotFoundError`; an invalid key with
   * `StorageValidationError` before any I/O.
   */
  get<T = unknown>(key: string, opts?: OperationOptions): Promise<T>;
  /**
   * Stores a value, replacing any previous one.
   * Behaviour: the value is taken when `put` is called, before it awaits anything: strings
   * and JSON values are serialized, and a `Uint8Array` or `ArrayBuffer` is copied, so the
   * stored value is the caller's value as it was at the call, whatever the caller does to it
   * while the write runs or after, on every backend and through every layer (a buffer
   * passed through `handOver` skips the copy: the caller then must not change it). A streamed
   * value's chunks are not copied: a source must not reuse a chunk's buffer after yielding it
   * (Node's streams never do). `undefined`, functions, non-JSON objects, strings with a lone
   * UTF-16 surrogate and JSON nested deeper than 1000 levels reject with
   * `StorageValidationError`, at compile time too for values typed with interfaces (see
   * {@link Jsonable}); an `undefined` property of an object is dropped, as `JSON.stringify`
   * drops it; a value over `maxSize` rejects and stores nothing; a failed
   * condition rejects with `StorageConflictError`. Resolves to the stored object's info.
   *
   * Two signatures: this one takes any {@link StorageValue} (a `JsonValue`, or a generic
   * `T extends JsonValue` in a wrapper of `put`); the other checks a value typed with an
   * `interface` property by property (see {@link Jsonable}).
   */
  put(key: string, value: StorageValue, opts?: PutOptions): Promise<ObjectInfo>;
  /**
   * Stores a value typed with an `interface` (or any type without an index signature) whose
   * properties are all JSON: checked property by property at compile time (see
   * {@link Jsonable}); a `Date`, a function or a `bigint` property is a compile error.
   * Behaviour as the other signature.
   */
  put<T>(key: string, value: T & PutValue<T>, opts?: PutOptions): Promise<ObjectInfo>;
  /** Removes a key. Behaviour: deleting a missing key succeeds. */
  delete(key: string, opts?: OperationOptions): Promise<void>;
  /** Behaviour: `true` when the key exists; never throws for a missing key. */
  exists(key: string, opts?: OperationOptions): Promise<boolean>;
  /**
   * Every key that starts with `prefix` (plain string prefix, not only whole segments),
   * sorted by code point (the order of S3), with no limit on the count.
   */
  list(prefix?: string, opts?: OperationOptions): Promise<string[]>;
  /** One page of entries under `prefix`, in key order. */
  listPage(prefix?: string, opts?: ListPageOptions): Promise<ListPage>;
  /** Entries under `prefix` in key order, fetched a page at a time (constant memory). */
  iterate(prefix?: string, opts?: IterateOptions): AsyncIterable<ListEntry>;
  /** Size, time, etag, content type and metadata. Behaviour: missing key → `StorageNotFoundError`. */
  stat(key: string, opts?: OperationOptions): Promise<ObjectInfo>;
  /** The stored bytes, whatever was stored. */
  getBytes(key: string, opts?: OperationOptions): Promise<Uint8Array>;
  /** The stored bytes as UTF-8 text; invalid UTF-8 rejects with `StorageIntegrityError`. */
  getText(key: string, opts?: OperationOptions): Promise<string>;
  /** The stored bytes parsed as JSON; invalid JSON rejects with `StorageIntegrityError`. */
  getJSON<T = JsonValue>(key: string, opts?: OperationOptions): Promise<T>;
  /** The stored bytes as a Node `Readable`, optionally a byte range (`end` inclusive). */
  getStream(key: string, opts?: RangeOptions): Promise<Readable>;
  /** Values in the order of `keys`; `undefined` for a missing key. */
  getMany<T = unknown>(keys: readonly string[], opts?: BatchOptions): Promise<(T | undefined)[]>;
  /**
   * Stores many values; rejects with the first failure after every write has settled.
   * Every entry is taken at the call, as `put` takes one: changing a buffer or object after
   * `putMany` is called never changes what is stored (`handOver` entries are not copied).
   */
  putMany(entries: Iterable<readonly [string, StorageValue]> | Record<string, StorageValue>, opts?: BatchOptions & PutOptions): Promise<void>;
  /** Removes many keys; missing keys are fine. */
  deleteMany(keys: readonly string[], opts?: BatchOptions): Promise<void>;
  /** Copies a value with its content type and metadata. Missing source → `StorageNotFoundError`. */
  copy(from: string, to: string, opts?: OperationOptions): Promise<void>;
  /** Moves a value (copy, then delete the source; a rename where the backend has one). */
  move(from: string, to: string, opts?: OperationOptions): Promise<void>;
  /**
   * Deletes the keys under `prefix` whose expiry deadline (SPEC §11) has passed, and resolves
   * to how many it deleted. Only what is expired when the call looks at it is deleted: a key
   * rewritten meanwhile (a new value, a new deadline) is kept — atomically where the backend
   * has a conditional delete, otherwise with a fresh check just before the delete (see
   * docs/expiry.md). Expired keys are already absent to every read; purging reclaims space.
   */
  purgeExpired(prefix?: string, opts?: OperationOptions): Promise<number>;

  /**
   * A `Storage` that sees only the keys under `prefix` (a valid key followed by `/`, such as
   * `"tenant-a/"`), with keys relative to it for every operation: `get("x")` reads
   * `prefix + "x"`, `list()` returns relative keys, `copy`, `move` and batches stay inside the
   * prefix, and events and errors name relative keys (errors name the view, with its prefix,
   * as backend). Layers under the view see full keys. Closing the view leaves this storage open.
   */
  withPrefix(prefix: string): Storage;

  /** Adds an event listener. */
  on(event: StorageEventName, listener: StorageListener): this;
  /** Removes an event listener. */
  off(event: StorageEventName, listener: StorageListener): this;
  /** Adds a listener called at most once. */
  once(event: StorageEventName, listener: StorageListener): this;

  /** Releases clients, timers and handles. Later calls reject with `StorageUnavailableError`. */
  close(): Promise<void>;
}

/** Context passed to every driver call. */
export interface DriverContext {
  /** Aborted when the caller aborts or the timeout fires. Drivers pass it to their I/O. */
  signal: AbortSignal;
  /** The public operation that led to this call (for error messages, events and metrics). */
  operation: string;
  /**
   * What leaves the storage from a `read`, so that a driver keeping values in memory (the
   * memory backend, a cache) knows what it must copy — rather than guessing from `operation`:
   * - `"value"` (`get`): the decoded value only; the info never reaches the caller, and the
   *   bytes do only for a value of type `bytes`;
   * - `"bytes"` (`getBytes`): the bytes, never the info;
   * - `"decoded"` (`getText`, `getJSON`): neither; the bytes are only decoded;
   * - `"entry"` or absent (a layer's read, the `copy` fallback, tools): both, to be kept or changed.
   */
  reads?: ReadUse | undefined;
}

/** What a caller does with what a driver's `read` returns: see {@link DriverContext.reads}. */
export type ReadUse = "value" | "bytes" | "decoded" | "entry";

/** What a driver writes: the bytes, how to decode them, and the user-visible info. */
export interface WriteRequest {
  /**
   * Bytes in memory, or a stream (already checked against `maxSize` as it flows).
   * Bytes reaching a driver through `put` belong to the write: the core copied the caller's
   * buffer (or encoded a string / JSON value into new bytes) before its first await, so
   * nobody changes them and a driver may keep them after its write settles. Bytes from
   * other paths (the `copy` fallback reads and writes) are the driver's own read. The chunks
   * of a stream are lent: a driver may hold chunks until its write settles (to batch them
   * into larger writes) without copying each, because a source does not reuse a chunk's
   * buffer once yielded, as Node's own streams assume. A layer that passes bytes it made
   * (or this body) to the driver underneath marks the request `owned: true` so they are not copied again.
   */
  body: Uint8Array | AsyncIterable<Uint8Array>;
  /** Size of `body` when known in advance. */
  size?: number | undefined;
  valueType: ValueType;
  contentType: string;
  metadata: Record<string, string>;
  ifNoneMatch?: "*" | undefined;
  ifMatch?: string | undefined;
  /**
   * Expiry deadline in epoch milliseconds, resolved by the core from `ttl` / `expiresAt` /
   * the storage's default TTL. A driver stores it with the object (sidecar, object
   * metadata, a column, native TTL) and returns it as `info.expiresAt` from `read`, `stat`,
   * `readStream` and, where cheap, `list`; the core hides what has expired. Absent: never expires.
   */
  expiresAt?: number | undefined;
  /**
   * `true` when the bytes of `body` belong to this write: the core made them at `put` (a
   * copy of the caller's buffer, or an encoded string / JSON value) or a layer made them,
   * and nobody else holds them, so a driver that keeps values in memory may keep these
   * bytes without copying them. Absent for bytes another path lends (the `copy` fallback
   * writes what it read).
   */
  owned?: boolean | undefined;
  /** Layer options from `put`, passed down unchanged. */
  options: PutOptions;
}

/**
 * The small contract a backend implements. `BaseStorage` derives the whole public
 * {@link Storage} surface from it: key checks, the value codec, batches, `iterate`,
 * copy and move fallbacks, timeouts, events and error context.
 *
 * Keys reaching a driver are already valid. A driver maps native errors to the
 * `StorageError` family where it catches them; anything else is wrapped as `StorageIOError`.
 *
 * `read`, `stat`, `exists`, `write` and `delete` may answer synchronously (return the value
 * rather than a promise) when they did no I/O, as the memory driver does: such a call
 * cannot hang, so the core arms no timeout for it.
 */
export interface StorageDriver {
  /** Name for errors and events. */
  readonly name: string;
  readonly capabilities: StorageCapabilities;
  /** Bytes and info of a key; `undefined` when missing. */
  read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> | StoredEntry | undefined;
  /** Info of a key; `undefined` when missing. */
  stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> | ObjectInfo | undefined;
  /** Stores a value atomically: readers see the old or the new value, never a mix. */
  write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> | ObjectInfo;
  /** Removes a key; a missing key is not an error. */
  delete(key: string, ctx: DriverContext): Promise<void> | void;
  /**
   * One page of at most `page.limit` entries whose keys start with `prefix`, in code-point
   * order (see `compareKeys`), starting strictly after the key `page.cursor`. The returned
   * `cursor` is the last key of the page, present only when more entries may follow.
   * Every entry of a key stored with a deadline carries it as `expiresAt`, `keysOnly` pages
   * included: the core leaves out expired entries by it (a driver whose native listing lacks
   * the deadline fetches it, as S3 does with a HEAD per key when expiring values may exist).
   */
  list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage>;
  /**
   * Whether a key exists, for backends that can tell without the metadata `stat` gathers
   * (one `lstat` instead of a metadata read). Default: `stat(key) !== undefined`.
   */
  exists?(key: string, ctx: DriverContext): Promise<boolean> | boolean;
  /** Streaming read; default: `read` then a stream over the (sliced) bytes. */
  readStream?(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined>;
  /** Backend-side copy; `false` when the source is missing. Default: read and write. */
  copy?(from: string, to: string, ctx: DriverContext): Promise<boolean>;
  /** Backend-side move (a rename); `false` when the source is missing. Default: copy and delete. */
  move?(from: string, to: string, ctx: DriverContext): Promise<boolean>;
  /**
   * Set when the driver's `exists`, `copy` and `move` already treat a key whose stored
   * expiry deadline has passed as missing (it was given the storage's clock, or it forwards
   * to a `Storage`, which does). Otherwise the core answers `exists` from `stat`, which
   * carries the deadline, and checks the source of `copy` / `move` with a `stat` first.
   */
  readonly honorsExpiry?: boolean | undefined;
  /**
   * Deletes the keys under `prefix` whose stored deadline is at or before `now` (epoch ms)
   * and returns how many. A driver implements it when it can do better than the core's
   * default — a listing, then per expired key a fresh `stat` and a `delete` — for example
   * one conditional statement, or a delete conditioned on the etag the check saw, so that a
   * key rewritten between the check and the delete is kept.
   */
  purgeExpired?(prefix: string, now: number, ctx: DriverContext): Promise<number>;
  /** Native batch delete. Default: `delete` per key, bounded concurrency. */
  deleteMany?(keys: readonly string[], ctx: DriverContext): Promise<void>;
  /** Releases resources. */
  close?(): Promise<void>;
}
