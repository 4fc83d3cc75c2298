import { Readable } from "node:stream";
import {
  checkOptionNames,
  BaseStorage,
  type BaseStorageOptions,
  compareKeys,
  copyBytes,
  type DriverContext,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  sortKeys,
  type StorageCapabilities,
  type StorageDriver,
  StorageConflictError,
  type StoredStream,
  StorageQuotaError,
  type StoredEntry,
  StorageValidationError,
  type WriteRequest,
} from "@pepperpy/storage-core";

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions extends BaseStorageOptions {
  /**
   * Total bytes of values the storage may hold; a `put` that would exceed it rejects with
   * `StorageQuotaError` and stores nothing. Default: no limit.
   */
  capacity?: number | undefined;
}

/** One stored value. Flat and small: a store of many values keeps one of these each. */
interface Record_ {
  data: Buffer;
  /**
   * `data.byteLength`, kept beside it: listing reads sizes of many records, and reaching
   * into each Buffer object cost about 400 ns per key on the benchmark VM (a cache miss).
   */
  size: number;
  /** Milliseconds since the epoch (a `Date` is made only when asked). */
  modified: number;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  valueType: ObjectInfo["valueType"];
  /** Expiry deadline (SPEC §11); named as in `ObjectInfo`, since a record stands in for its info on `get`. */
  expiresAt: Date | undefined;
}

function infoOf(key: string, r: Record_): ObjectInfo {
  return {
    key,
    size: r.size,
    lastModified: new Date(r.modified),
    etag: r.etag,
    contentType: r.contentType,
    // A copy, so a caller changing it cannot change what is stored.
    metadata: { ...r.metadata },
    valueType: r.valueType,
    expiresAt: r.expiresAt && new Date(r.expiresAt.getTime()),
  };
}

let etagCounter = 0;

/** The `lastModified` of keys-only list entries (nobody reads it). */
const NO_DATE = new Date(Number.NaN);

/** The in-process driver: a `Map` of private byte copies plus a lazily sorted key index. */
export class MemoryDriver implements StorageDriver {
  readonly name = "memory";
  readonly capabilities: StorageCapabilities = {
    rangeRead: true,
    conditionalWrite: true,
    serverSideCopy: true,
    keyIsAlsoPrefix: true,
    durable: false,
    persistent: false,
    // Every operation resolves in microtasks: a Map, no I/O (the fairness cases are skipped).
    yieldsToEventLoop: false,
  };
  private readonly records = new Map<string, Record_>();
  /** Sorted keys, rebuilt on the next listing after a key is added or removed. */
  private sorted: string[] | undefined = [];
  private bytes = 0;
  private readonly capacity: number;
  /** The storage's expiry clock (epoch ms). */
  private readonly now: () => number;
  /** `exists` and `copy` check deadlines with the storage's clock (`move` is copy + delete). */
  readonly honorsExpiry = true;

  constructor(capacity = Number.POSITIVE_INFINITY, now: () => number = Date.now) {
    this.capacity = capacity;
    this.now = now;
  }

  /**
   * The live record of a key. An expired one is removed on the way (no timer per key:
   * expired values are dropped when touched, by `purgeExpired`, or when space is needed).
   */
  private live(key: string): Record_ | undefined {
    const r = this.records.get(key);
    if (r?.expiresAt !== undefined && r.expiresAt.getTime() <= this.now()) {
      this.remove(key, r);
      return undefined;
    }
    return r;
  }

  private remove(key: string, r: Record_): void {
    this.records.delete(key);
    this.bytes -= r.size;
    this.sorted = undefined;
  }

  /** Drops every expired record under `prefix` whose deadline is at or before `now`; returns how many. */
  private sweep(prefix: string, now: number): number {
    let n = 0;
    for (const [key, r] of this.records) {
      if (r.expiresAt !== undefined && r.expiresAt.getTime() <= now && key.startsWith(prefix)) {
        this.remove(key, r);
        n++;
      }
    }
    return n;
  }

  /** Synchronous and atomic: no write can slip between the check and the delete. */
  async purgeExpired(prefix: string, now: number): Promise<number> {
    return this.sweep(prefix, now);
  }

  /** Bytes held. */
  get size(): number {
    return this.bytes;
  }

  // read, stat, delete and byte writes answer synchronously: nothing here can hang, so the
  // core arms no timeout for them (see StorageDriver).
  read(key: string, ctx?: DriverContext): StoredEntry | undefined {
    const r = this.live(key);
    if (!r) return undefined;
    // A fresh copy of the bytes: callers may change what they get without changing what is stored.
    const data = copyBytes(r.data);
    // A read whose info never reaches the caller (`get`, `getBytes`, `getText`, `getJSON`)
    // decodes the bytes by the record's value and content type: the record stands in for the
    // info (no Date, no metadata copy per read).
    const reads = ctx?.reads;
    return { info: reads === undefined || reads === "entry" ? infoOf(key, r) : (r as unknown as ObjectInfo), data };
  }

  /**
   * A ranged read copies only the range (the core's default would copy the whole value and
   * slice it: an 8-byte tail read of a 64 MiB value copied 64 MiB).
   */
  readStream(key: string, range: { start?: number | undefined; end?: number | undefined }): Promise<StoredStream | undefined> {
    const r = this.live(key);
    if (!r) return Promise.resolve(undefined);
    const size = r.data.byteLength;
    const from = Math.min(range.start ?? 0, size);
    const to = range.end === undefined ? size : Math.max(from, Math.min(range.end + 1, size));
    const chunk = copyBytes(r.data.subarray(from, to));
    return Promise.resolve({ info: infoOf(key, r), stream: Readable.from([chunk], { objectMode: false }) });
  }

  stat(key: string): ObjectInfo | undefined {
    const r = this.live(key);
    return r && infoOf(key, r);
  }

  exists(key: string): boolean {
    return this.live(key) !== undefined;
  }

  write(key: string, req: WriteRequest, ctx: DriverContext): ObjectInfo | Promise<ObjectInfo> {
    if (req.body instanceof Uint8Array) {
      // The core's `put` already copied the caller's buffer (or encoded a string / JSON value
      // into new bytes), so the body is private: keep it. A small body may be a view into a
      // shared pool slab (Buffer.from of a short string) or a larger buffer; it is copied
      // to its exact size so that the store keeps no slab alive. A driver called directly
      // (copy fallback) gets bytes it does not own: those are copied too.
      const body = req.body;
      const exact = req.owned === true && body.byteOffset === 0 && body.buffer.byteLength === body.byteLength;
      return this.commit(key, exact ? Buffer.from(body.buffer, 0, body.byteLength) : copyBytes(body), req);
    }
    return this.writeStream(key, req.body, req, ctx);
  }

  private async writeStream(key: string, body: AsyncIterable<Uint8Array>, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    // Chunks are handed over, as Node's own streams assume (see `WriteRequest.body`): they
    // are held as they come and copied once, into the stored value.
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of body) {
      ctx.signal.throwIfAborted();
      chunks.push(chunk);
      total += chunk.byteLength;
      if (this.bytes + total > this.capacity && (this.sweep("", this.now()) === 0 || this.bytes + total > this.capacity)) throw this.full(total);
    }
    // Checked after the body is complete: an aborted or failed stream stores nothing.
    ctx.signal.throwIfAborted();
    return this.commit(key, Buffer.concat(chunks, total), req);
  }

  /** Stores a complete value, checking conditions and capacity first. */
  private commit(key: string, data: Buffer, req: WriteRequest): ObjectInfo {
    // An expired value is absent here too, so a create-only write may take its place.
    const previous = this.live(key);
    if (req.ifNoneMatch === "*" && previous) throw new StorageConflictError("Key already exists (ifNoneMatch)");
    if (req.ifMatch !== undefined && previous?.etag !== req.ifMatch) {
      throw new StorageConflictError(previous ? "Etag does not match (ifMatch)" : "Key does not exist (ifMatch)");
    }
    const delta = data.byteLength - (previous?.size ?? 0);
    // Space held by expired values is reclaimed before a write is refused.
    if (this.bytes + delta > this.capacity && (this.sweep("", this.now()) === 0 || this.bytes + delta > this.capacity)) throw this.full(data.byteLength);
    const record: Record_ = {
      data,
      size: data.byteLength,
      modified: Date.now(),
      etag: `"m${(++etagCounter).toString(36)}"`,
      contentType: req.contentType,
      // The core built this object for this call; nobody else holds it.
      metadata: req.metadata,
      valueType: req.valueType,
      expiresAt: req.expiresAt === undefined ? undefined : new Date(req.expiresAt),
    };
    this.records.set(key, record);
    this.bytes += delta;
    if (!previous) this.sorted = undefined;
    return infoOf(key, record);
  }

  private full(size: number): StorageQuotaError {
    return new StorageQuotaError(`Memory storage capacity of ${this.capacity} bytes exceeded by a value of ${size} bytes`);
  }

  delete(key: string): void {
    const r = this.records.get(key);
    if (!r) return;
    this.records.delete(key);
    this.bytes -= r.size;
    this.sorted = undefined;
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.delete(key);
  }

  async copy(from: string, to: string): Promise<boolean> {
    const r = this.live(from);
    if (!r) return false;
    const previous = this.records.get(to);
    const delta = r.size - (previous?.size ?? 0);
    if (this.bytes + delta > this.capacity) throw this.full(r.size);
    // Stored buffers are never mutated, so the copy may share it.
    this.records.set(to, { ...r, metadata: { ...r.metadata }, modified: Date.now(), etag: `"m${(++etagCounter).toString(36)}"` });
    this.bytes += delta;
    if (!previous) this.sorted = undefined;
    return true;
  }

  /**
   * A rename: the record, etag included, moves to the new key, as a file rename keeps the
   * file's identity. A retry layer that lost a move's response proves the move happened by
   * finding the source's etag at the destination.
   */
  async move(from: string, to: string): Promise<boolean> {
    const r = this.records.get(from);
    if (!r) return false;
    const previous = this.records.get(to);
    this.records.delete(from);
    this.records.set(to, r);
    this.bytes -= previous?.size ?? 0;
    this.sorted = undefined;
    return true;
  }

  async list(prefix: string, page: ListPageRequest): Promise<ListPage> {
    if (!this.sorted) this.sorted = sortKeys([...this.records.keys()]);
    const keys = this.sorted;
    // Binary search for the first key after the cursor, or the first key >= prefix.
    const after = page.cursor;
    const target = after !== undefined && compareKeys(after, prefix) >= 0 ? after : prefix;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys(keys[mid]!, target);
      if (c < 0 || (c === 0 && after !== undefined && target === after)) lo = mid + 1;
      else hi = mid;
    }
    const items: ListPage["items"] = [];
    let i = lo;
    for (; i < keys.length && items.length < page.limit; i++) {
      const key = keys[i]!;
      if (!key.startsWith(prefix)) break;
      const r = this.records.get(key);
      if (!r) continue;
      // `list()` wants keys only: no Date per entry.
      // The deadline goes with every entry (keys-only too): the core leaves out expired ones.
      if (page.keysOnly) items.push(r.expiresAt ? { key, size: r.size, lastModified: NO_DATE, expiresAt: new Date(r.expiresAt.getTime()) } : { key, size: r.size, lastModified: NO_DATE });
      else items.push({ key, size: r.size, lastModified: new Date(r.modified), etag: r.etag, expiresAt: r.expiresAt && new Date(r.expiresAt.getTime()) });
    }
    const more = i < keys.length && keys[i]!.startsWith(prefix);
    return more && items.length > 0 ? { items, cursor: items[items.length - 1]!.key } : { items };
  }

  async close(): Promise<void> {
    this.records.clear();
    this.sorted = [];
    this.bytes = 0;
  }
}

/**
 * A storage held in this process's memory. Values are isolated by copy: changing a buffer
 * or object after `put`, or a value returned by `get`, never changes what is stored.
 * Nothing survives the process; `close()` drops everything.
 *
 * @example
 * const storage = new MemoryStorage({ capacity: 64 * 1024 * 1024 });
 * await storage.put("user", { name: "John" });
 */
export class MemoryStorage extends BaseStorage {
  protected declare readonly driver: MemoryDriver;

  constructor(options: MemoryStorageOptions = {}) {
    checkOptionNames(options, ["capacity", "timeout", "maxSize"], "MemoryStorage");
    const capacity = options.capacity ?? Number.POSITIVE_INFINITY;
    if (typeof capacity !== "number" || Number.isNaN(capacity) || capacity < 0) {
      throw new StorageValidationError("Invalid option capacity: expected a non-negative number of bytes", { backend: "memory" });
    }
    super(new MemoryDriver(capacity, options.clock), options);
  }

  /** Bytes of values held. */
  get bytesUsed(): number {
    return this.driver.size;
  }
}
