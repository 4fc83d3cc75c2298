import { checkOptionNames } from "./options.js";
import { compareKeys, sortKeys } from "./keys.js";
import { orUndefined, innerOptions } from "./layer.js";
import { BaseStorage, type BaseStorageOptions, forwardedExpiry, forwardedValueType, readEntry, readEntryStream, requestExpiry } from "./storage.js";
import {
  type BackendFailure,
  type StorageError,
  StoragePartialWriteError,
  StorageValidationError,
  isStorageError,
  fromAbortSignal,
  fromNodeError,
} from "./errors.js";
import type {
  DriverContext,
  ListEntry,
  ListPage,
  ListPageRequest,
  ObjectInfo,
  Storage,
  StorageCapabilities,
  StorageDriver,
  StoredEntry,
  StoredStream,
  WriteRequest,
} from "./types.js";

/** Options of {@link CompositeStorage}. */
export interface CompositeStorageOptions extends BaseStorageOptions {
  /**
   * After a read found the key in a later backend, write it to the earlier backends that
   * answered "missing" (not to those that failed). Default `true`: a composite of
   * `[memory, file, s3]` then warms its faster tiers as it reads.
   */
  readRepair?: boolean | undefined;
}

/** Buffers a stream; stops reading (and closes the source) once the call is aborted or timed out. */
async function collect(stream: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) {
    if (signal.aborted) throw fromAbortSignal(signal);
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

function asStorageError(error: unknown): StorageError {
  return isStorageError(error) ? error : fromNodeError(error);
}

const noop = () => undefined;

/**
 * FIFO queues by key for one tier: an operation on some keys starts once every operation
 * queued before it on any of those keys has settled. The composite queues each write on
 * every tier in one synchronous step, so every tier receives the writes of a key in the
 * same order. Entries exist only while operations are queued.
 */
class KeyQueues {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const before: Promise<void>[] = [];
    for (const k of keys) {
      const tail = this.tails.get(k);
      if (tail) before.push(tail);
    }
    const result = (before.length === 0 ? Promise.resolve() : Promise.all(before)).then(fn);
    const tail = result.then(noop, noop);
    for (const k of keys) this.tails.set(k, tail);
    void tail.then(() => {
      for (const k of keys) if (this.tails.get(k) === tail) this.tails.delete(k);
    });
    return result;
  }
}

/** A read that may repair earlier tiers: spoiled once a write of its key was in flight while it ran. */
interface RepairToken {
  spoiled: boolean;
}

/**
 * The composite policy, as a driver:
 * - **writes** (`put`, `delete`, batches) go to every backend at once; when some fail the
 *   call rejects with `StoragePartialWriteError` naming them (when all fail, with the
 *   first backend's error) — never a silent success;
 * - **write order**: writes of one key through one composite reach every backend in the
 *   order they were issued (a per-key queue per backend), so concurrent `put`s and
 *   `delete`s of a key leave every backend holding the same value. Writes of different keys
 *   still run in parallel. Nothing orders writes made by another composite instance or
 *   another process: they can still leave the backends holding different values;
 * - **reads** (`get`, `stat`, `exists`, streams) come from the first backend, in order,
 *   that has the key; a backend that fails is skipped, and if no backend has the key and
 *   one failed, that failure is the result (a "missing" answer would be a guess);
 * - **lists** are the sorted union of every backend's keys;
 * - **read repair** (on by default) copies a value found in a later backend to the
 *   earlier ones that answered "missing"; repair failures are ignored (the read succeeded).
 */
export class CompositeDriver implements StorageDriver {
  readonly name: string;
  readonly capabilities: StorageCapabilities;
  readonly backends: readonly Storage[];
  private readonly readRepair: boolean;
  /** One queue per backend (see {@link KeyQueues}). */
  private readonly queues: KeyQueues[];
  /** Writes queued or running, by key. */
  private readonly pendingWrites = new Map<string, number>();
  /** Reads that may repair, by key. */
  private readonly repairing = new Map<string, Set<RepairToken>>();

  constructor(backends: readonly Storage[], readRepair: boolean) {
    this.backends = backends;
    this.queues = backends.map(() => new KeyQueues());
    this.readRepair = readRepair;
    this.name = `composite(${backends.map((b) => b.name).join(",")})`;
    const all = (k: keyof StorageCapabilities) => backends.every((b) => b.capabilities[k]);
    const any = (k: keyof StorageCapabilities) => backends.some((b) => b.capabilities[k]);
    this.capabilities = {
      rangeRead: all("rangeRead"),
      // A condition cannot be checked atomically across several backends.
      conditionalWrite: false,
      serverSideCopy: false,
      keyIsAlsoPrefix: all("keyIsAlsoPrefix"),
      durable: any("durable"),
      persistent: any("persistent"),
      // A read answered by an in-memory backend first resolves without I/O.
      yieldsToEventLoop: backends.every((b) => b.capabilities.yieldsToEventLoop !== false),
    };
  }

  /** Asks backends in order; returns the first hit, the indexes that said "missing", and failures. */
  private async firstHit<T>(
    ask: (b: Storage) => Promise<T | undefined>,
  ): Promise<{ hit?: { value: T; index: number }; missing: number[]; failures: StorageError[] }> {
    const missing: number[] = [];
    const failures: StorageError[] = [];
    for (let i = 0; i < this.backends.length; i++) {
      try {
        const value = await ask(this.backends[i]!);
        if (value !== undefined) return { hit: { value, index: i }, missing, failures };
        missing.push(i);
      } catch (error) {
        const e = asStorageError(error);
        // An abort or timeout of the whole call ends it; other failures fall through.
        if (e.code === "ABORTED" || e.code === "TIMEOUT") throw e;
        failures.push(e);
      }
    }
    return { missing, failures };
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    if (!this.readRepair) return this.readFirst(key, ctx);
    // A repair writes what the read saw; a write of the key while the read ran may have
    // changed it, and the repair would then put an older value over a newer one.
    const token: RepairToken = { spoiled: this.pendingWrites.has(key) };
    let tokens = this.repairing.get(key);
    if (!tokens) {
      tokens = new Set();
      this.repairing.set(key, tokens);
    }
    tokens.add(token);
    try {
      return await this.readFirst(key, ctx, token);
    } finally {
      tokens.delete(token);
      if (tokens.size === 0 && this.repairing.get(key) === tokens) this.repairing.delete(key);
    }
  }

  private async readFirst(key: string, ctx: DriverContext, repair?: RepairToken): Promise<StoredEntry | undefined> {
    const { hit, missing, failures } = await this.firstHit((b) => orUndefined(readEntry(b, key, innerOptions(ctx), ctx.operation)));
    if (!hit) {
      if (failures.length > 0) throw failures[0];
      return undefined;
    }
    if (repair && !repair.spoiled) {
      const earlier = missing.filter((i) => i < hit.index);
      const { info, data } = hit.value;
      // Queued like writes, so a write issued after this point lands after the repair.
      await Promise.allSettled(
        earlier.map((i) =>
          this.queues[i]!.run([key], () =>
            this.backends[i]!.put(key, data, {
              contentType: info.contentType,
              metadata: info.metadata,
              ...forwardedValueType(info.valueType ?? "bytes"),
              // The copy expires with the value it repairs.
              ...forwardedExpiry(info.expiresAt ?? null),
              ...innerOptions(ctx),
            }),
          ),
        ),
      );
    }
    return hit.value;
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const { hit, failures } = await this.firstHit((b) => orUndefined(readEntryStream(b, key, { ...range, ...innerOptions(ctx) }, ctx.operation)));
    if (!hit) {
      if (failures.length > 0) throw failures[0];
      return undefined;
    }
    return hit.value;
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const { hit, failures } = await this.firstHit((b) => orUndefined(b.stat(key, innerOptions(ctx))));
    if (!hit) {
      if (failures.length > 0) throw failures[0];
      return undefined;
    }
    return hit.value;
  }

  /**
   * Runs a write of `keys` on every backend; all must succeed. The write is queued on
   * every backend in one synchronous step, behind the writes of the same keys issued
   * before it, so every backend sees the same order.
   */
  private async writeAll<T>(operation: string, keys: readonly string[], fn: (b: Storage) => Promise<T>): Promise<T> {
    for (const key of keys) {
      this.pendingWrites.set(key, (this.pendingWrites.get(key) ?? 0) + 1);
      for (const token of this.repairing.get(key) ?? []) token.spoiled = true;
    }
    let results: PromiseSettledResult<T>[];
    try {
      results = await Promise.allSettled(this.backends.map((b, i) => this.queues[i]!.run(keys, () => fn(b))));
    } finally {
      for (const key of keys) {
        const n = this.pendingWrites.get(key)! - 1;
        if (n === 0) this.pendingWrites.delete(key);
        else this.pendingWrites.set(key, n);
      }
    }
    const failures: BackendFailure[] = [];
    const succeeded: number[] = [];
    results.forEach((r, index) => {
      if (r.status === "fulfilled") succeeded.push(index);
      else failures.push({ index, backend: this.backends[index]!.name, error: asStorageError(r.reason) });
    });
    if (failures.length === 0) return (results[0] as PromiseFulfilledResult<T>).value;
    if (succeeded.length === 0) throw failures[0]!.error;
    throw new StoragePartialWriteError(
      `${operation} failed on ${failures.length} of ${this.backends.length} backends: ` +
        failures.map((f) => `#${f.index} ${f.backend}: ${f.error.detail} (${f.error.code})`).join("; "),
      { failures, succeeded, operation },
    );
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    // A stream can be read once; every backend needs the bytes, so it is buffered.
    const body = req.body instanceof Uint8Array ? req.body : await collect(req.body, ctx.signal);
    return this.writeAll("put", [key], (b) =>
      b.put(key, body, {
        ...req.options,
        contentType: req.contentType,
        metadata: req.metadata,
        ...forwardedValueType(req.valueType),
        maxSize: undefined,
        ...forwardedExpiry(requestExpiry(req)),
        ...innerOptions(ctx),
      }),
    );
  }

  async delete(key: string, ctx: DriverContext): Promise<void> {
    await this.writeAll("delete", [key], (b) => b.delete(key, innerOptions(ctx)));
  }

  async deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    await this.writeAll("deleteMany", keys, (b) => b.deleteMany(keys, innerOptions(ctx)));
  }

  /**
   * Every backend purges its own expired keys (with its own clock and conditional delete).
   * The count is the largest of theirs: the backends hold the same keys, so a key deleted
   * from each counts once.
   */
  async purgeExpired(prefix: string, _now: number, ctx: DriverContext): Promise<number> {
    const counts: number[] = [];
    await this.writeAll("purgeExpired", [], async (b) => {
      const n = await b.purgeExpired(prefix, innerOptions(ctx));
      counts.push(n);
    });
    return Math.max(0, ...counts);
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const pages = await Promise.all(this.backends.map((b) => b.listPage(prefix, { ...page, ...innerOptions(ctx) })));
    const byKey = new Map<string, ListEntry>();
    // Earlier backends win for the entry's size and time.
    for (let i = pages.length - 1; i >= 0; i--) for (const item of pages[i]!.items) byKey.set(item.key, item);
    const keys = sortKeys([...byKey.keys()]);
    // A backend that was cut short may have keys below another's last key: stop at the
    // smallest "last key" of any truncated page so nothing is skipped.
    let limitKey: string | undefined;
    for (const p of pages) {
      if (p.cursor !== undefined && p.items.length > 0) {
        const last = p.items[p.items.length - 1]!.key;
        if (limitKey === undefined || compareKeys(last, limitKey) < 0) limitKey = last;
      }
    }
    let items = keys.filter((k) => limitKey === undefined || compareKeys(k, limitKey) <= 0).map((k) => byKey.get(k)!);
    const truncated = items.length > page.limit;
    if (truncated) items = items.slice(0, page.limit);
    const more = truncated || limitKey !== undefined;
    return more && items.length > 0 ? { items, cursor: items[items.length - 1]!.key } : { items };
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled(this.backends.map((b) => b.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/**
 * Several storages as one: writes go to all, reads come from the first that has the key.
 * See {@link CompositeDriver} for the exact policy.
 *
 * @example
 * const storage = new CompositeStorage([new MemoryStorage(), new FileStorage("./data")]);
 */
export class CompositeStorage extends BaseStorage {
  protected declare readonly driver: CompositeDriver;

  constructor(backends: readonly Storage[], options: CompositeStorageOptions = {}) {
    checkOptionNames(options, ["readRepair"], "CompositeStorage");
    if (!Array.isArray(backends) || backends.length === 0) {
      throw new StorageValidationError("CompositeStorage needs at least one backend", { backend: "composite" });
    }
    super(new CompositeDriver(backends, options.readRepair ?? true), {
      timeout: options.timeout ?? 0,
      maxSize: options.maxSize,
      defaultTtl: options.defaultTtl,
      clock: options.clock,
    });
  }

  /** The storages, in read order. */
  get backends(): readonly Storage[] {
    return this.driver.backends;
  }
}
