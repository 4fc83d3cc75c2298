import { createRequire } from "node:module";
import { resolve as resolvePath } from "node:path";
import { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import {
  checkOptionNames,
  BaseStorage,
  type BaseStorageOptions,
  type DriverContext,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  StorageConfigError,
  StorageConflictError,
  type StorageError,
  StorageIOError,
  StorageIntegrityError,
  StoragePermissionError,
  StorageQuotaError,
  StorageUnavailableError,
  StorageValidationError,
  type StorageCapabilities,
  type StorageDriver,
  type StoredEntry,
  type StoredStream,
  type ValueType,
  type WriteRequest,
  fromAbortSignal,
} from "@pepperpy/storage-core";
import { WORKER_SOURCE } from "./worker-source.js";

/**
 * How hard SQLite pushes a commit to disk (`PRAGMA synchronous`), in WAL mode:
 * - `full` (default): every commit fsyncs the write-ahead log before `put` resolves: an
 *   acknowledged write survives a process crash, an OS crash and a power loss.
 * - `normal`: commits reach the OS before `put` resolves and are fsynced at checkpoints:
 *   an acknowledged write survives a process crash (`kill -9`); an OS crash or power loss
 *   may lose the last commits (never tear or corrupt one).
 */
export type SqliteSynchronous = "full" | "normal";

/** Options of {@link SqliteStorage}. */
export interface SqliteStorageOptions extends BaseStorageOptions {
  /** The database file (created with its folder when missing), or `":memory:"` for a private in-memory database. */
  path: string;
  /** Table holding the values (default `pepperpy_storage`); several storages can share one file with different tables. */
  table?: string | undefined;
  /** Durability of each commit (default `full`); see {@link SqliteSynchronous}. */
  synchronous?: SqliteSynchronous | undefined;
  /** Milliseconds a write waits for another connection's lock before failing retryably (default 5000). */
  busyTimeout?: number | undefined;
}

/** Default table name. */
export const DEFAULT_TABLE = "pepperpy_storage";

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A row without its value, as the worker returns it. */
interface InfoRow {
  key: string;
  value_type: string;
  content_type: string;
  metadata: string;
  etag: string;
  size: number;
  modified: number;
  expires_at: number | null;
}

interface ListRow {
  key: string;
  size: number;
  modified: number;
  etag: string;
  expires_at: number | null;
}

interface WorkerReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  key: string | undefined;
  operation: string;
  /** The caller gave up; the reply is only awaited to free the slot. */
  abandoned: boolean;
}

/**
 * The smallest string greater than every string starting with `prefix`, in code-point
 * order (which is SQLite's BINARY order of UTF-8 text); `undefined` when there is none.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (cps.length > 0 && cps[cps.length - 1] === 0x10ffff) cps.pop();
  if (cps.length === 0) return undefined;
  let last = cps.pop()! + 1;
  if (last === 0xd800) last = 0xe000; // skip the surrogate range, which no valid key contains
  cps.push(last);
  return String.fromCodePoint(...cps);
}

function resolveBetterSqlite(): string {
  try {
    return createRequire(import.meta.url).resolve("better-sqlite3");
  } catch (cause) {
    throw new StorageConfigError("SqliteStorage needs the package better-sqlite3; install it with: npm install better-sqlite3", {
      backend: "sqlite",
      cause,
    });
  }
}

function isValueType(v: string): v is ValueType {
  return v === "text" || v === "bytes" || v === "json";
}

function toInfo(row: InfoRow): ObjectInfo {
  return {
    key: row.key,
    size: row.size,
    lastModified: new Date(row.modified),
    etag: row.etag,
    contentType: row.content_type,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    valueType: isValueType(row.value_type) ? row.value_type : undefined,
    expiresAt: row.expires_at === null ? undefined : new Date(row.expires_at),
  };
}

function asBuffer(value: unknown): Buffer {
  const u = value as Uint8Array | undefined;
  if (!u || u.byteLength === 0) return Buffer.alloc(0);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * Maps an SQLite result code (`SQLITE_BUSY`, `SQLITE_FULL`, …) to the storage error family.
 * Busy and locked databases are retryable; a full disk is a quota error; a read-only or
 * unopenable file a permission error; a damaged file an integrity error.
 */
export function mapSqliteError(code: string, message: string, ctx: { key?: string | undefined; operation?: string | undefined }): StorageError {
  const opts = { key: ctx.key, operation: ctx.operation, backend: "sqlite", cause: Object.assign(new Error(message), { code }) };
  const base = code.replace(/_.*$/, "") === "SQLITE" ? code.split("_").slice(0, 2).join("_") : code;
  switch (base) {
    case "CONFLICT":
      return new StorageConflictError(`Condition failed: ${message}`, opts);
    case "SQLITE_BUSY":
    case "SQLITE_LOCKED":
      return new StorageUnavailableError(`The database is locked by another connection (${code})`, { ...opts, retryable: true });
    case "SQLITE_FULL":
      return new StorageQuotaError(`The disk or database is full (${code})`, opts);
    case "SQLITE_READONLY":
    case "SQLITE_PERM":
    case "SQLITE_AUTH":
      return new StoragePermissionError(`Not allowed to write the database (${code}): ${message}`, opts);
    case "SQLITE_CANTOPEN":
      return new StoragePermissionError(`Cannot open the database file (${code}): ${message}`, opts);
    case "SQLITE_CORRUPT":
    case "SQLITE_NOTADB":
      return new StorageIntegrityError(`The database file is damaged or not a database (${code})`, opts);
    case "SQLITE_TOOBIG":
      return new StorageValidationError(`The value is larger than SQLite accepts (${code})`, opts);
    case "SQLITE_IOERR":
      return new StorageIOError(`SQLite I/O error (${code}): ${message}`, opts);
    default:
      return new StorageIOError(`SQLite error (${code}): ${message}`, opts);
  }
}

/**
 * The SQLite driver. One worker thread owns the connection and runs every statement, so
 * the event loop of the caller never waits on SQLite (nor on a commit's fsync): each
 * operation is one message to the worker and one answer. Requests run one at a time in
 * the order they were made.
 */
export class SqliteDriver implements StorageDriver {
  readonly name = "sqlite";
  readonly capabilities: StorageCapabilities;
  /** The database file (absolute), or `:memory:`. */
  readonly path: string;
  readonly table: string;
  readonly synchronous: SqliteSynchronous;
  /** SQLite's journal mode as opened (`wal`, or `memory` for `:memory:`), once open. */
  journalMode: string | undefined;
  /** The SQLite library version, once open. */
  sqliteVersion: string | undefined;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly ready: Promise<void>;
  private nextId = 1;
  private exited = false;
  private closing = false;
  private exitError: StorageError | undefined;
  /** Why the database could not be opened, reported (as a fresh error) by every later call. */
  private openError: StorageError | undefined;

  constructor(options: SqliteStorageOptions) {
    if (typeof options !== "object" || options === null) throw new StorageConfigError("SqliteStorage needs a path or options", { backend: "sqlite" });
    if (typeof options.path !== "string" || options.path.length === 0) {
      throw new StorageConfigError("Invalid option path: expected the database file name", { backend: "sqlite" });
    }
    const table = options.table ?? DEFAULT_TABLE;
    if (typeof table !== "string" || !TABLE_NAME.test(table)) {
      throw new StorageConfigError("Invalid option table: expected a name of letters, digits and _ (not starting with a digit)", { backend: "sqlite" });
    }
    const synchronous = options.synchronous ?? "full";
    if (synchronous !== "full" && synchronous !== "normal") {
      throw new StorageConfigError('Invalid option synchronous: expected "full" or "normal"', { backend: "sqlite" });
    }
    const busyTimeout = options.busyTimeout ?? 5000;
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0) throw new StorageConfigError("Invalid option busyTimeout: expected whole milliseconds >= 0", { backend: "sqlite" });
    const memory = options.path === ":memory:";
    this.path = memory ? ":memory:" : resolvePath(options.path);
    this.table = table;
    this.synchronous = synchronous;
    this.capabilities = {
      rangeRead: true,
      conditionalWrite: true,
      serverSideCopy: true,
      keyIsAlsoPrefix: true,
      durable: !memory,
      persistent: !memory,
    };
    const modulePath = resolveBetterSqlite();
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { modulePath, path: this.path, table, synchronous: synchronous.toUpperCase(), busyTimeout },
    });
    // Idle, the worker does not keep the process alive; it is referenced while a request waits.
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      this.pending.set(0, {
        resolve: (result) => {
          const r = result as { journalMode: string; sqliteVersion: string };
          this.journalMode = r.journalMode;
          this.sqliteVersion = r.sqliteVersion;
          resolve();
        },
        reject: (error) => {
          this.openError = error as StorageError;
          reject(error);
        },
        key: undefined,
        operation: "open",
        abandoned: false,
      });
    });
    this.worker.ref();
    this.ready.then(
      () => this.releaseRef(),
      () => this.releaseRef(),
    );
    this.worker.on("message", (msg: WorkerReply) => this.onReply(msg));
    this.worker.on("error", (error) => {
      this.exitError ??= new StorageUnavailableError(`The SQLite worker failed: ${error.message}`, { backend: "sqlite", cause: error, retryable: false });
      this.fail();
    });
    this.worker.on("exit", () => {
      this.exited = true;
      this.fail();
    });
  }

  private releaseRef(): void {
    if (this.pending.size === 0 && !this.exited && !this.closing) this.worker.unref();
  }

  private onReply(msg: WorkerReply): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    this.releaseRef();
    if (p.abandoned) return;
    if (msg.ok) p.resolve(msg.result);
    else p.reject(mapSqliteError(msg.error!.code, msg.error!.message, { key: p.key, operation: p.operation }));
  }

  /** The error of a call made after the worker stopped (closed, or failed). */
  private stoppedError(key: string | undefined, operation: string): StorageError {
    const why = this.exitError;
    return new StorageUnavailableError(why ? why.detail : "The SQLite worker has stopped", { key, operation, backend: "sqlite", cause: why, retryable: false });
  }

  /** Rejects every waiting request: the worker is gone. */
  private fail(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (!p.abandoned) p.reject(id === 0 ? this.stoppedError(undefined, "open") : this.stoppedError(p.key, p.operation));
    }
  }

  /** Sends one request to the worker and waits for its answer, or for the caller's abort. */
  private async request<T>(op: string, args: unknown[], ctx: DriverContext, key: string | undefined, transfer: ArrayBuffer[] = []): Promise<T> {
    try {
      await this.ready;
    } catch {
      // A fresh error per call, each with its own key and operation.
      if (this.exitError) throw this.stoppedError(key, ctx.operation);
      const cause = this.openError?.cause as { code?: string; message?: string } | undefined;
      if (!cause?.code) throw this.stoppedError(key, ctx.operation);
      throw mapSqliteError(cause.code, `opening ${this.path}: ${cause.message}`, { key, operation: ctx.operation });
    }
    if (this.exited) throw this.stoppedError(key, ctx.operation);
    const signal = ctx.signal;
    if (signal.aborted) throw fromAbortSignal(signal, { key, operation: ctx.operation, backend: "sqlite" });
    const id = this.nextId++;
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const p = this.pending.get(id);
        if (!p || p.abandoned) return;
        // Skipped if the worker has not reached it yet; if it has, it commits and is forgotten here.
        Atomics.store(cancel, 0, 1);
        p.abandoned = true;
        reject(fromAbortSignal(signal, { key, operation: ctx.operation, backend: "sqlite" }));
      };
      this.pending.set(id, {
        resolve: (v) => {
          signal.removeEventListener("abort", onAbort);
          resolve(v as T);
        },
        reject: (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
        key,
        operation: ctx.operation,
        abandoned: false,
      });
      if (this.pending.size === 1) this.worker.ref();
      signal.addEventListener("abort", onAbort, { once: true });
      this.worker.postMessage({ id, op, args, cancel }, transfer);
    });
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const row = await this.request<(InfoRow & { value: Uint8Array }) | undefined>("read", [key], ctx, key);
    if (!row) return undefined;
    return { info: toInfo(row), data: asBuffer(row.value) };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const row = await this.request<InfoRow | undefined>("stat", [key], ctx, key);
    return row && toInfo(row);
  }

  exists(key: string, ctx: DriverContext): Promise<boolean> {
    return this.request<boolean>("exists", [key], ctx, key);
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    let row: (InfoRow & { value: Uint8Array }) | undefined;
    if (range.start === undefined && range.end === undefined) {
      row = await this.request("read", [key], ctx, key);
    } else {
      const start = range.start ?? 0;
      const length = range.end === undefined ? null : Math.max(0, range.end - start + 1);
      // substr() of a BLOB counts bytes from 1; only the range crosses to this thread.
      row = await this.request("range", [key, start, length], ctx, key);
    }
    if (!row) return undefined;
    return { info: toInfo(row), stream: Readable.from([asBuffer(row.value)], { objectMode: false }) };
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    let value: Uint8Array;
    if (req.body instanceof Uint8Array) {
      // One private copy, moved (not copied again) to the worker.
      value = new Uint8Array(req.body);
    } else {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of req.body) {
        if (ctx.signal.aborted) throw fromAbortSignal(ctx.signal, { key, operation: ctx.operation, backend: "sqlite" });
        chunks.push(chunk);
        size += chunk.byteLength;
      }
      value = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        value.set(c, at);
        at += c.byteLength;
      }
    }
    const transfer = value.byteLength > 0 ? [value.buffer as ArrayBuffer] : [];
    const out = await this.request<{ etag: string; modified: number; size: number }>(
      "write",
      [
        {
          key,
          value,
          valueType: req.valueType,
          contentType: req.contentType,
          metadata: JSON.stringify(req.metadata),
          ifNoneMatch: req.ifNoneMatch,
          ifMatch: req.ifMatch,
          expiresAt: req.expiresAt ?? null,
        },
      ],
      ctx,
      key,
      transfer,
    );
    return {
      key,
      size: out.size,
      lastModified: new Date(out.modified),
      etag: out.etag,
      contentType: req.contentType,
      metadata: { ...req.metadata },
      valueType: req.valueType,
      expiresAt: req.expiresAt === undefined ? undefined : new Date(req.expiresAt),
    };
  }

  async delete(key: string, ctx: DriverContext): Promise<void> {
    await this.request("delete", [key], ctx, key);
  }

  async deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    if (keys.length === 0) return;
    await this.request("deleteMany", [keys], ctx, undefined);
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const upper = prefix === "" ? null : (prefixUpperBound(prefix) ?? null);
    const rows = await this.request<ListRow[]>("list", [prefix, page.cursor ?? "", upper, page.limit + 1], ctx, prefix || undefined);
    const more = rows.length > page.limit;
    const items = (more ? rows.slice(0, page.limit) : rows).map((r) => ({
      key: r.key,
      size: r.size,
      lastModified: new Date(r.modified),
      etag: r.etag,
      expiresAt: r.expires_at === null ? undefined : new Date(r.expires_at),
    }));
    return more ? { items, cursor: items[items.length - 1]!.key } : { items };
  }

  /**
   * Deletes the rows under `prefix` whose deadline is at or before `now` (the storage's
   * clock, never SQLite's) in one statement, and returns how many.
   */
  purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    const upper = prefix === "" ? null : (prefixUpperBound(prefix) ?? null);
    return this.request<number>("purge", [prefix, upper, now], ctx, prefix || undefined);
  }

  copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.request<boolean>("copy", [from, to], ctx, from);
  }

  move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.request<boolean>("move", [from, to], ctx, from);
  }

  /** Folds the write-ahead log back into the database file and truncates it. */
  async checkpoint(ctx: DriverContext): Promise<void> {
    await this.request("checkpoint", [], ctx, undefined);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
    // Referenced until it has exited: otherwise, with nothing else pending, the process
    // would end inside `await close()` and the caller's next line would never run.
    this.closing = true;
    this.worker.ref();
    try {
      await this.ready;
      this.exitError = new StorageUnavailableError("The storage is closed", { backend: "sqlite", retryable: false });
      await this.request("close", [], { signal: AbortSignal.timeout(30_000), operation: "close" }, undefined);
    } catch {
      // The worker failed to open or to close cleanly: stop it anyway.
      await this.worker.terminate();
    }
    await exited;
  }
}

/**
 * A storage in one SQLite database file: an embedded, transactional backend. Writes are
 * atomic (one row per key, replaced in one statement or one transaction), conditional
 * writes check and write in one `BEGIN IMMEDIATE` transaction, keys list in code-point
 * order, and the database runs in WAL mode so readers never wait for a writer. The
 * connection lives on a worker thread: the caller's event loop never blocks on SQLite.
 *
 * @example
 * const storage = new SqliteStorage({ path: "./data/app.db" });
 * await storage.put("users/1", { name: "John" });
 */
/** The option names of {@link SqliteStorageOptions} besides the common ones (the compiler checks the list is complete). */
const SQLITE_OPTION_NAMES = Object.keys({
  path: true, table: true, synchronous: true, busyTimeout: true,
} satisfies Record<Exclude<keyof SqliteStorageOptions, keyof BaseStorageOptions>, true>);

export class SqliteStorage extends BaseStorage {
  protected declare readonly driver: SqliteDriver;

  constructor(options: string | SqliteStorageOptions) {
    const opts: SqliteStorageOptions = typeof options === "string" ? { path: options } : options;
    checkOptionNames(opts, SQLITE_OPTION_NAMES, "SqliteStorage");
    super(new SqliteDriver(opts), opts);
  }

  /** The database file (absolute), or `:memory:`. */
  get path(): string {
    return this.driver.path;
  }

  /** The table holding the values. */
  get table(): string {
    return this.driver.table;
  }

  /** Folds the write-ahead log into the database file (`PRAGMA wal_checkpoint(TRUNCATE)`), for example before copying the file. */
  async checkpoint(): Promise<void> {
    await this.driver.checkpoint({ signal: AbortSignal.timeout(60_000), operation: "checkpoint" });
  }
}
