import {
  checkOptionNames,
  type DriverContext,
  ForwardingDriver,
  fromNodeError,
  type LayerOptions,
  LayerStorage,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  type Storage,
  type StorageDriver,
  type MaybePromise,
  NEVER_ABORTED,
  type StorageError,
  type StorageErrorCode,
  StorageOutcomeUnknownError,
  StorageTimeoutError,
  type StoredEntry,
  type StoredStream,
  StorageValidationError,
  type WriteRequest,
  abortableSleep,
} from "@pepperpy/storage-core";

/** What `onRetry` is told before each sleep. */
export interface RetryEvent {
  /** The error of the attempt that just failed. */
  error: StorageError;
  /** The attempt that failed (1 for the first call). */
  attempt: number;
  /** Milliseconds the layer will sleep before the next attempt. */
  delay: number;
  /** The public operation (`get`, `put`, …). */
  operation: string;
  /** The key, when the operation has one. */
  key: string | undefined;
}

/** The settings a {@link RetryStorage} runs with (defaults filled in). */
export interface RetryPolicy {
  maxRetries: number;
  /** Limit of one attempt in ms; `0`: none. */
  attemptTimeout: number;
  delay: number;
  maxDelay: number;
  budget: number;
  budgetRefill: number;
}

/** Options of {@link RetryStorage}. */
export interface RetryStorageOptions extends LayerOptions {
  /** Retries after the first attempt (default 3; 0 disables retrying). */
  maxRetries?: number | undefined;
  /** Base delay in milliseconds: attempt `n` sleeps a random time in `[0, min(maxDelay, delay * 2^(n-1)))` (default 1000). */
  delay?: number | undefined;
  /** Cap of one sleep in milliseconds (default 30 000). */
  maxDelay?: number | undefined;
  /**
   * Retry budget: a token bucket of this many retries, shared by every call through this
   * layer. Each retry spends a token; each call that succeeds puts back `budgetRefill`.
   * Once the bucket is empty, failures are returned at once instead of retried, so a long
   * outage does not multiply the load on a struggling backend. Default 100;
   * `Infinity` disables the budget.
   */
  budget?: number | undefined;
  /** Tokens a successful call puts back (default 0.1: ten successes pay for one retry). */
  budgetRefill?: number | undefined;
  /** Called before each sleep (logging, metrics). A throwing callback is ignored. */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Source of randomness in `[0, 1)` for the jitter (default `Math.random`); tests inject one. */
  random?: (() => number) | undefined;
  /**
   * Limit of one attempt in milliseconds (default: none). The stack's timeout bounds the
   * whole call, retries and sleeps included; this bounds each attempt, so a hung attempt
   * is aborted with a retryable `StorageTimeoutError` and retried while the call's time
   * lasts. It covers opening a stream, not reading it.
   */
  attemptTimeout?: number | undefined;
}

/** Errors that are never retried, whatever their `retryable` says: trying again cannot help. */
const NEVER_RETRIED: ReadonlySet<StorageErrorCode> = new Set([
  "VALIDATION",
  "NOT_FOUND",
  "PERMISSION",
  "CONFLICT",
  "INTEGRITY",
  "ABORTED",
  "CONFIG",
  "UNSUPPORTED",
  "OUTCOME_UNKNOWN",
]);

/** A move is proven done when the destination holds the object the source held: the same etag and size. */
function sameObject(before: ObjectInfo, now: ObjectInfo): boolean {
  return before.etag !== undefined && now.etag === before.etag && now.size === before.size;
}

function option(name: string, value: unknown, fallback: number, { integer = false, allowZero = true } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0 || (!allowZero && value === 0) || (integer && Number.isFinite(value) && !Number.isInteger(value))) {
    throw new StorageValidationError(`Invalid option ${name}: expected a ${allowZero ? "non-negative" : "positive"} ${integer ? "integer" : "number"}`, {
      backend: "retry",
    });
  }
  return value;
}

/**
 * The driver of {@link RetryStorage}: every backend call is retried on errors marked
 * `retryable`, with exponential backoff and full jitter, within a shared retry budget
 * and the caller's signal.
 */
export class RetryDriver extends ForwardingDriver {
  private readonly maxRetries: number;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly capacity: number;
  private readonly refill: number;
  private tokens: number;
  private readonly onRetry: RetryStorageOptions["onRetry"];
  private readonly random: () => number;
  private readonly attemptTimeout: number;

  constructor(inner: StorageDriver | Storage, options: Omit<RetryStorageOptions, "backend" | "timeout" | "maxSize">) {
    super(inner, "retry");
    this.maxRetries = option("maxRetries", options.maxRetries, 3, { integer: true });
    this.baseDelay = option("delay", options.delay, 1000);
    this.maxDelay = option("maxDelay", options.maxDelay, 30_000);
    this.capacity = option("budget", options.budget, 100);
    this.refill = option("budgetRefill", options.budgetRefill, 0.1);
    this.tokens = this.capacity;
    this.onRetry = options.onRetry;
    this.random = options.random ?? Math.random;
    const attemptTimeout = option("attemptTimeout", options.attemptTimeout, 0);
    // Infinity means none (a timer cannot wait that long).
    this.attemptTimeout = Number.isFinite(attemptTimeout) ? attemptTimeout : 0;
  }

  /** Retries left in the budget now. */
  get budgetRemaining(): number {
    return this.tokens;
  }

  /** The settings in force. */
  get policy(): RetryPolicy {
    return { maxRetries: this.maxRetries, attemptTimeout: this.attemptTimeout, delay: this.baseDelay, maxDelay: this.maxDelay, budget: this.capacity, budgetRefill: this.refill };
  }

  /** The upper bound of the sleep before retry number `attempt` (1-based): `min(maxDelay, delay * 2^(attempt-1))`. */
  delayCap(attempt: number): number {
    return Math.min(this.maxDelay, this.baseDelay * 2 ** (attempt - 1));
  }

  /** Full jitter: a whole number of milliseconds drawn uniformly from `[0, cap)` (0 when the cap is 0). */
  nextDelay(attempt: number): number {
    const cap = this.delayCap(attempt);
    return Math.min(Math.floor(this.random() * cap), Math.max(0, Math.ceil(cap) - 1));
  }

  /**
   * Runs `fn` until it succeeds, fails with an error not worth retrying, runs out of
   * retries or budget, or the caller's signal aborts (sleeps included).
   *
   * The error that ends the loop keeps its class and gets `attempts`; when it was
   * retryable but this layer gave up, `retryable` is set to false, so an outer retry
   * layer (or the caller's own loop) does not multiply the attempts.
   */
  private async withRetry<T>(ctx: DriverContext, key: string | undefined, fn: (ctx: DriverContext) => MaybePromise<T>, replayable = true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await (this.attemptTimeout > 0 ? this.timed(ctx, fn) : fn(ctx));
        if (this.tokens < this.capacity) this.tokens = Math.min(this.capacity, this.tokens + this.refill);
        return result;
      } catch (thrown) {
        const error = fromNodeError(thrown, { operation: ctx.operation, key });
        const worthRetrying = error.retryable === true && !NEVER_RETRIED.has(error.code);
        if (!worthRetrying) throw this.finish(error, attempt, false);
        if (!replayable || attempt > this.maxRetries || ctx.signal.aborted || this.tokens < 1) {
          throw this.finish(error, attempt, true);
        }
        this.tokens -= 1;
        const delay = this.nextDelay(attempt);
        if (this.onRetry) {
          try {
            this.onRetry({ error, attempt, delay, operation: ctx.operation, key });
          } catch {
            // A broken callback must not change what the call does.
          }
        }
        await abortableSleep(delay, ctx.signal);
      }
    }
  }

  /**
   * One attempt under {@link RetryStorageOptions.attemptTimeout}: its own signal, aborted by
   * the caller's or when the attempt's time is up; then the attempt fails with a retryable
   * `StorageTimeoutError`. A successful attempt keeps the caller's link (a stream it opened
   * still stops when the caller aborts).
   */
  private timed<T>(ctx: DriverContext, fn: (ctx: DriverContext) => MaybePromise<T>): Promise<T> {
    const controller = new AbortController();
    const outer = ctx.signal === NEVER_ABORTED ? undefined : ctx.signal;
    const onAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    const attemptCtx: DriverContext = { signal: controller.signal, operation: ctx.operation, reads: ctx.reads };
    const ms = this.attemptTimeout;
    return new Promise<T>((resolve, reject) => {
      const fail = (error: unknown) => {
        clearTimeout(timer);
        outer?.removeEventListener("abort", onAbort);
        reject(error);
      };
      const timer = setTimeout(() => {
        const error = new StorageTimeoutError(`An attempt timed out after ${ms} ms (attemptTimeout)`, { retryable: true, operation: ctx.operation, backend: this.name });
        controller.abort(error);
        fail(error);
      }, ms);
      new Promise<T>((r) => r(fn(attemptCtx))).then((result) => {
        clearTimeout(timer);
        resolve(result);
      }, fail);
    });
  }

  /** Whether the layer would retry this error (the failure may have happened before or after the backend acted). */
  private static worthRetrying(error: StorageError): boolean {
    return error.retryable === true && !NEVER_RETRIED.has(error.code);
  }

  private outcomeUnknown(detail: string, key: string, ctx: DriverContext, cause: StorageError): StorageOutcomeUnknownError {
    return new StorageOutcomeUnknownError(`${detail}; the outcome is unknown: read the key to learn its state`, {
      key,
      operation: ctx.operation,
      backend: this.name,
      cause,
    });
  }

  private finish(error: StorageError, attempts: number, gaveUp: boolean): StorageError {
    // An error that already went through a retry layer keeps the larger count.
    error.attempts = Math.max(error.attempts ?? 0, attempts);
    if (gaveUp) error.retryable = false;
    return error;
  }

  override read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    return this.withRetry(ctx, key, (c) => super.read(key, c));
  }

  override readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    // Opening the stream is retried; an error while it flows reaches the reader.
    return this.withRetry(ctx, key, (c) => super.readStream(key, range, c));
  }

  override stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    return this.withRetry(ctx, key, (c) => super.stat(key, c));
  }

  override exists(key: string, ctx: DriverContext): Promise<boolean> {
    return this.withRetry(ctx, key, (c) => super.exists(key, c));
  }

  override async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    if (!(req.body instanceof Uint8Array)) {
      // A stream was consumed by the failed attempt: it cannot be sent again, and whether
      // the backend stored it before the failure cannot be known.
      try {
        return await super.write(key, req, ctx);
      } catch (thrown) {
        const error = fromNodeError(thrown, { operation: ctx.operation, key });
        if (!RetryDriver.worthRetrying(error)) throw this.finish(error, 1, false);
        // The caller's abort or timeout stops the stream (the core then stores nothing), and
        // a failure that proves nothing was applied leaves no doubt.
        if (ctx.signal.aborted || error.applied === false) throw this.finish(error, 1, true);
        throw this.finish(this.outcomeUnknown(`A put of a stream failed (${error.code}: ${error.detail}) and cannot be retried`, key, ctx, error), 1, false);
      }
    }
    if (req.ifNoneMatch === undefined && req.ifMatch === undefined) return this.withRetry(ctx, key, (c) => super.write(key, req, c));
    // A conditional put after an ambiguous failure: if the first attempt did write, its
    // retry finds the condition failing because of that very write. A conflict then says
    // nothing about who wrote; a retry that succeeds is a true success.
    let ambiguous: StorageError | undefined;
    return this.withRetry(ctx, key, async (c) => {
      try {
        return await super.write(key, req, c);
      } catch (thrown) {
        const error = fromNodeError(thrown, { operation: ctx.operation, key });
        if (ambiguous && error.code === "CONFLICT") {
          const condition = req.ifNoneMatch !== undefined ? "ifNoneMatch" : "ifMatch";
          throw this.outcomeUnknown(
            `A conditional put (${condition}) failed (${ambiguous.code}: ${ambiguous.detail}) and its retry found the condition failing, which the first attempt may have caused`,
            key,
            ctx,
            ambiguous,
          );
        }
        if (RetryDriver.worthRetrying(error) && error.applied !== false) ambiguous ??= error;
        throw error;
      }
    });
  }

  override delete(key: string, ctx: DriverContext): Promise<void> {
    return this.withRetry(ctx, key, (c) => super.delete(key, c));
  }

  override list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    return this.withRetry(ctx, prefix || undefined, (c) => super.list(prefix, page, c));
  }

  override copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.withRetry(ctx, from, (c) => super.copy(from, to, c));
  }

  /**
   * A move is not idempotent: after an attempt whose response was lost, the source may be
   * gone because the move happened. So the source is looked at first (one `stat`), and
   * when a later attempt finds it gone, the destination decides: it holds the source's
   * etag and size → the move happened (success); otherwise → {@link StorageOutcomeUnknownError}.
   */
  override async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const before = await this.withRetry(ctx, from, (c) => super.stat(from, c));
    if (!before) return false;
    let ambiguous: StorageError | undefined;
    const settle = async (cause: StorageError): Promise<boolean> => {
      const now = await super.stat(to, ctx);
      if (now && sameObject(before, now)) return true;
      throw this.outcomeUnknown(
        `A move failed (${cause.code}: ${cause.detail}), and on retry the source was gone while the destination ${now ? "holds another object" : "is missing"}`,
        from,
        ctx,
        cause,
      );
    };
    return this.withRetry(ctx, from, async (c) => {
      if (ambiguous && !(await super.stat(from, c))) return settle(ambiguous);
      try {
        const moved = await super.move(from, to, c);
        if (!moved && ambiguous) return settle(ambiguous);
        return moved;
      } catch (thrown) {
        const error = fromNodeError(thrown, { operation: ctx.operation, key: from });
        if (RetryDriver.worthRetrying(error) && error.applied !== false) ambiguous ??= error;
        throw error;
      }
    });
  }

  override deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    return this.withRetry(ctx, undefined, (c) => super.deleteMany(keys, c));
  }
}

/**
 * Retries failed backend calls with exponential backoff and full jitter.
 *
 * Only errors marked `retryable` (unavailable, timeouts of one attempt, throttling) are
 * retried; validation, not-found, permission, conflict, integrity and abort errors fail
 * at once. The caller's `signal` and `timeout` bound the whole call, sleeps included.
 * A shared budget stops retry storms. The final error keeps its class, carries
 * `attempts`, and is marked `retryable: false` when retries were given up, so nothing
 * above retries it again. A `put` of a stream is tried once (the stream cannot be replayed).
 *
 * Place it innermost (next to the backend) so only I/O is retried.
 *
 * @example
 * const storage = new RetryStorage({ backend: new S3Storage("bucket"), maxRetries: 3, delay: 100 });
 */
export class RetryStorage extends LayerStorage<RetryDriver> {
  constructor(options: RetryStorageOptions) {
    checkOptionNames(options, ["backend", "maxRetries", "delay", "maxDelay", "budget", "budgetRefill", "onRetry", "random", "attemptTimeout", "timeout", "maxSize"], "RetryStorage");
    if (!options?.backend) throw new StorageValidationError("RetryStorage needs { backend }", { backend: "retry" });
    const { backend, timeout, maxSize, defaultTtl, clock, ...retryOptions } = options;
    super(new RetryDriver(backend, retryOptions), { timeout, maxSize, defaultTtl, clock, backend });
  }

  /** Retries left in the shared budget (`Infinity` when the budget is disabled). */
  get budgetRemaining(): number {
    return this.driver.budgetRemaining;
  }

  /** The settings in force (defaults filled in). */
  get policy(): RetryPolicy {
    return this.driver.policy;
  }

  /** The upper bound of the sleep before retry number `attempt`: `min(maxDelay, delay * 2^(attempt-1))`. */
  delayCap(attempt: number): number {
    return this.driver.delayCap(attempt);
  }
}
