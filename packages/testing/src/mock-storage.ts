import { AsyncLocalStorage } from "node:async_hooks";
import type { Readable } from "node:stream";
import {
  checkOptionNames,
  BaseStorage,
  READ_ENTRY,
  STACK_BASE,
  READ_ENTRY_STREAM,
  type BaseStorageOptions,
  type BatchOptions,
  type DriverContext,
  type IterateOptions,
  type JsonValue,
  type ListEntry,
  type ListPage,
  type ListPageRequest,
  type ListPageOptions,
  type ObjectInfo,
  type OperationOptions,
  type PutOptions,
  type PutValue,
  type RangeOptions,
  type StorageCapabilities,
  type StorageDriver,
  type StorageValue,
  type StoredEntry,
  type StoredStream,
  type WriteRequest,
} from "@pepperpy/storage-core";
import { MemoryDriver } from "@pepperpy/storage-memory";

/** The public operations {@link MockStorage} records and can make fail. */
export type MockOperation =
  | "get"
  | "put"
  | "delete"
  | "exists"
  | "list"
  | "listPage"
  | "iterate"
  | "stat"
  | "getBytes"
  | "getText"
  | "getJSON"
  | "getStream"
  | "getMany"
  | "putMany"
  | "deleteMany"
  | "copy"
  | "move"
  | "close";

/** One recorded call of a public method. */
export interface MockCall {
  /** The public method that was called. */
  operation: MockOperation;
  /** The key (or prefix, or `from` of copy/move) when the call had one. */
  key: string | undefined;
  /** The arguments as given (not copied deeply). */
  args: unknown[];
}

/** When a mocked error applies. */
export interface MockErrorOptions {
  /** Only calls for this key (or prefix, or copy/move source). */
  key?: string | undefined;
  /** Only the Nth matching call (1-based) fails; the others pass through. */
  nth?: number | undefined;
  /** The next `times` matching calls fail, then the mock is used up. Default: every matching call. */
  times?: number | undefined;
}

interface ErrorMock {
  operation: MockOperation | "*";
  error: unknown | (() => unknown);
  key: string | undefined;
  nth: number | undefined;
  times: number | undefined;
  seen: number;
  used: number;
}

/** A memory driver named "mock", so errors and events say where they came from. */
class MockDriver implements StorageDriver {
  readonly name = "mock";
  private readonly memory: MemoryDriver;

  constructor(capacity?: number, clock?: () => number) {
    this.memory = new MemoryDriver(capacity, clock);
  }
  get capabilities(): StorageCapabilities {
    return this.memory.capabilities;
  }
  async read(key: string): Promise<StoredEntry | undefined> {
    return this.memory.read(key);
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    return this.memory.stat(key);
  }
  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    return this.memory.write(key, req, ctx);
  }
  async delete(key: string): Promise<void> {
    this.memory.delete(key);
  }
  deleteMany(keys: readonly string[]): Promise<void> {
    return this.memory.deleteMany(keys);
  }
  copy(from: string, to: string): Promise<boolean> {
    return this.memory.copy(from, to);
  }
  list(prefix: string, page: ListPageRequest): Promise<ListPage> {
    return this.memory.list(prefix, page);
  }
  purgeExpired(prefix: string, now: number): Promise<number> {
    return this.memory.purgeExpired(prefix, now);
  }
  close(): Promise<void> {
    return this.memory.close();
  }
}

/** Options of {@link MockStorage}. */
export interface MockStorageOptions extends BaseStorageOptions {
  /** Total bytes the underlying memory may hold (see `MemoryStorage`). */
  capacity?: number | undefined;
}

/**
 * A real, working storage for unit tests of code that uses a `Storage`: values are kept
 * in memory with every behaviour of `MemoryStorage` (it passes the conformance suite),
 * every public call is recorded, and single operations can be made to return a canned
 * value ({@link mockGet}) or to fail ({@link mockError}).
 *
 * Only calls made by the code under test are recorded; calls the storage makes to
 * itself (the `get`s inside `getMany`, the `listPage`s inside `list`) are not, but
 * mocks apply to them, so a mocked `get` error also shows in `getMany`.
 *
 * @example
 * const storage = new MockStorage();
 * storage.mockError("put", new StorageUnavailableError("down"), { times: 1 });
 * await service.save(storage);               // the first put fails, the retry succeeds
 * expect(storage.callsTo("put")).toHaveLength(2);
 */
export class MockStorage extends BaseStorage {
  /** Every recorded call, oldest first. */
  readonly calls: MockCall[] = [];
  private readonly values = new Map<string, unknown>();
  private readonly errors: ErrorMock[] = [];
  private readonly nested = new AsyncLocalStorage<true>();

  constructor(options: MockStorageOptions = {}) {
    checkOptionNames(options, ["capacity"], "MockStorage");
    super(new MockDriver(options.capacity, options.clock), options);
  }

  /** The recorded calls of one operation. */
  callsTo(operation: MockOperation): MockCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  /**
   * Makes `get(key)` (and so `getMany`) resolve to `value` without looking at what is
   * stored, until {@link reset} or another `mockGet` of the key. The value is returned
   * as given, so it may be anything, even what `put` would reject.
   */
  mockGet(key: string, value: unknown): this {
    this.values.set(key, value);
    return this;
  }

  /**
   * Makes calls of `operation` (`"*"`: any operation) reject with `error` (or with what
   * a factory returns, a fresh error per call). By default every matching call fails;
   * pass a key to fail only calls for that key, or `{ key, nth, times }`. A storage
   * error gets this storage's context and is emitted as `storage.error` like a real
   * failure; anything else is wrapped as a `StorageIOError` with it as `cause`.
   */
  mockError(operation: MockOperation | "*", error: unknown | (() => unknown), options?: string | MockErrorOptions): this {
    const o: MockErrorOptions = typeof options === "string" ? { key: options } : (options ?? {});
    this.errors.push({ operation, error, key: o.key, nth: o.nth, times: o.times, seen: 0, used: 0 });
    return this;
  }

  /** Forgets recorded calls, mocked values and mocked errors (stored data stays). */
  reset(): this {
    this.calls.length = 0;
    this.values.clear();
    this.errors.length = 0;
    return this;
  }

  /** The mocked error for this call, if one applies (counting it). */
  private takeError(operation: MockOperation, key: string | undefined): unknown {
    for (const m of this.errors) {
      if (m.operation !== "*" && m.operation !== operation) continue;
      if (m.key !== undefined && m.key !== key) continue;
      m.seen++;
      if (m.nth !== undefined && m.seen !== m.nth) continue;
      if (m.times !== undefined && m.used >= m.times) continue;
      m.used++;
      return typeof m.error === "function" ? (m.error as () => unknown)() : m.error;
    }
    return undefined;
  }

  /** Records a top-level call, applies a mocked error, else runs the real operation. */
  private track<T>(operation: MockOperation, key: string | undefined, args: unknown[], real: () => Promise<T>): Promise<T> {
    if (this.nested.getStore() === undefined) this.calls.push({ operation, key, args });
    const error = this.takeError(operation, key);
    if (error !== undefined) {
      return this.run(operation, key, undefined, async () => {
        throw error;
      });
    }
    return this.nested.run(true, real);
  }

  override get<T = unknown>(key: string, opts?: OperationOptions): Promise<T> {
    return this.track("get", key, [key, opts], () => {
      if (this.values.has(key)) {
        const value = this.values.get(key) as T;
        return this.run("get", key, opts, async () => value, { event: "storage.get" });
      }
      return super.get<T>(key, opts);
    });
  }
  override put(key: string, value: StorageValue, opts?: PutOptions): Promise<ObjectInfo>;
  override put<T>(key: string, value: T & PutValue<T>, opts?: PutOptions): Promise<ObjectInfo>;
  override put(key: string, value: unknown, opts?: PutOptions): Promise<ObjectInfo> {
    return this.track("put", key, [key, value, opts], () => super.put(key, value as StorageValue, opts));
  }
  override delete(key: string, opts?: OperationOptions): Promise<void> {
    return this.track("delete", key, [key, opts], () => super.delete(key, opts));
  }
  override exists(key: string, opts?: OperationOptions): Promise<boolean> {
    return this.track("exists", key, [key, opts], () => super.exists(key, opts));
  }
  override list(prefix = "", opts?: OperationOptions): Promise<string[]> {
    return this.track("list", prefix, [prefix, opts], () => super.list(prefix, opts));
  }
  override listPage(prefix = "", opts?: ListPageOptions): Promise<ListPage> {
    return this.track("listPage", prefix, [prefix, opts], () => super.listPage(prefix, opts));
  }
  override iterate(prefix = "", opts?: IterateOptions): AsyncIterable<ListEntry> {
    if (this.nested.getStore() === undefined) this.calls.push({ operation: "iterate", key: prefix, args: [prefix, opts] });
    const error = this.takeError("iterate", prefix);
    if (error === undefined) return super.iterate(prefix, opts);
    const self = this;
    return (async function* (): AsyncGenerator<ListEntry> {
      await self.run("iterate", prefix, undefined, async () => {
        throw error;
      });
    })();
  }
  /** The core's paging loop, with each page's `listPage` marked as an internal call (one context switch per page). */
  protected override async *pages(prefix: string, opts: ListPageOptions): AsyncIterable<ListPage> {
    const pages = super.pages(prefix, opts)[Symbol.asyncIterator]();
    for (;;) {
      const next = await this.nested.run(true, () => pages.next());
      if (next.done) return;
      yield next.value;
    }
  }
  override stat(key: string, opts?: OperationOptions): Promise<ObjectInfo> {
    return this.track("stat", key, [key, opts], () => super.stat(key, opts));
  }
  override getBytes(key: string, opts?: OperationOptions): Promise<Uint8Array> {
    return this.track("getBytes", key, [key, opts], () => super.getBytes(key, opts));
  }
  override getText(key: string, opts?: OperationOptions): Promise<string> {
    return this.track("getText", key, [key, opts], () => super.getText(key, opts));
  }
  override getJSON<T = JsonValue>(key: string, opts?: OperationOptions): Promise<T> {
    return this.track("getJSON", key, [key, opts], () => super.getJSON<T>(key, opts));
  }
  override getStream(key: string, opts?: RangeOptions): Promise<Readable> {
    return this.track("getStream", key, [key, opts], () => super.getStream(key, opts));
  }
  override getMany<T = unknown>(keys: readonly string[], opts?: BatchOptions): Promise<(T | undefined)[]> {
    return this.track("getMany", undefined, [keys, opts], () => super.getMany<T>(keys, opts));
  }
  override putMany(
    entries: Iterable<readonly [string, StorageValue]> | Record<string, StorageValue>,
    opts?: BatchOptions & PutOptions,
  ): Promise<void> {
    return this.track("putMany", undefined, [entries, opts], () => super.putMany(entries, opts));
  }
  override deleteMany(keys: readonly string[], opts?: BatchOptions): Promise<void> {
    return this.track("deleteMany", undefined, [keys, opts], () => super.deleteMany(keys, opts));
  }
  override copy(from: string, to: string, opts?: OperationOptions): Promise<void> {
    return this.track("copy", from, [from, to, opts], () => super.copy(from, to, opts));
  }
  override move(from: string, to: string, opts?: OperationOptions): Promise<void> {
    return this.track("move", from, [from, to, opts], () => super.move(from, to, opts));
  }
  /** A layer's read of this storage is recorded as the public operation it serves (`get`, `getStream`, …). */
  /** Not composed onto: a layer over a mock goes through its public methods, so every call is recorded. */
  override [STACK_BASE](): undefined {
    return undefined;
  }

  override [READ_ENTRY](key: string, opts: OperationOptions | undefined, operation: string): Promise<StoredEntry> {
    return this.track(operation as MockOperation, key, [key, opts], () => super[READ_ENTRY](key, opts, operation));
  }
  override [READ_ENTRY_STREAM](key: string, opts: RangeOptions | undefined, operation: string): Promise<StoredStream> {
    return this.track(operation as MockOperation, key, [key, opts], () => super[READ_ENTRY_STREAM](key, opts, operation));
  }
  override close(): Promise<void> {
    return this.track("close", undefined, [], () => super.close());
  }
}
