import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import {
  checkOptionNames,
  BaseStorage,
  type BaseStorageOptions,
  type DriverContext,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  type StorageCapabilities,
  StorageConfigError,
  StorageConflictError,
  type StorageDriver,
  StorageValidationError,
  Secret,
  type StoredEntry,
  type StoredStream,
  type ValueType,
  type WriteRequest,
  NEVER_ABORTED,
  compareKeys,
} from "@pepperpy/storage-core";
import pg from "pg";
import { type PostgresErrorContext, mapPostgresError } from "./errors.js";

/**
 * Largest value PostgresStorage stores: 256 MiB. A `bytea` field may hold up to 1 GiB; a
 * write sends the value as one binary parameter and a read returns it as one buffer, so
 * larger values belong in an object store. Reads never fetch a value larger than
 * {@link DEFAULT_READ_CHUNK_BYTES} in one piece: `pg` returns `bytea` as hex text (2N + 2
 * characters), and a value over 268,435,443 bytes would not fit in one V8 string
 * (`buffer.constants.MAX_STRING_LENGTH`, 2^29 - 24 characters).
 */
export const MAX_VALUE_BYTES = 256 * 1024 * 1024;

/** Bytes a read fetches per query (default of the option `readChunkSize`): 4 MiB, 8 MiB of hex text. */
export const DEFAULT_READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** Default table name. */
export const DEFAULT_TABLE = "pepperpy_storage";

/** Options of {@link PostgresStorage}. */
export interface PostgresStorageOptions extends BaseStorageOptions {
  /**
   * `postgres://user:password@host:port/database?sslmode=…`, as text or a `Secret`. Held in a
   * `Secret` and revealed only to each new connection: never printed, and not kept on the pool.
   */
  connectionString?: string | Secret<string> | undefined;
  host?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  /** As text or a `Secret`; held in a `Secret`, revealed only while a connection authenticates, never printed. */
  password?: string | Secret<string> | undefined;
  database?: string | undefined;
  /** The table, optionally schema-qualified (`storage.values`); default `pepperpy_storage`. */
  table?: string | undefined;
  /** Create the table on first use (default `true`); set `false` when a migration created it. */
  createTable?: boolean | undefined;
  /** Connections in the pool (default 10). */
  poolSize?: number | undefined;
  /** Milliseconds to wait for a pooled connection (default 10 000) → `StorageTimeoutError`. */
  connectionTimeout?: number | undefined;
  /** Server-side `statement_timeout` in ms (default: none) → `StorageTimeoutError`. */
  statementTimeout?: number | undefined;
  /** Extra `pg.PoolConfig` fields (TLS, …); the settings above win. */
  poolConfig?: pg.PoolConfig | undefined;
  /** Your own pool: used as is and not ended by `close()`. */
  pool?: pg.Pool | undefined;
  /**
   * Bytes a read fetches per query (default 4 MiB, at most 64 MiB). A larger value is read in
   * slices (`substring(value from … for …)`): `get` in one REPEATABLE READ transaction,
   * `getStream` slice by slice, each checked against the etag it started with.
   */
  readChunkSize?: number | undefined;
}

/** Upper bound of `readChunkSize`: its hex text (2N + 2 characters) stays far below V8's string limit. */
const MAX_READ_CHUNK_BYTES = 64 * 1024 * 1024;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** `"schema"."table"` from `schema.table` or `table`, refusing anything that is not a plain identifier. */
function quoteTable(table: string): { sql: string; bare: string } {
  const parts = table.split(".");
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new StorageConfigError("Invalid option table: expected an identifier or schema.identifier (letters, digits, _)", { backend: "postgres" });
  }
  return { sql: parts.map((p) => `"${p}"`).join("."), bare: parts[parts.length - 1]! };
}

/** The SQL that creates the table: what `createTable` runs, and the migration the README shows. */
export function createTableSql(table = DEFAULT_TABLE): string {
  const { sql, bare } = quoteTable(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${sql} (`,
    `  key text COLLATE "C" PRIMARY KEY,`,
    "  value bytea NOT NULL,",
    "  value_type text,",
    "  content_type text NOT NULL,",
    "  metadata jsonb NOT NULL DEFAULT '{}',",
    "  etag text NOT NULL,",
    "  size bigint NOT NULL,",
    "  modified timestamptz NOT NULL,",
    "  expires_at timestamptz",
    ");",
    `CREATE INDEX IF NOT EXISTS "${bare}_expires_at" ON ${sql} (expires_at) WHERE expires_at IS NOT NULL;`,
  ].join("\n");
}

/** `postgres://user:secret@host/db` with the password replaced. */
export function redactConnectionString(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const name of ["password", "sslpassword", "sslkey"]) if (u.searchParams.has(name)) u.searchParams.set(name, "***");
    return u.toString();
  } catch {
    return "<invalid connection string>";
  }
}

/** A string option given as text or as a `Secret`, held in a `Secret`. */
function heldText(name: string, value: unknown): Secret<string> | undefined {
  if (value === undefined) return undefined;
  const text = Secret.reveal(value);
  if (typeof text !== "string") throw new StorageConfigError(`Invalid option ${name}: expected a string or a Secret of one`, { backend: "postgres" });
  return Secret.isSecret(value) ? (value as Secret<string>) : new Secret(text);
}

/**
 * A `pg.Client` class whose connections get the connection string and the password from
 * `Secret`s: the pool's options hold neither, and each client keeps its password in a
 * `Secret` that its `password` property shows, revealing the text only while `connect` runs
 * (when `pg` authenticates with it). So neither the pool nor its clients print a credential.
 */
function secretHoldingClient(base: typeof pg.Client, connectionString: Secret<string> | undefined, password: Secret<string> | undefined): typeof pg.Client {
  return class SecretHoldingClient extends base {
    #connecting = 0;

    constructor(config?: pg.ClientConfig) {
      const settings: pg.ClientConfig = { ...config, password: password?.reveal() ?? config?.password };
      if (connectionString) settings.connectionString = connectionString.reveal();
      super(settings);
      // pg resolved the password from the settings (the connection string wins, then
      // `password`, then PGPASSWORD) and stores the text, or later the result of a password
      // function, on the client and its connection parameters: keep it in a Secret instead.
      const self = this as unknown as { password: unknown; connectionParameters?: object };
      const hold = (value: unknown) => (typeof value === "string" ? new Secret(value) : value);
      let held = hold(self.password);
      // The text only while `connect` runs, when pg (or libpq, for pg-native) authenticates with it.
      const property: PropertyDescriptor = {
        configurable: true,
        enumerable: false,
        get: () => (this.#connecting > 0 && Secret.isSecret(held) ? held.reveal() : held),
        set: (value: unknown) => {
          held = hold(value);
        },
      };
      Object.defineProperty(this, "password", property);
      if (self.connectionParameters) Object.defineProperty(self.connectionParameters, "password", property);
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | undefined {
      this.#connecting++;
      let done = false;
      const finish = () => {
        if (!done) this.#connecting--;
        done = true;
      };
      try {
        if (callback) {
          super.connect((err: Error) => {
            finish();
            callback(err);
          });
          return;
        }
        return super.connect().then(
          (client) => {
            finish();
            return client;
          },
          (error: unknown) => {
            finish();
            throw error;
          },
        );
      } catch (error) {
        finish();
        throw error;
      }
    }
  };
}

/**
 * The smallest string above every string that starts with `prefix`, in code-point order
 * (`undefined` when there is none): the last code point plus one.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = [...prefix];
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return cps.join("") + String.fromCodePoint(next);
    }
  }
  return undefined;
}

const VALUE_TYPES = new Set<string>(["text", "bytes", "json"]);
const COLUMNS = "value_type, content_type, metadata, etag, size, modified, expires_at";

interface InfoRow {
  value_type: string | null;
  content_type: string;
  metadata: Record<string, string> | null;
  etag: string;
  size: string | number;
  modified: Date;
  expires_at: Date | null;
}

/**
 * The PostgreSQL driver: one row per key in one table (`key text COLLATE "C"`, so `ORDER BY
 * key` is code-point order and pages are index range scans). Every operation is a single
 * statement, so each is atomic on its own: conditional writes are `INSERT … ON CONFLICT …
 * WHERE` and `UPDATE … WHERE etag = $`, decided by the row lock PostgreSQL takes.
 */
export class PostgresDriver implements StorageDriver {
  readonly name = "postgres";
  readonly capabilities: StorageCapabilities = {
    // getStream reads only the requested range, in slices of readChunkSize.
    rangeRead: true,
    conditionalWrite: true,
    serverSideCopy: true,
    keyIsAlsoPrefix: true,
    durable: true,
    persistent: true,
  };
  /** The table, as given (`schema.table` or `table`). */
  readonly table: string;
  readonly #sql: string;
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  /** The option that set the pool's `statement_timeout`, if one did. */
  readonly #statementTimeoutOption: string | undefined;
  readonly #createTable: boolean;
  readonly #where: string;
  /** The storage's clock (epoch ms): every expiry judgement compares deadlines with it. */
  readonly #now: () => number;
  #ready: Promise<void> | undefined;
  /** Bytes fetched per query by reads. */
  readonly #chunk: number;
  /** `exists`, `copy` and `move` judge expiry with the storage's clock. */
  readonly honorsExpiry = true;

  constructor(options: PostgresStorageOptions = {}) {
    if (typeof options !== "object" || options === null) throw new StorageConfigError("PostgresStorage needs options", { backend: "postgres" });
    this.table = options.table ?? DEFAULT_TABLE;
    this.#sql = quoteTable(this.table).sql;
    this.#createTable = options.createTable ?? true;
    this.#now = typeof options.clock === "function" ? options.clock : Date.now;
    for (const name of ["poolSize", "connectionTimeout", "statementTimeout", "port", "readChunkSize"] as const) {
      const v = options[name];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new StorageConfigError(`Invalid option ${name}: expected a positive integer`, { backend: "postgres" });
    }
    if (options.readChunkSize !== undefined && options.readChunkSize > MAX_READ_CHUNK_BYTES) {
      throw new StorageConfigError(`Invalid option readChunkSize: at most ${MAX_READ_CHUNK_BYTES} bytes (64 MiB)`, { backend: "postgres" });
    }
    this.#chunk = options.readChunkSize ?? DEFAULT_READ_CHUNK_BYTES;
    if (options.pool) {
      this.#pool = options.pool;
      this.#ownsPool = false;
      this.#statementTimeoutOption = undefined;
      this.#where = "a caller's pool";
    } else {
      const { connectionString: poolConnectionString, password: poolPassword, Client: poolClient, ...poolConfig } = options.poolConfig ?? {};
      const connectionString = heldText("connectionString", options.connectionString ?? poolConnectionString);
      // A password function in poolConfig (pg's own way to supply one) is passed on as is.
      const passwordFunction = options.password === undefined && typeof poolPassword === "function" ? poolPassword : undefined;
      const password = passwordFunction ? undefined : heldText("password", options.password ?? poolPassword);
      const config: pg.PoolConfig = {
        application_name: "pepperpy-storage",
        ...poolConfig,
        max: options.poolSize ?? 10,
        connectionTimeoutMillis: options.connectionTimeout ?? 10_000,
        // The credentials reach each connection through this class, never the pool's options.
        Client: secretHoldingClient((poolClient as typeof pg.Client | undefined) ?? pg.Client, connectionString, password),
      };
      if (passwordFunction) config.password = passwordFunction;
      if (options.host !== undefined) config.host = options.host;
      if (options.port !== undefined) config.port = options.port;
      if (options.user !== undefined) config.user = options.user;
      if (options.database !== undefined) config.database = options.database;
      if (options.statementTimeout !== undefined) config.statement_timeout = options.statementTimeout;
      this.#pool = new pg.Pool(config);
      this.#ownsPool = true;
      this.#statementTimeoutOption =
        options.statementTimeout !== undefined ? "statementTimeout" : poolConfig.statement_timeout !== undefined ? "poolConfig.statement_timeout" : undefined;
      this.#where =
        connectionString !== undefined
          ? redactConnectionString(connectionString.reveal())
          : `postgres://${options.user ?? "(default user)"}@${options.host ?? "localhost"}:${options.port ?? 5432}/${options.database ?? ""}`;
    }
    // An idle connection the server closed (a restart) is reported here; without a listener
    // it would crash the process. The next query gets a fresh connection.
    this.#pool.on("error", () => undefined);
  }

  /** The pg pool (for what this API does not cover). */
  get pool(): pg.Pool {
    return this.#pool;
  }

  /** The storage clock's instant, the one every expiry judgement in SQL compares with (a query parameter, never the server's `now()`). */
  #clockNow(): Date {
    return new Date(this.#now());
  }

  /** Creates the table once per driver; concurrent creators are serialized by an advisory lock. */
  #ensureTable(): Promise<void> {
    if (!this.#createTable) return Promise.resolve();
    this.#ready ??= (async () => {
      const client = await this.#pool.connect();
      try {
        await client.query("BEGIN");
        // CREATE TABLE IF NOT EXISTS alone races: two sessions can both pass the check
        // and one fails on the catalog's unique index. The lock orders them.
        await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`pepperpy-storage:${this.table}`]);
        await client.query(createTableSql(this.table));
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    })().catch((error: unknown) => {
      this.#ready = undefined; // try again on the next call
      throw error;
    });
    return this.#ready;
  }

  /** The pool's time limits, named by the options that set them, for timeout messages. */
  #timeouts(): Pick<PostgresErrorContext, "connectionTimeout" | "statementTimeout" | "queryTimeout"> {
    const o = (this.#pool as { options?: { connectionTimeoutMillis?: unknown; statement_timeout?: unknown; query_timeout?: unknown } }).options ?? {};
    const ms = (v: unknown) => (typeof v === "number" && v > 0 ? v : undefined);
    const own = this.#ownsPool;
    return {
      connectionTimeout: { option: own ? "connectionTimeout" : "the pool's connectionTimeoutMillis", ms: ms(o.connectionTimeoutMillis) },
      statementTimeout: {
        option: own ? (this.#statementTimeoutOption ?? "the server's statement_timeout") : ms(o.statement_timeout) ? "the pool's statement_timeout" : "the server's statement_timeout",
        ms: ms(o.statement_timeout),
      },
      queryTimeout: { option: own ? "poolConfig.query_timeout" : "the pool's query_timeout", ms: ms(o.query_timeout) },
    };
  }

  async #query<R extends pg.QueryResultRow>(key: string | undefined, ctx: DriverContext, text: string, values: unknown[], write = false): Promise<pg.QueryResult<R>> {
    try {
      await this.#ensureTable();
      return await this.#pool.query<R>(text, values);
    } catch (error) {
      throw mapPostgresError(error, { key, operation: ctx.operation, signal: ctx.signal, write, ...this.#timeouts() });
    }
  }

  #info(key: string, row: InfoRow): ObjectInfo {
    return {
      key,
      size: Number(row.size),
      lastModified: row.modified,
      etag: row.etag,
      contentType: row.content_type,
      metadata: row.metadata ?? {},
      valueType: row.value_type !== null && VALUE_TYPES.has(row.value_type) ? (row.value_type as ValueType) : undefined,
      expiresAt: row.expires_at ?? undefined,
    };
  }

  /**
   * One query for a value up to `readChunkSize` bytes. A larger one (its `value` comes back
   * NULL) is read in slices in one REPEATABLE READ transaction, so every slice comes from
   * the same version of the row and no query returns more than one slice of hex text.
   */
  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const res = await this.#query<InfoRow & { value: Buffer | null }>(
      key,
      ctx,
      `SELECT CASE WHEN size <= $3 THEN value END AS value, ${COLUMNS} FROM ${this.#sql} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`,
      [key, this.#clockNow(), this.#chunk],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    if (row.value !== null) return { info: this.#info(key, row), data: row.value };
    return this.#readInSlices(key, ctx);
  }

  async #readInSlices(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    let client: pg.PoolClient | undefined;
    let broken = false;
    try {
      client = await this.#pool.connect();
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const res = await client.query<InfoRow>(`SELECT ${COLUMNS} FROM ${this.#sql} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`, [
        key,
        this.#clockNow(),
      ]);
      const row = res.rows[0];
      let entry: StoredEntry | undefined;
      if (row) {
        const size = Number(row.size);
        const data = Buffer.allocUnsafe(size);
        for (let offset = 0; offset < size; offset += this.#chunk) {
          ctx.signal.throwIfAborted();
          const part = await client.query<{ part: Buffer }>(`SELECT substring(value from $2 for $3) AS part FROM ${this.#sql} WHERE key = $1`, [
            key,
            offset + 1,
            this.#chunk,
          ]);
          const bytes = part.rows[0]?.part;
          if (!bytes || bytes.byteLength !== Math.min(this.#chunk, size - offset)) throw new Error("The row changed inside a REPEATABLE READ transaction");
          bytes.copy(data, offset);
        }
        entry = { info: this.#info(key, row), data };
      }
      await client.query("COMMIT");
      return entry;
    } catch (error) {
      broken = true;
      await client?.query("ROLLBACK").catch(() => undefined);
      throw mapPostgresError(error, { key, operation: ctx.operation, signal: ctx.signal, write: false, ...this.#timeouts() });
    } finally {
      // A connection that failed mid-transaction is dropped, not handed back to the pool.
      client?.release(broken);
    }
  }

  /**
   * `getStream`: the range only, fetched `readChunkSize` bytes per query as the stream is
   * read. The first slice comes with the row's info; every later one is read only while
   * the row still has the etag the stream started with, so a value overwritten or deleted
   * mid-stream ends it with a `StorageConflictError`, never a mix of two values.
   */
  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const from = range.start ?? 0;
    const want = (to: number) => Math.min(this.#chunk, to - from);
    const firstLength = range.end === undefined ? this.#chunk : want(range.end + 1);
    const res = await this.#query<InfoRow & { part: Buffer }>(
      key,
      ctx,
      `SELECT substring(value from $3 for $4) AS part, ${COLUMNS} FROM ${this.#sql} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`,
      [key, this.#clockNow(), from + 1, firstLength],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    const info = this.#info(key, row);
    const to = Math.min(range.end === undefined ? info.size : range.end + 1, info.size);
    const first = row.part;
    if (from >= to || from + first.byteLength >= to) return { info, stream: Readable.from([first], { objectMode: false }) };
    const etag = row.etag;
    const chunk = this.#chunk;
    const readSlice = (offset: number) =>
      this.#query<{ part: Buffer }>(key, { ...ctx, signal: NEVER_ABORTED }, `SELECT substring(value from $2 for $3) AS part FROM ${this.#sql} WHERE key = $1 AND etag = $4`, [
        key,
        offset + 1,
        Math.min(chunk, to - offset),
        etag,
      ]);
    async function* slices(): AsyncGenerator<Buffer> {
      yield first;
      for (let offset = from + first.byteLength; offset < to; offset += chunk) {
        const bytes = (await readSlice(offset)).rows[0]?.part;
        if (!bytes) {
          throw new StorageConflictError("The value was overwritten or deleted while it was being streamed", { key, operation: ctx.operation, backend: "postgres" });
        }
        yield bytes;
      }
    }
    return { info, stream: Readable.from(slices(), { objectMode: false }) };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const res = await this.#query<InfoRow>(key, ctx, `SELECT ${COLUMNS} FROM ${this.#sql} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`, [
      key,
      this.#clockNow(),
    ]);
    const row = res.rows[0];
    return row && this.#info(key, row);
  }

  async exists(key: string, ctx: DriverContext): Promise<boolean> {
    const res = await this.#query(key, ctx, `SELECT 1 FROM ${this.#sql} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`, [key, this.#clockNow()]);
    return res.rowCount === 1;
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const tooLarge = (size: string) =>
      new StorageValidationError(`Value of ${size} bytes is larger than PostgresStorage's limit (MAX_VALUE_BYTES, ${MAX_VALUE_BYTES} bytes)`, {
        key,
        operation: ctx.operation,
        backend: "postgres",
      });
    // A per-call maxSize above the limit gets this far; what is refused here could not be read back whole.
    if (req.body instanceof Uint8Array && req.body.byteLength > MAX_VALUE_BYTES) throw tooLarge(String(req.body.byteLength));
    const data = req.body instanceof Uint8Array ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) : await collectUpTo(req.body, MAX_VALUE_BYTES, tooLarge);
    ctx.signal.throwIfAborted();
    const etag = `"${randomUUID()}"`;
    const now = new Date();
    const expiresAt = req.expiresAt !== undefined ? new Date(req.expiresAt) : null;
    // $10: the storage's clock, which decides whether an existing row has expired.
    const values: unknown[] = [key, data, req.valueType, req.contentType, JSON.stringify(req.metadata), etag, data.byteLength, now, expiresAt, this.#clockNow()];
    const set =
      "value = EXCLUDED.value, value_type = EXCLUDED.value_type, content_type = EXCLUDED.content_type, metadata = EXCLUDED.metadata, " +
      "etag = EXCLUDED.etag, size = EXCLUDED.size, modified = EXCLUDED.modified, expires_at = EXCLUDED.expires_at";
    const insert = `INSERT INTO ${this.#sql} AS t (key, value, value_type, content_type, metadata, etag, size, modified, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
    let text: string;
    if (req.ifMatch !== undefined) {
      text =
        `UPDATE ${this.#sql} SET value = $2, value_type = $3, content_type = $4, metadata = $5, etag = $6, size = $7, modified = $8, expires_at = $9 ` +
        "WHERE key = $1 AND etag = $11 AND (expires_at IS NULL OR expires_at > $10)";
      values.push(req.ifMatch);
    } else if (req.ifNoneMatch === "*") {
      // Only an expired row may be replaced: for every reader it is already gone.
      text = `${insert} ON CONFLICT (key) DO UPDATE SET ${set} WHERE t.expires_at IS NOT NULL AND t.expires_at <= $10`;
    } else {
      text = `${insert} ON CONFLICT (key) DO UPDATE SET ${set}`;
      values.pop(); // an unconditional write judges no expiry
    }
    const res = await this.#query(key, ctx, text, values, true);
    if (res.rowCount !== 1) {
      throw new StorageConflictError(req.ifMatch !== undefined ? "Etag mismatch (ifMatch)" : "Key already exists (ifNoneMatch)", {
        key,
        operation: ctx.operation,
        backend: "postgres",
      });
    }
    return {
      key,
      size: data.byteLength,
      lastModified: now,
      etag,
      contentType: req.contentType,
      metadata: { ...req.metadata },
      valueType: req.valueType,
      expiresAt: expiresAt ?? undefined,
    };
  }

  async delete(key: string, ctx: DriverContext): Promise<void> {
    await this.#query(key, ctx, `DELETE FROM ${this.#sql} WHERE key = $1`, [key], true);
  }

  async deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      await this.#query(chunk.length === 1 ? chunk[0] : undefined, ctx, `DELETE FROM ${this.#sql} WHERE key = ANY($1::text[])`, [chunk], true);
    }
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    if (from === to) return this.exists(from, ctx);
    const res = await this.#query(
      to,
      ctx,
      `INSERT INTO ${this.#sql} (key, value, value_type, content_type, metadata, etag, size, modified, expires_at) ` +
        `SELECT $2, value, value_type, content_type, metadata, $3, size, $4, expires_at FROM ${this.#sql} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $5) ` +
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, value_type = EXCLUDED.value_type, content_type = EXCLUDED.content_type, " +
        "metadata = EXCLUDED.metadata, etag = EXCLUDED.etag, size = EXCLUDED.size, modified = EXCLUDED.modified, expires_at = EXCLUDED.expires_at",
      [from, to, `"${randomUUID()}"`, new Date(), this.#clockNow()],
      true,
    );
    return res.rowCount === 1;
  }

  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    if (from === to) return this.exists(from, ctx);
    // One statement: the source row is deleted and the target written together, or neither.
    const res = await this.#query(
      to,
      ctx,
      `WITH src AS (DELETE FROM ${this.#sql} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $5) RETURNING *) ` +
        `INSERT INTO ${this.#sql} (key, value, value_type, content_type, metadata, etag, size, modified, expires_at) ` +
        "SELECT $2, value, value_type, content_type, metadata, $3, size, $4, expires_at FROM src " +
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, value_type = EXCLUDED.value_type, content_type = EXCLUDED.content_type, " +
        "metadata = EXCLUDED.metadata, etag = EXCLUDED.etag, size = EXCLUDED.size, modified = EXCLUDED.modified, expires_at = EXCLUDED.expires_at",
      [from, to, `"${randomUUID()}"`, new Date(), this.#clockNow()],
      true,
    );
    return res.rowCount === 1;
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const where = ["(expires_at IS NULL OR expires_at > $1)"];
    const values: unknown[] = [this.#clockNow()];
    if (prefix !== "") {
      values.push(prefix);
      where.push(`key >= $${values.length}`);
      const upper = prefixUpperBound(prefix);
      if (upper !== undefined) {
        values.push(upper);
        where.push(`key < $${values.length}`);
      }
    }
    if (page.cursor !== undefined && compareKeys(page.cursor, prefix) >= 0) {
      values.push(page.cursor);
      where.push(`key > $${values.length}`);
    }
    values.push(page.limit);
    const res = await this.#query<{ key: string; size: string; modified: Date; etag: string; expires_at: Date | null }>(
      undefined,
      ctx,
      `SELECT key, size, modified, etag, expires_at FROM ${this.#sql} WHERE ${where.join(" AND ")} ORDER BY key LIMIT $${values.length}`,
      values,
    );
    const items = res.rows.map((r) => ({ key: r.key, size: Number(r.size), lastModified: r.modified, etag: r.etag, expiresAt: r.expires_at ?? undefined }));
    return items.length >= page.limit && items.length > 0 ? { items, cursor: items[items.length - 1]!.key } : { items };
  }

  /**
   * Deletes the rows under `prefix` whose deadline is at or before `now` (the storage's
   * clock) in one statement, and returns how many: a row rewritten with a later deadline no
   * longer matches, so it is kept.
   */
  async purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    const values: unknown[] = [new Date(now)];
    const where = ["expires_at IS NOT NULL", "expires_at <= $1"];
    if (prefix !== "") {
      values.push(prefix);
      where.push(`key >= $${values.length}`);
      const upper = prefixUpperBound(prefix);
      if (upper !== undefined) {
        values.push(upper);
        where.push(`key < $${values.length}`);
      }
    }
    const res = await this.#query(prefix || undefined, ctx, `DELETE FROM ${this.#sql} WHERE ${where.join(" AND ")}`, values, true);
    return res.rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end().catch(() => undefined);
  }

  /** What `util.inspect` shows: the server (password redacted) and the table, never the pool's settings. */
  [inspect.custom](): string {
    return `PostgresDriver { server: ${this.#where}, table: ${JSON.stringify(this.table)} }`;
  }

  toJSON(): Record<string, string> {
    return { backend: "postgres", server: this.#where, table: this.table };
  }
}

/** The bytes of a stream, refusing (`tooLarge("more than max")`) once they pass `max`. */
async function collectUpTo(source: AsyncIterable<Uint8Array>, max: number, tooLarge: (size: string) => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > max) throw tooLarge(`more than ${max}`);
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, total);
}

/**
 * A storage in one PostgreSQL table: values with their type, content type, metadata, etag
 * and expiry in one row per key, code-point key order (`COLLATE "C"`), conditional writes
 * decided by single statements, values up to {@link MAX_VALUE_BYTES}.
 *
 * @example
 * const storage = new PostgresStorage({ connectionString: process.env.DATABASE_URL });
 * await storage.put("users/1", { name: "Ana" });
 */
/** The option names of {@link PostgresStorageOptions} besides the common ones (the compiler checks the list is complete). */
const POSTGRES_OPTION_NAMES = Object.keys({
  connectionString: true, host: true, port: true, user: true, password: true, database: true, table: true, createTable: true, poolSize: true,
  connectionTimeout: true, statementTimeout: true, poolConfig: true, pool: true, readChunkSize: true,
} satisfies Record<Exclude<keyof PostgresStorageOptions, keyof BaseStorageOptions>, true>);

export class PostgresStorage extends BaseStorage {
  protected declare readonly driver: PostgresDriver;

  constructor(options: PostgresStorageOptions | string | Secret<string> = {}) {
    const opts: PostgresStorageOptions = typeof options === "string" || Secret.isSecret(options) ? { connectionString: options as string | Secret<string> } : options;
    checkOptionNames(opts, POSTGRES_OPTION_NAMES, "PostgresStorage");
    if (opts.maxSize !== undefined && opts.maxSize > MAX_VALUE_BYTES) {
      throw new StorageConfigError(`Invalid option maxSize: PostgresStorage stores values up to ${MAX_VALUE_BYTES} bytes (256 MiB)`, { backend: "postgres" });
    }
    super(new PostgresDriver(opts), { ...opts, maxSize: opts.maxSize ?? MAX_VALUE_BYTES });
  }

  /** The pg pool. */
  get pool(): pg.Pool {
    return this.driver.pool;
  }

  /** The table. */
  get table(): string {
    return this.driver.table;
  }

  [inspect.custom](): string {
    return `PostgresStorage ${inspect(this.driver)}`;
  }

  toJSON(): Record<string, string> {
    return this.driver.toJSON();
  }
}
