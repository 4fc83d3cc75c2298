import {
  checkOptionNames,
  type BaseStorageOptions,
  type DriverContext,
  ForwardingDriver,
  LayerStorage,
  type ListPage,
  type ObjectInfo,
  type Storage,
  type StorageDriver,
  StorageUnavailableError,
  type StoredEntry,
  type StoredStream,
  type WriteRequest,
  abortableSleep,
} from "@pepperpy/storage-core";

/** The driver calls a fault can hit (the backend contract, not the public methods). */
export type FaultOperation = "read" | "readStream" | "stat" | "write" | "delete" | "list" | "copy" | "move" | "deleteMany";

/** What a fault predicate or error factory is told about the call. */
export interface FaultCall {
  /** The driver call. */
  operation: FaultOperation;
  /** The public operation that led to it (`get`, `getMany`, `put`, …). */
  publicOperation: string;
  /** The key, or the prefix of `list`, or the source of `copy`/`move`; undefined for `deleteMany`. */
  key: string | undefined;
  /** 1-based number of this driver call on this storage (counting every operation). */
  call: number;
}

/** Options of {@link FaultStorage} and {@link withFaults}. */
export interface FaultOptions {
  /**
   * Delay before every driver call, in ms: a number, or `[min, max]` drawn from the
   * seeded generator. An abort or timeout of the call ends the wait.
   */
  latency?: number | readonly [number, number] | undefined;
  /** Probability (0..1) that a call fails, drawn from the seeded generator. */
  failureRate?: number | undefined;
  /**
   * Calls that fail for sure: `{ call: N }` (or a list of call numbers, 1-based, counting
   * every driver call on this storage), or a predicate.
   */
  failOn?: { call: number | readonly number[] } | ((call: FaultCall) => boolean) | undefined;
  /** Restricts latency and failures to these driver calls (default: all). */
  operations?: readonly FaultOperation[] | undefined;
  /**
   * Builds the injected error. Default: a retryable `StorageUnavailableError`
   * ("Injected fault …"), the kind of failure a network blip produces.
   */
  error?: ((call: FaultCall) => unknown) | undefined;
  /** Seed of the generator behind `failureRate` and latency ranges (default 1): the same seed gives the same faults. */
  seed?: number | undefined;
  /**
   * Where a failure strikes. `"request"` (default): before the call reaches the backend, so
   * a failed write stores nothing. `"response"`: after the backend did the call, as a lost
   * response — the write, delete or move happened, and the caller gets the injected error
   * instead of its result. This is the ambiguous failure retries of non-idempotent
   * operations must survive.
   */
  lose?: "request" | "response" | undefined;
}

/** mulberry32: a tiny, fast, seedable generator; quality is plenty for fault injection. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkOptions(o: FaultOptions): void {
  const bad = (what: string) => {
    throw new RangeError(`withFaults: invalid ${what}`);
  };
  if (o.failureRate !== undefined && !(o.failureRate >= 0 && o.failureRate <= 1)) bad("failureRate (expected 0..1)");
  if (typeof o.latency === "number" && !(o.latency >= 0)) bad("latency (expected ms >= 0)");
  if (Array.isArray(o.latency)) {
    const [min, max] = o.latency as [number, number];
    if (!(min >= 0 && max >= min)) bad("latency range (expected [min, max] with 0 <= min <= max)");
  }
}

/** Counters of a {@link FaultStorage}. */
export interface FaultStats {
  /** Driver calls seen. */
  calls: number;
  /** Faults injected (failed calls). */
  injected: number;
  /** Injected faults per driver operation. */
  byOperation: Partial<Record<FaultOperation, number>>;
}

/** The fault-injecting driver: waits, maybe fails, then forwards. */
export class FaultDriver extends ForwardingDriver {
  /** While false, calls pass through untouched (and are not counted). */
  enabled = true;
  readonly stats: FaultStats = { calls: 0, injected: 0, byOperation: {} };
  private readonly options: FaultOptions;
  private readonly random: () => number;

  constructor(inner: StorageDriver | Storage, options: FaultOptions = {}) {
    super(inner, "faults");
    checkOptions(options);
    this.options = options;
    this.random = seededRandom(options.seed ?? 1);
  }

  /**
   * Runs one driver call with its faults: latency, then either the injected error instead
   * of the call, or (`lose: "response"`) the call followed by the injected error.
   */
  private async around<T>(operation: FaultOperation, key: string | undefined, ctx: DriverContext, call: () => Promise<T> | T): Promise<T> {
    const error = await this.inject(operation, key, ctx);
    if (error === undefined) return call();
    if (this.options.lose !== "response") throw error;
    await call();
    throw error;
  }

  /** Applies latency; returns the error to inject for this call, if any. */
  private async inject(operation: FaultOperation, key: string | undefined, ctx: DriverContext): Promise<unknown> {
    if (!this.enabled) return undefined;
    const o = this.options;
    if (o.operations && !o.operations.includes(operation)) return undefined;
    const call: FaultCall = { operation, publicOperation: ctx.operation, key, call: ++this.stats.calls };
    // Draw in a fixed order so a seed gives the same sequence whatever the options.
    const latencyDraw = this.random();
    const failureDraw = this.random();
    if (o.latency !== undefined) {
      const ms = typeof o.latency === "number" ? o.latency : o.latency[0] + latencyDraw * (o.latency[1] - o.latency[0]);
      await abortableSleep(ms, ctx.signal);
    }
    let fail = o.failureRate !== undefined && failureDraw < o.failureRate;
    if (!fail && o.failOn !== undefined) {
      if (typeof o.failOn === "function") fail = o.failOn(call);
      else {
        const n = o.failOn.call;
        fail = typeof n === "number" ? n === call.call : n.includes(call.call);
      }
    }
    if (!fail) return undefined;
    this.stats.injected++;
    this.stats.byOperation[operation] = (this.stats.byOperation[operation] ?? 0) + 1;
    if (o.error) return o.error(call);
    // Before the request, the fault proves nothing was applied; a lost response proves nothing.
    return o.lose === "response"
      ? new StorageUnavailableError(`Injected lost response in ${operation} (call ${call.call})`, { key, operation: ctx.operation, backend: this.name })
      : new StorageUnavailableError(`Injected fault in ${operation} (call ${call.call})`, { key, operation: ctx.operation, backend: this.name, applied: false });
  }

  override read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    return this.around("read", key, ctx, () => super.read(key, ctx));
  }
  override readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    return this.around("readStream", key, ctx, () => super.readStream(key, range, ctx));
  }
  override stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    return this.around("stat", key, ctx, () => super.stat(key, ctx));
  }
  /** Faults of `exists` are configured as `stat` faults (both ask whether a key is there). */
  override exists(key: string, ctx: DriverContext): Promise<boolean> {
    return this.around("stat", key, ctx, () => super.exists(key, ctx));
  }
  override write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    return this.around("write", key, ctx, () => super.write(key, req, ctx));
  }
  override delete(key: string, ctx: DriverContext): Promise<void> {
    return this.around("delete", key, ctx, () => super.delete(key, ctx));
  }
  override list(prefix: string, page: { cursor?: string | undefined; limit: number }, ctx: DriverContext): Promise<ListPage> {
    return this.around("list", prefix, ctx, () => super.list(prefix, page, ctx));
  }
  override copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.around("copy", from, ctx, () => super.copy(from, to, ctx));
  }
  override move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.around("move", from, ctx, () => super.move(from, to, ctx));
  }
  override deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return this.around("deleteMany", undefined, ctx, () => super.deleteMany(keys, ctx));
  }
}

/** Options of the {@link FaultStorage} constructor. */
export interface FaultStorageOptions extends FaultOptions, BaseStorageOptions {
  /** The storage to inject faults in front of. */
  backend: Storage;
}

/**
 * A layer that injects latency and failures in front of any storage, deterministically
 * from a seed, so tests of retries, composites, caches and timeouts run against real
 * failures of the backend contract instead of mocks. The injected error is thrown before
 * the call reaches the backend (a failed write stores nothing), or with `lose: "response"`
 * after the backend did the call (a lost response). Named `faults(<inner>)`.
 *
 * @example
 * const flaky = withFaults(new MemoryStorage(), { failureRate: 0.3, seed: 42 });
 * const storage = new RetryStorage({ backend: flaky, maxRetries: 5, delay: 1 });
 */
/** The option names of {@link FaultStorageOptions} besides the common ones (the compiler checks the list is complete). */
const FAULT_STORAGE_OPTION_NAMES = Object.keys({
  backend: true, latency: true, failureRate: true, failOn: true, operations: true, error: true, seed: true, lose: true,
} satisfies Record<Exclude<keyof FaultStorageOptions, keyof BaseStorageOptions>, true>);

export class FaultStorage extends LayerStorage<FaultDriver> {
  constructor(options: FaultStorageOptions) {
    checkOptionNames(options, FAULT_STORAGE_OPTION_NAMES, "FaultStorage");
    const { backend, timeout, maxSize, defaultTtl, clock, ...faults } = options;
    super(new FaultDriver(backend, faults), { timeout, maxSize, defaultTtl, clock });
  }

  /** Calls seen and faults injected so far. */
  get stats(): Readonly<FaultStats> {
    return this.driver.stats;
  }

  /** Faults injected so far. */
  get injectedFaults(): number {
    return this.driver.stats.injected;
  }

  /** While false, calls pass straight through (for setting up data, then turning faults on). */
  get enabled(): boolean {
    return this.driver.enabled;
  }
  set enabled(value: boolean) {
    this.driver.enabled = value;
  }
}

/** Wraps `storage` in a {@link FaultStorage}. */
export function withFaults(storage: Storage, options: Omit<FaultStorageOptions, "backend"> = {}): FaultStorage {
  return new FaultStorage({ ...options, backend: storage });
}
