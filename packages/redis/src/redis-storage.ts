import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import {
  checkOptionNames,
  BaseStorage,
  type BaseStorageOptions,
  type DriverContext,
  type ListEntry,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  type StorageCapabilities,
  StorageConfigError,
  StorageConflictError,
  type StorageDriver,
  Secret,
  type StoredEntry,
  type ValueType,
  type WriteRequest,
  collect,
  compareKeys,
} from "@pepperpy/storage-core";
import { type ChainableCommander, Redis, type RedisOptions } from "ioredis";
import { type TimeoutLimit, mapRedisError } from "./errors.js";

/** Options of {@link RedisStorage}. */
export interface RedisStorageOptions extends BaseStorageOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS), as text or a `Secret`; never printed. */
  url?: string | Secret<string> | undefined;
  /** Host (default `127.0.0.1`), ignored with `url`. */
  host?: string | undefined;
  /** Port (default 6379), ignored with `url`. */
  port?: number | undefined;
  /** ACL user name. */
  username?: string | undefined;
  /** Password (`AUTH`), as text or a `Secret`; held so that neither the storage nor its client prints it. */
  password?: string | Secret<string> | undefined;
  /** Database number (default 0). */
  db?: number | undefined;
  /** Namespace of every Redis key this storage uses (default `pepperpy`); storages with different ones never see each other. */
  keyPrefix?: string | undefined;
  /** Milliseconds to establish a connection (default 10 000). */
  connectTimeout?: number | undefined;
  /** Extra ioredis options (TLS, sentinels, …); connection settings above win. */
  redisOptions?: RedisOptions | undefined;
  /** Your own ioredis client: used as is and not closed by `close()`. */
  client?: Redis | undefined;
}

/** Lua: write one value atomically, with its condition, its expiry and its index entry. */
const WRITE_SCRIPT = `
local mode = ARGV[1]
if mode == '1' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
elseif mode == '2' then
  if redis.call('HGET', KEYS[1], 'e') ~= ARGV[2] then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[3], 't', ARGV[4], 'c', ARGV[5], 'm', ARGV[6], 'e', ARGV[7], 'l', ARGV[8], 's', ARGV[9])
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'x', ARGV[10])
  redis.call('PEXPIREAT', KEYS[1], ARGV[10])
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('ZADD', KEYS[2], 0, ARGV[11]) end
return 1
`;

/** Lua: copy (ARGV[4] = '0') or move (ARGV[4] = '1') a value server-side, keeping its expiry. */
const COPY_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if KEYS[1] == KEYS[2] then return 1 end
if ARGV[4] == '1' then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[5])
else
  redis.call('COPY', KEYS[1], KEYS[2], 'REPLACE')
end
redis.call('HSET', KEYS[2], 'e', ARGV[1], 'l', ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
return 1
`;

/** Lua: drop index entries whose value is gone (expired natively). */
const PRUNE_SCRIPT = `
local n = 0
for i, member in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then n = n + redis.call('ZREM', KEYS[1], member) end
end
return n
`;

/**
 * Lua: purge one page of index members (KEYS[2..] their hashes, ARGV[2..] the members):
 * a hash whose stored deadline (ARGV[1], epoch ms) has passed is deleted, and an index entry
 * whose hash Redis already expired is dropped; both count.
 */
const PURGE_SCRIPT = `
local n = 0
for i = 2, #KEYS do
  local member = ARGV[i]
  if redis.call('EXISTS', KEYS[i]) == 0 then
    n = n + redis.call('ZREM', KEYS[1], member)
  else
    local x = redis.call('HGET', KEYS[i], 'x')
    if x and tonumber(x) <= tonumber(ARGV[1]) then
      redis.call('DEL', KEYS[i])
      redis.call('ZREM', KEYS[1], member)
      n = n + 1
    end
  end
end
return n
`;

/** Lua: delete one value and its index entry (one command instead of a MULTI/EXEC of three). */
const DELETE_SCRIPT = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

interface ScriptedRedis extends Redis {
  ppDelete(...args: (string | Buffer | number)[]): Promise<number>;
  ppPurge(...args: (string | Buffer | number)[]): Promise<number>;
  ppWrite(...args: (string | Buffer | number)[]): Promise<number>;
  ppCopy(...args: (string | Buffer | number)[]): Promise<number>;
  ppPrune(...args: (string | Buffer | number)[]): Promise<number>;
}

const VALUE_TYPES = new Set<string>(["text", "bytes", "json"]);
/** Members of the key index are UTF-8; no valid UTF-8 string contains the byte 0xFF, so `prefix + 0xFF` bounds a prefix. */
const PREFIX_END = Buffer.from([0xff]);
/** Keys deleted per transaction by `deleteMany`. */
const DELETE_CHUNK = 500;
/** Commands per pipeline of reads and writes, and the value bytes at which a pipeline is sent at once. */
const PIPELINE_COMMANDS = 1000;
const PIPELINE_BYTES = 8 * 1024 * 1024;

interface Queued {
  add: (pipeline: ChainableCommander) => void;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Sends the reads and writes issued in one turn of the event loop as one pipeline: one
 * socket write, one round trip. `getMany` and `putMany` call `read` / `write` for up to
 * `concurrency` keys at once, so each wave of them becomes one pipeline (at most
 * {@link PIPELINE_COMMANDS} commands, sent early past {@link PIPELINE_BYTES} of values).
 * Each command keeps its own reply, error and atomicity (a write is one script), so
 * conditional writes, expiry and metadata are decided per key as before.
 */
class Pipeliner {
  readonly #client: Redis;
  #queue: Queued[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(client: Redis) {
    this.#client = client;
  }

  run(add: (pipeline: ChainableCommander) => void, bytes = 0): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ add, resolve, reject });
      this.#bytes += bytes;
      if (this.#queue.length >= PIPELINE_COMMANDS || this.#bytes >= PIPELINE_BYTES) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        // After the current callbacks and their promise chains: every call of this turn joins.
        setImmediate(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    this.#bytes = 0;
    let pipeline: ChainableCommander;
    try {
      pipeline = this.#client.pipeline();
      for (const queued of batch) queued.add(pipeline);
    } catch (error) {
      for (const queued of batch) queued.reject(error);
      return;
    }
    pipeline.exec().then(
      (results) => {
        batch.forEach((queued, i) => {
          const result = results?.[i];
          if (!result) queued.reject(new Error("Connection is closed."));
          else if (result[0]) queued.reject(result[0]);
          else queued.resolve(result[1]);
        });
      },
      (error: unknown) => {
        for (const queued of batch) queued.reject(error);
      },
    );
  }
}

interface ScriptedPipeline extends ChainableCommander {
  ppWrite(...args: (string | Buffer | number)[]): ChainableCommander;
}

/** `redis://user:secret@host` with the password replaced, for `inspect` and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid url>";
  }
}

/** A string option given as text or as a `Secret`, held in a `Secret`. */
function heldText(name: string, value: unknown): Secret<string> | undefined {
  if (value === undefined) return undefined;
  const text = Secret.reveal(value);
  if (typeof text !== "string") throw new StorageConfigError(`Invalid option ${name}: expected a string or a Secret of one`, { backend: "redis" });
  return Secret.isSecret(value) ? (value as Secret<string>) : new Secret(text);
}

const REDACTED = () => "[redacted]";

/**
 * A password as ioredis takes it without keeping the text: bytes (ioredis writes a `Buffer`
 * argument of `AUTH` / `HELLO` to the socket as is) that print as `[redacted]` through
 * `util.inspect`, `JSON.stringify` and `String()`. The bytes are allocated outside Node's
 * shared buffer pool, so no other buffer's memory holds them.
 */
function passwordBytes(password: Secret<string>): Buffer {
  const text = password.reveal();
  const bytes = Buffer.alloc(Buffer.byteLength(text));
  bytes.write(text);
  Object.defineProperties(bytes, {
    [inspect.custom]: { value: () => "Secret([redacted])" },
    toJSON: { value: REDACTED },
    toString: { value: REDACTED },
    toLocaleString: { value: REDACTED },
  });
  return bytes;
}

/**
 * Replaces the passwords on an ioredis client's options (from `password`, the URL, or
 * `redisOptions`) with {@link passwordBytes}: the client reads them only when it connects,
 * and from then on `client.options` and its connection state hold the redacted bytes.
 */
function holdPasswords(client: Redis): void {
  const options = client.options as Record<string, unknown>;
  for (const name of ["password", "sentinelPassword"]) {
    const value = options[name];
    if (typeof value === "string" && value !== "") options[name] = passwordBytes(new Secret(value));
  }
}

function checkPrefix(prefix: unknown): string {
  if (prefix === undefined) return "pepperpy";
  if (typeof prefix !== "string" || prefix.length === 0 || /[{}\s]/.test(prefix)) {
    throw new StorageConfigError("Invalid option keyPrefix: expected a non-empty string without braces or spaces", { backend: "redis" });
  }
  return prefix;
}

/**
 * The Redis driver. Each value is one Redis hash `{<keyPrefix>}:v:<key>` holding the bytes
 * (`d`), value type, content type, metadata, etag, size, write time and expiry; a sorted
 * set `{<keyPrefix>}:index` (every score 0, so members sort by their UTF-8 bytes, which is
 * code-point order) lists the keys. Writes, copies and moves are Lua scripts, so the hash
 * and the index change together and conditions are checked atomically. The braces are a
 * Redis Cluster hash tag: every key of one storage lives in one slot.
 */
export class RedisDriver implements StorageDriver {
  readonly name = "redis";
  readonly capabilities: StorageCapabilities = {
    rangeRead: false,
    conditionalWrite: true,
    serverSideCopy: true,
    keyIsAlsoPrefix: true,
    // Redis acknowledges a write once it is in memory; durability is the server's
    // persistence setting (appendonly / appendfsync), not this client's.
    durable: false,
    persistent: true,
  };
  /** The namespace of every Redis key (`{keyPrefix}`). */
  readonly keyPrefix: string;
  readonly #client: ScriptedRedis;
  readonly #ownsClient: boolean;
  readonly #where: string;
  readonly #index: string;
  readonly #pipeliner: Pipeliner;

  constructor(options: RedisStorageOptions = {}) {
    if (typeof options !== "object" || options === null) throw new StorageConfigError("RedisStorage needs options", { backend: "redis" });
    this.keyPrefix = checkPrefix(options.keyPrefix);
    this.#index = `{${this.keyPrefix}}:index`;
    if (options.client) {
      this.#client = options.client as ScriptedRedis;
      this.#ownsClient = false;
      this.#where = "a caller's client";
    } else {
      const settings: RedisOptions = {
        ...options.redisOptions,
        // Connect on the first command: constructing never throws for an unreachable server.
        lazyConnect: true,
        connectTimeout: options.connectTimeout ?? 10_000,
        // While the server is unreachable, a command waits for one reconnect attempt and
        // then fails retryably (MaxRetriesPerRequestError); the client keeps reconnecting.
        maxRetriesPerRequest: 1,
        retryStrategy: (times) => Math.min(times * 100, 2000),
        // A command in flight when the connection drops is failed, never sent twice: a
        // replayed conditional write could report a conflict with itself.
        autoResendUnfulfilledCommands: false,
      };
      if (options.host !== undefined) settings.host = options.host;
      if (options.port !== undefined) settings.port = options.port;
      const url = heldText("url", options.url);
      const password = heldText("password", options.password);
      if (options.username !== undefined) settings.username = options.username;
      if (password !== undefined) settings.password = password.reveal();
      if (options.db !== undefined) settings.db = options.db;
      // ioredis parses the URL and keeps only its parts; the password is held right after.
      this.#client = (url !== undefined ? new Redis(url.reveal(), settings) : new Redis(settings)) as ScriptedRedis;
      holdPasswords(this.#client);
      this.#ownsClient = true;
      this.#where = url !== undefined ? redactUrl(url.reveal()) : `redis://${options.host ?? "127.0.0.1"}:${options.port ?? 6379}/${options.db ?? 0}`;
      // Connection errors reach callers as rejected commands; without a listener ioredis
      // would print each reconnect failure.
      this.#client.on("error", () => undefined);
    }
    this.#client.defineCommand("ppWrite", { numberOfKeys: 2, lua: WRITE_SCRIPT });
    this.#client.defineCommand("ppCopy", { numberOfKeys: 3, lua: COPY_SCRIPT });
    this.#client.defineCommand("ppPrune", { lua: PRUNE_SCRIPT });
    this.#client.defineCommand("ppPurge", { lua: PURGE_SCRIPT });
    this.#client.defineCommand("ppDelete", { numberOfKeys: 2, lua: DELETE_SCRIPT });
    this.#pipeliner = new Pipeliner(this.#client);
  }

  /**
   * The ioredis client (for what this API does not cover). Its `options.password` is a
   * redacted byte holder (see the README), never the text.
   */
  get client(): Redis {
    return this.#client;
  }

  /** The Redis key of a storage key's hash. */
  valueKey(key: string): string {
    return `{${this.keyPrefix}}:v:${key}`;
  }

  /** The Redis key of the sorted index of keys. */
  get indexKey(): string {
    return this.#index;
  }

  /** The client's time limits, as its options hold them, for timeout messages. */
  #timeouts(): { commandTimeout: TimeoutLimit; connectTimeout: TimeoutLimit } {
    const { commandTimeout, connectTimeout } = this.#client.options;
    const own = this.#ownsClient;
    return {
      commandTimeout: { option: own ? "redisOptions.commandTimeout" : "the client's commandTimeout", ms: commandTimeout },
      connectTimeout: { option: own ? "connectTimeout" : "the client's connectTimeout", ms: connectTimeout },
    };
  }

  async #call<T>(key: string | undefined, ctx: DriverContext, fn: () => Promise<T>, write = false): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapRedisError(error, { key, operation: ctx.operation, signal: ctx.signal, write, ...this.#timeouts() });
    }
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const valueKey = this.valueKey(key);
    const h = (await this.#call(key, ctx, () => this.#pipeliner.run((p) => p.hgetallBuffer(valueKey)))) as Record<string, Buffer>;
    if (!h.e) return undefined;
    const data = h.d ?? Buffer.alloc(0);
    return { info: this.#info(key, (f) => h[f]?.toString("utf8") ?? null, data.byteLength), data };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const fields = ["t", "c", "m", "e", "l", "s", "x"] as const;
    const values = await this.#call(key, ctx, () => this.#client.hmget(this.valueKey(key), ...fields));
    if (values[3] === null) return undefined;
    const get = (f: string) => values[fields.indexOf(f as (typeof fields)[number])] ?? null;
    return this.#info(key, get, Number(get("s")));
  }

  async exists(key: string, ctx: DriverContext): Promise<boolean> {
    return (await this.#call(key, ctx, () => this.#client.exists(this.valueKey(key)))) === 1;
  }

  #info(key: string, get: (field: string) => string | null, size: number): ObjectInfo {
    const t = get("t");
    const x = get("x");
    let metadata: Record<string, string> = {};
    try {
      metadata = JSON.parse(get("m") ?? "{}") as Record<string, string>;
    } catch {
      metadata = {};
    }
    return {
      key,
      size,
      lastModified: new Date(Number(get("l"))),
      etag: get("e") ?? undefined,
      contentType: get("c") ?? "application/octet-stream",
      metadata,
      valueType: t !== null && VALUE_TYPES.has(t) ? (t as ValueType) : undefined,
      expiresAt: x ? new Date(Number(x)) : undefined,
    };
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const data = req.body instanceof Uint8Array ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) : await collect(req.body);
    ctx.signal.throwIfAborted();
    const mode = req.ifNoneMatch === "*" ? "1" : req.ifMatch !== undefined ? "2" : "0";
    const etag = `"${randomUUID()}"`;
    const now = Date.now();
    const metadata = JSON.stringify(req.metadata);
    const expiresAt = req.expiresAt !== undefined ? String(Math.floor(req.expiresAt)) : "";
    const written = await this.#call(
      key,
      ctx,
      () => {
        const args = [this.valueKey(key), this.#index, mode, req.ifMatch ?? "", data, req.valueType, req.contentType, metadata, etag, String(now), String(data.byteLength), expiresAt, key];
        // A large value goes alone, as before: a pipeline would copy it once more into its one write.
        if (data.byteLength >= PIPELINE_BYTES) return this.#client.ppWrite(...args);
        return this.#pipeliner.run((p) => (p as ScriptedPipeline).ppWrite(...args), data.byteLength);
      },
      true,
    );
    if (written !== 1) {
      throw new StorageConflictError(mode === "1" ? "Key already exists (ifNoneMatch)" : "Etag mismatch (ifMatch)", {
        key,
        operation: ctx.operation,
        backend: "redis",
      });
    }
    return {
      key,
      size: data.byteLength,
      lastModified: new Date(now),
      etag,
      contentType: req.contentType,
      metadata: { ...req.metadata },
      valueType: req.valueType,
      expiresAt: req.expiresAt !== undefined ? new Date(req.expiresAt) : undefined,
    };
  }

  async delete(key: string, ctx: DriverContext): Promise<void> {
    await this.#call(key, ctx, () => this.#client.ppDelete(this.valueKey(key), this.#index, key), true);
  }

  async deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_CHUNK) {
      const chunk = keys.slice(i, i + DELETE_CHUNK);
      await this.#call(
        chunk.length === 1 ? chunk[0] : undefined,
        ctx,
        () =>
          this.#client
            .multi()
            .del(...chunk.map((k) => this.valueKey(k)))
            .zrem(this.#index, ...chunk)
            .exec()
            .then(checkExec),
        true,
      );
    }
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.#copyOrMove(from, to, ctx, "0");
  }

  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.#copyOrMove(from, to, ctx, "1");
  }

  async #copyOrMove(from: string, to: string, ctx: DriverContext, move: "0" | "1"): Promise<boolean> {
    const etag = `"${randomUUID()}"`;
    const done = await this.#call(
      to,
      ctx,
      () => this.#client.ppCopy(this.valueKey(from), this.valueKey(to), this.#index, etag, String(Date.now()), to, move, from),
      true,
    );
    return done === 1;
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const items: ListEntry[] = [];
    let cursor = page.cursor !== undefined && compareKeys(page.cursor, prefix) >= 0 ? page.cursor : undefined;
    const max: string | Buffer = prefix === "" ? "+" : Buffer.concat([Buffer.from(`(${prefix}`), PREFIX_END]);
    while (items.length < page.limit) {
      const want = page.limit - items.length;
      const min = cursor !== undefined ? `(${cursor}` : prefix === "" ? "-" : `[${prefix}`;
      const members = await this.#call(undefined, ctx, () => this.#client.zrangebylex(this.#index, min, max, "LIMIT", 0, want));
      if (members.length === 0) break;
      // Size, time and etag in one round trip; a missing hash is an index entry whose value expired.
      const pipeline = this.#client.pipeline();
      for (const m of members) pipeline.hmget(this.valueKey(m), "s", "l", "e", "x");
      const rows = await this.#call(undefined, ctx, () => pipeline.exec().then(checkExec));
      const stale: string[] = [];
      members.forEach((m, i) => {
        const [s, l, e, x] = rows[i] as (string | null)[];
        if (e === null || e === undefined) {
          stale.push(m);
          return;
        }
        items.push({ key: m, size: Number(s), lastModified: new Date(Number(l)), etag: e, expiresAt: x ? new Date(Number(x)) : undefined });
      });
      if (stale.length > 0) {
        // Best effort: a failure here only leaves entries a later listing prunes.
        await this.#client.ppPrune(stale.length + 1, this.#index, ...stale.map((m) => this.valueKey(m)), ...stale).catch(() => undefined);
      }
      cursor = members[members.length - 1];
      if (members.length < want) return { items };
    }
    return items.length > 0 && items.length >= page.limit ? { items, cursor: items[items.length - 1]!.key } : { items };
  }

  /**
   * Deletes the values under `prefix` whose deadline is at or before `now` (the storage's
   * clock) and drops index entries of values Redis already expired; returns how many. Each
   * page is one script, so a key rewritten with a later deadline is never deleted.
   */
  async purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    let purged = 0;
    let cursor: string | undefined;
    const max: string | Buffer = prefix === "" ? "+" : Buffer.concat([Buffer.from(`(${prefix}`), PREFIX_END]);
    while (true) {
      const min = cursor !== undefined ? `(${cursor}` : prefix === "" ? "-" : `[${prefix}`;
      const members = await this.#call(undefined, ctx, () => this.#client.zrangebylex(this.#index, min, max, "LIMIT", 0, 500));
      if (members.length === 0) return purged;
      purged += await this.#call(
        undefined,
        ctx,
        () => this.#client.ppPurge(members.length + 1, this.#index, ...members.map((m) => this.valueKey(m)), String(now), ...members),
        true,
      );
      cursor = members[members.length - 1];
      if (members.length < 500) return purged;
    }
  }

  async close(): Promise<void> {
    if (!this.#ownsClient) return;
    try {
      await this.#client.quit();
    } catch {
      // The connection is already gone.
    }
    this.#client.disconnect();
  }

  /** What `util.inspect` shows: the server (password redacted) and the prefix, never the client's settings. */
  [inspect.custom](): string {
    return `RedisDriver { server: ${this.#where}, keyPrefix: ${JSON.stringify(this.keyPrefix)} }`;
  }

  toJSON(): Record<string, string> {
    return { backend: "redis", server: this.#where, keyPrefix: this.keyPrefix };
  }
}

/** The results of a MULTI/EXEC or pipeline, throwing the first command error. */
function checkExec(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error("Connection is closed.");
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/**
 * A storage in Redis: values with their type, content type and metadata in one hash per
 * key, a sorted index for key-ordered listings, native expiry (`PEXPIREAT`), atomic
 * conditional writes (Lua), and connection loss reported as a retryable
 * `StorageUnavailableError` while the client reconnects on its own.
 *
 * @example
 * const storage = new RedisStorage({ url: "redis://127.0.0.1:6379" });
 * await storage.put("sessions/abc", { user: 1 }, { ttl: 60_000 });
 */
/** The option names of {@link RedisStorageOptions} besides the common ones (the compiler checks the list is complete). */
const REDIS_OPTION_NAMES = Object.keys({
  url: true, host: true, port: true, username: true, password: true, db: true, keyPrefix: true, connectTimeout: true, redisOptions: true, client: true,
} satisfies Record<Exclude<keyof RedisStorageOptions, keyof BaseStorageOptions>, true>);

export class RedisStorage extends BaseStorage {
  protected declare readonly driver: RedisDriver;

  constructor(options: RedisStorageOptions | string | Secret<string> = {}) {
    const opts: RedisStorageOptions = typeof options === "string" || Secret.isSecret(options) ? { url: options as string | Secret<string> } : options;
    checkOptionNames(opts, REDIS_OPTION_NAMES, "RedisStorage");
    super(new RedisDriver(opts), opts);
  }

  /** The ioredis client. */
  get client(): Redis {
    return this.driver.client;
  }

  /** The namespace of this storage's Redis keys. */
  get keyPrefix(): string {
    return this.driver.keyPrefix;
  }

  [inspect.custom](): string {
    return `RedisStorage ${inspect(this.driver)}`;
  }

  toJSON(): Record<string, string> {
    return this.driver.toJSON();
  }
}
