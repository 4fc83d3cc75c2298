import { Readable } from "node:stream";
import {
  checkOptionNames,
  copyBytes,
  type DriverContext,
  ForwardingDriver,
  inferValueType,
  isStorageError,
  type LayerOptions,
  LayerStorage,
  NEVER_ABORTED,
  type ObjectInfo,
  type Storage,
  type StorageCapabilities,
  type StorageDriver,
  type MaybePromise,
  type StorageErrorCode,
  type StoredEntry,
  type StoredStream,
  StorageValidationError,
  type WriteRequest,
  type ReadUse,
  stackOptions,
} from "@pepperpy/storage-core";
import { LRUCache } from "lru-cache";

/** Options of {@link CachedStorage}. */
export interface CachedStorageOptions extends Omit<LayerOptions, "clock"> {
  /** Most entries held (default 1000). */
  cacheSize?: number | undefined;
  /**
   * Most bytes of values held (values plus a small per-entry overhead). A value larger
   * than this is never cached. Default: bounded by `cacheSize` only.
   */
  maxBytes?: number | undefined;
  /**
   * Milliseconds an entry stays valid. Writes through this layer are never followed by a
   * stale read; `ttl` bounds how long a write made by another process (or directly on
   * the backend) can go unseen. Default: no expiry.
   */
  ttl?: number | undefined;
  /** Also remember that a key is missing (until a write through this layer or `ttl`). Default false. */
  negative?: boolean | undefined;
  /**
   * Clock; tests inject one. A function is the storage clock of every layer (epoch
   * milliseconds, see `BaseStorageOptions.clock`): it times both the cache's `ttl` and
   * value expiry. An object `{ now() }` (milliseconds, monotonic) times only `ttl`.
   * Default `performance` for `ttl`, `Date.now` for expiry.
   */
  clock?: (() => number) | { now(): number } | undefined;
}

/** Counters of a {@link CachedStorage}. */
export interface CacheStats {
  /** Reads answered from the cache (including remembered misses). */
  hits: number;
  /** Reads that had to ask the backend (or join a read already asking it). */
  misses: number;
  /** Entries dropped to respect `cacheSize` / `maxBytes` (not expiry, not invalidation). */
  evictions: number;
  /** Entries dropped because their `ttl` ran out. */
  expirations: number;
  /** Backend reads made to fill the cache (concurrent misses of one key share one). */
  loads: number;
  /** Entries held now. */
  entries: number;
  /** Bytes accounted now. */
  bytes: number;
  /** `hits / (hits + misses)`, 0 before any read. */
  hitRatio: number;
}

/** Bytes charged per entry on top of its value, so tiny values still count (key, info, bookkeeping). */
const ENTRY_OVERHEAD = 256;

/** The cached marker of a key known to be missing. */
const MISSING = Symbol("missing");
type Cached = StoredEntry | typeof MISSING;

/**
 * Errors after which the backend certainly did not change, so a failed write may leave
 * the cache as it was. Anything else (timeouts, I/O, partial writes) may or may not have
 * reached the backend, and the entry is dropped.
 */
const UNCHANGED_ON_FAILURE: ReadonlySet<StorageErrorCode> = new Set(["VALIDATION", "CONFLICT", "PERMISSION", "UNSUPPORTED", "QUOTA", "NOT_FOUND", "CONFIG"]);

/** One backend read that concurrent misses of a key share. */
interface Load {
  key: string;
  promise: Promise<StoredEntry | undefined>;
  /** Aborts the backend read once every caller waiting for it has given up. */
  controller: AbortController;
  waiters: number;
  /** Set when a write to the key overlapped this read: its result must not be cached. */
  stale: boolean;
}

function copyInfo(info: ObjectInfo): ObjectInfo {
  return { ...info, lastModified: new Date(info.lastModified.getTime()), metadata: { ...info.metadata } };
}

function positiveInteger(name: string, value: unknown, allowUndefined = true): number | undefined {
  if (value === undefined && allowUndefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 1) {
    throw new StorageValidationError(`Invalid option ${name}: expected a positive number`, { backend: "cache" });
  }
  return Math.floor(value);
}

/**
 * The driver of {@link CachedStorage}: reads go through an LRU of `StoredEntry`s,
 * writes invalidate. Everything else is forwarded.
 *
 * Staleness: every write, delete, copy target or move through the layer drops the
 * key's entry when it completes and marks any read of that key still in flight as
 * stale, so a read that started before the write can never put the old value back.
 * Reads that overlap a write may see the old or the new value, as without a cache.
 */
export class CacheDriver extends ForwardingDriver {
  private readonly lru: LRUCache<string, Cached>;
  private readonly loads = new Map<string, Load>();
  /** Keys with writes in flight, and how many. */
  private readonly writing = new Map<string, number>();
  private readonly negative: boolean;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;
  private loadCount = 0;

  /** The inner storage's, except that a cache hit answers from memory without yielding to the event loop. */
  override get capabilities(): StorageCapabilities {
    return { ...this.inner.capabilities, yieldsToEventLoop: false };
  }

  /** The expiry clock (epoch ms): a cached value is never served from its deadline on. */
  private readonly now: () => number;

  /**
   * @param inner - the driver (or storage) the cache is in front of
   * @param options - the cache's options; without a clock it uses the one of the storage underneath
   */
  constructor(inner: StorageDriver | Storage, options: Omit<CachedStorageOptions, "backend" | "timeout" | "maxSize" | "defaultTtl">) {
    super(inner, "cache");
    const clock = options.clock;
    this.now = typeof clock === "function" ? clock : (stackOptions(this.inner).clock ?? Date.now);
    const max = positiveInteger("cacheSize", options.cacheSize ?? 1000, false)!;
    const maxBytes = positiveInteger("maxBytes", options.maxBytes);
    if (options.ttl !== undefined && (typeof options.ttl !== "number" || !(options.ttl > 0))) {
      throw new StorageValidationError("Invalid option ttl: expected a positive number of milliseconds", { backend: "cache" });
    }
    this.negative = options.negative === true;
    this.lru = new LRUCache<string, Cached>({
      max,
      ...(maxBytes === undefined
        ? {}
        : {
            maxSize: maxBytes,
            sizeCalculation: (value) => (value === MISSING ? ENTRY_OVERHEAD : value.data.byteLength + ENTRY_OVERHEAD),
          }),
      ...(options.ttl === undefined ? {} : { ttl: options.ttl, ttlAutopurge: false }),
        // An injected clock is read on every check, not cached for a millisecond.
      ...(clock ? { perf: typeof clock === "function" ? { now: clock } : clock, ttlResolution: 0 } : {}),
      dispose: (_value, _key, reason) => {
        if (reason === "evict") this.evictions++;
        else if (reason === "expire") this.expirations++;
      },
    });
  }

  /** Counters and sizes; see {@link CacheStats}. */
  stats(): CacheStats {
    const lookups = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      expirations: this.expirations,
      loads: this.loadCount,
      entries: this.lru.size,
      bytes: this.lru.calculatedSize ?? 0,
      hitRatio: lookups === 0 ? 0 : this.hits / lookups,
    };
  }

  /** Zeroes the counters (not the entries). */
  resetStats(): void {
    this.hits = this.misses = this.evictions = this.expirations = this.loadCount = 0;
  }

  /** Drops one key's entry, or every entry; reads in flight will not refill them. */
  invalidate(key?: string): void {
    if (key === undefined) {
      this.lru.clear();
      for (const load of this.loads.values()) load.stale = true;
      this.loads.clear();
      return;
    }
    this.lru.delete(key);
    this.detachLoad(key);
  }

  private detachLoad(key: string): void {
    const load = this.loads.get(key);
    if (load) {
      load.stale = true;
      this.loads.delete(key);
    }
  }

  /**
   * Hands out a cached entry. The cached buffer is shared, so callers that could keep or
   * change the bytes get a copy; operations that only decode them get the buffer itself.
   */
  /** What of a cached entry may leave the cache for this read (see `DriverContext.reads`): copies of what the caller may keep. */
  private handOut(entry: StoredEntry, reads: ReadUse | undefined): StoredEntry {
    switch (reads) {
      case "decoded":
        return entry;
      case "value":
        // `get` hands the caller only the decoded value, never the info: the cached info is
        // shared as is, and the bytes are copied only when they are handed out as bytes.
        return inferValueType(entry.info) === "bytes" ? { info: entry.info, data: copyBytes(entry.data) } : entry;
      case "bytes":
        return { info: entry.info, data: copyBytes(entry.data) };
      default:
        return { info: copyInfo(entry.info), data: copyBytes(entry.data) };
    }
  }

  /**
   * The cached entry of `key`, unless its value has expired (SPEC §11: the cache never
   * serves past a value's deadline). An expired entry is dropped and the read goes to the
   * backend, which may hold a newer value written elsewhere.
   */
  private lookup(key: string): Cached | undefined {
    const cached = this.lru.get(key);
    if (cached === undefined || cached === MISSING) return cached;
    const deadline = cached.info.expiresAt;
    if (deadline !== undefined && deadline.getTime() <= this.now()) {
      this.lru.delete(key);
      this.expirations++;
      return undefined;
    }
    return cached;
  }

  override read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> | StoredEntry | undefined {
    const cached = this.lookup(key);
    if (cached !== undefined) {
      this.hits++;
      // Answered now: the core arms no deadline and makes no promise for a hit.
      return cached === MISSING ? undefined : this.handOut(cached, ctx.reads);
    }
    this.misses++;
    const load = this.loads.get(key) ?? this.startLoad(key, ctx.operation);
    return this.wait(load, ctx).then((entry) => entry && this.handOut(entry, ctx.reads));
  }

  /** Starts the backend read that misses of `key` share; errors name the public operation of the first miss. */
  private startLoad(key: string, operation: string): Load {
    const controller = new AbortController();
    const load: Load = { key, controller, waiters: 0, stale: false, promise: undefined as unknown as Promise<StoredEntry | undefined> };
    this.loadCount++;
    let read: Promise<StoredEntry | undefined>;
    try {
      // The entry is kept: the driver underneath hands out bytes and info of its own.
      read = Promise.resolve(this.inner.read(key, { signal: controller.signal, operation, reads: "entry" }));
    } catch (error) {
      read = Promise.reject(error);
    }
    load.promise = read.then(
      (entry) => {
        if (this.loads.get(key) === load) this.loads.delete(key);
        if (!load.stale && !controller.signal.aborted && !this.writing.has(key)) {
          if (entry) this.lru.set(key, entry);
          else if (this.negative) this.lru.set(key, MISSING);
        }
        return entry;
      },
      (error: unknown) => {
        // A failed read is never cached; the next miss tries the backend again.
        if (this.loads.get(key) === load) this.loads.delete(key);
        throw error;
      },
    );
    this.loads.set(key, load);
    return load;
  }

  /**
   * Waits for a shared read on behalf of one caller. The read runs on its own signal,
   * aborted only when every waiting caller has aborted, so one caller's timeout does not
   * fail the others.
   */
  private wait(load: Load, ctx: DriverContext): Promise<StoredEntry | undefined> {
    load.waiters++;
    const signal = ctx.signal;
    if (signal === NEVER_ABORTED) return load.promise;
    const onAbort = () => {
      if (--load.waiters === 0) {
        // Nobody wants this read any more: stop it, and let the next miss start afresh.
        if (this.loads.get(load.key) === load) this.loads.delete(load.key);
        load.controller.abort(signal.reason);
      }
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => signal.removeEventListener("abort", onAbort);
    load.promise.then(done, done);
    return load.promise;
  }

  override stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> | ObjectInfo | undefined {
    const cached = this.lookup(key);
    if (cached !== undefined) {
      this.hits++;
      // Answered now: a hit needs no promise.
      if (cached === MISSING) return undefined;
      return copyInfo(cached.info);
    }
    // A miss is forwarded but not filled: a stat must stay cheap for large values.
    this.misses++;
    return super.stat(key, ctx);
  }

  override exists(key: string, ctx: DriverContext): Promise<boolean> | boolean {
    const cached = this.lookup(key);
    if (cached !== undefined) {
      this.hits++;
      return cached !== MISSING;
    }
    // A miss is forwarded (one lstat on files) and not filled, like `stat`.
    this.misses++;
    return super.exists(key, ctx);
  }

  override readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const cached = this.lookup(key);
    if (cached === undefined) {
      // Streams are for values too large to hold; they are forwarded and never cached.
      this.misses++;
      return super.readStream(key, range, ctx);
    }
    this.hits++;
    if (cached === MISSING) return Promise.resolve(undefined);
    const size = cached.data.byteLength;
    const from = Math.min(range.start ?? 0, size);
    const to = range.end === undefined ? size : Math.max(from, Math.min(range.end + 1, size));
    const slice = Buffer.from(cached.data.subarray(from, to));
    return Promise.resolve({ info: copyInfo(cached.info), stream: Readable.from([slice], { objectMode: false }) });
  }

  /**
   * Runs a write of `keys`. While it runs, reads of those keys are not cached; when it
   * ends the entries are dropped, unless it failed with an error after which the backend
   * certainly did not change (then the cache is left as it was).
   */
  private async guardWrite<T>(keys: readonly string[], fn: () => MaybePromise<T>): Promise<T> {
    for (const key of keys) this.writing.set(key, (this.writing.get(key) ?? 0) + 1);
    let unchanged = false;
    try {
      return await fn();
    } catch (error) {
      unchanged = isStorageError(error) && UNCHANGED_ON_FAILURE.has(error.code);
      throw error;
    } finally {
      for (const key of keys) {
        const n = (this.writing.get(key) ?? 1) - 1;
        if (n === 0) this.writing.delete(key);
        else this.writing.set(key, n);
        this.detachLoad(key);
        if (!unchanged) this.lru.delete(key);
      }
    }
  }

  override write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    return this.guardWrite([key], () => super.write(key, req, ctx));
  }

  override delete(key: string, ctx: DriverContext): Promise<void> {
    return this.guardWrite([key], () => super.delete(key, ctx));
  }

  override deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return this.guardWrite(keys, () => super.deleteMany(keys, ctx));
  }

  override copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.guardWrite([to], () => super.copy(from, to, ctx));
  }

  override move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.guardWrite([from, to], () => super.move(from, to, ctx));
  }

  /** Purged keys leave the cache too (they were expired, so never served, but they hold memory). */
  override purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    const expired: string[] = [];
    for (const [key, value] of this.lru.entries()) {
      if (key.startsWith(prefix) && value !== MISSING && value.info.expiresAt !== undefined && value.info.expiresAt.getTime() <= now) expired.push(key);
    }
    // Deleted after the walk, not during it.
    for (const key of expired) this.lru.delete(key);
    return super.purgeExpired(prefix, now, ctx);
  }

  override async close(): Promise<void> {
    this.invalidate();
    await super.close();
  }
}

/**
 * A read cache in front of any storage: an LRU of values with their info, bounded by
 * entries and optionally bytes and age.
 *
 * Guarantees: concurrent misses of one key make one backend read; a write or delete
 * through this layer is never followed by a stale read (also when a read of the same key
 * was in flight); a failed read is not cached; a failed write leaves the cache as it was
 * when the backend certainly did not change, and drops the entry otherwise; values handed
 * out are copies, so changing them never changes the cache.
 *
 * @example
 * const storage = new CachedStorage({ backend: new FileStorage("/data"), cacheSize: 1000, ttl: 60_000 });
 */
export class CachedStorage extends LayerStorage<CacheDriver> {
  constructor(options: CachedStorageOptions) {
    checkOptionNames(options, ["backend", "cacheSize", "maxBytes", "ttl", "negative", "clock", "timeout", "maxSize"], "CachedStorage");
    if (!options?.backend) throw new StorageValidationError("CachedStorage needs { backend }", { backend: "cache" });
    const { backend, timeout, maxSize, defaultTtl, ...cacheOptions } = options;
    const clock = typeof cacheOptions.clock === "function" ? cacheOptions.clock : undefined;
    super(new CacheDriver(backend, cacheOptions), { timeout, maxSize, defaultTtl, clock, backend });
  }

  /** Hit, miss, eviction and load counters, entries and bytes held. */
  getCacheStats(): CacheStats {
    return this.driver.stats();
  }

  /** Zeroes the counters. */
  resetCacheStats(): void {
    this.driver.resetStats();
  }

  /**
   * Forgets one key, or everything. For writes this layer did not see (another process)
   * when `ttl` is too long to wait for.
   */
  invalidate(key?: string): void {
    this.driver.invalidate(key);
  }
}
