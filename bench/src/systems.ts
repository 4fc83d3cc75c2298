// Every measured system: ours, the raw Node baselines and the peers, behind one Adapter.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { access, mkdir, open, readFile, readdir, rename, rm, unlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createGunzip, createGzip, gunzip, gzip } from "node:zlib";
import type { Storage } from "@pepperpy/storage-core";
import { type Adapter, type SystemEnv, UnavailableError } from "./adapter.js";
import type { WorkloadId } from "./config.js";
import { compareCodePoints } from "./data.js";
import { AZURE_SYSTEMS } from "./systems-azure.js";

/** ours: this library; raw: Node or the SDK used directly; peer: another storage library. */
export type SystemKind = "ours" | "raw" | "peer";

export interface SystemDef {
  id: string;
  kind: SystemKind;
  /** One line: what it is. */
  label: string;
  /** What a resolved `put` guarantees (said next to every number of the system). */
  durability: string;
  /** Workloads it takes part in. */
  workloads: WorkloadId[];
  /** The raw system its numbers are divided by in the ratio tables. */
  baseline?: string | undefined;
  /** For peers: our system of equal durability it is compared with. */
  versus?: string | undefined;
  /** The cache system: `get` phases read keys that a warm-up pass has just read (cache hits). */
  warmGets?: boolean | undefined;
  create(env: SystemEnv): Promise<Adapter>;
}

const require = createRequire(import.meta.url);

/** Imports a module, turning "not there (yet)" and native-binding failures into {@link UnavailableError}. */
export async function load<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const message = String(e?.message ?? e).split("\n")[0];
    if (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND" || e?.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
      throw new UnavailableError(`${specifier} is not available: ${message}`);
    }
    if (/native binding|GLIBC|dlopen/i.test(String(e?.message)) || (e as { cause?: unknown }).cause) {
      const cause = (e as { cause?: unknown }).cause;
      const detail = Array.isArray(cause) ? cause.map((c) => String((c as Error).message).split("\n")[0]).join("; ") : "";
      throw new UnavailableError(`${specifier} does not load on Node ${process.versions.node}: ${message}${detail ? ` (${detail})` : ""}`);
    }
    throw error;
  }
}

/** Version of an installed package, for the notes. */
export function versionOf(pkg: string): string | undefined {
  try {
    const main = require.resolve(pkg);
    let dir = dirname(main);
    for (let i = 0; i < 6; i++) {
      try {
        const json = require(join(dir, "package.json")) as { name?: string; version?: string };
        if (json.name === pkg) return json.version;
      } catch {
        // not here; go up
      }
      dir = dirname(dir);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "NOT_FOUND";
}

function sorted(keys: string[]): string[] {
  return keys.sort(compareCodePoints);
}

/** Drives one of our `Storage`s. */
export function ours(storage: Storage, fsRoot?: string): Adapter {
  return {
    async put(key, value) {
      await storage.put(key, value);
    },
    async get(key) {
      try {
        return (await storage.get(key)) as Uint8Array;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    exists: (key) => storage.exists(key),
    list: (prefix) => storage.list(prefix),
    delete: (key) => storage.delete(key),
    async putStream(key, source) {
      await storage.put(key, source);
    },
    getStream: (key) => storage.getStream(key),
    fsRoot,
    close: () => storage.close(),
  };
}

// ---------------------------------------------------------------------------------------
// Our systems

async function ourMemory(): Promise<Storage> {
  const { MemoryStorage } = await load<typeof import("@pepperpy/storage-memory")>("@pepperpy/storage-memory");
  return new MemoryStorage();
}

type FsModule = { FileStorage: new (opts: { path: string; fsync?: boolean }) => Storage };

async function ourFile(basePath: string, fsync = true): Promise<Storage> {
  const { FileStorage } = await load<FsModule>("@pepperpy/storage-fs");
  return new FileStorage(fsync ? { path: basePath } : { path: basePath, fsync: false });
}

/** True when FileStorage documents an `fsync: false` option (read from its source). */
export async function fileHasNoFsyncOption(): Promise<boolean> {
  try {
    const entry = require.resolve("@pepperpy/storage-fs/package.json");
    const dir = join(dirname(entry), "src");
    const files = await readdir(dir);
    for (const f of files) {
      if (!f.endsWith(".ts")) continue;
      const text = await readFile(join(dir, f), "utf8");
      if (/\bfsync\??\s*:\s*boolean/.test(text)) return true;
    }
  } catch {
    return false;
  }
  return false;
}

function s3ClientConfig(endpoint: string | undefined) {
  if (!endpoint) throw new UnavailableError("no S3 server (s3rver did not start)");
  return {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const,
  };
}

async function s3Client(env: SystemEnv) {
  const sdk = await load<typeof import("@aws-sdk/client-s3")>("@aws-sdk/client-s3");
  const client = new sdk.S3Client(s3ClientConfig(env.s3Endpoint));
  await client.send(new sdk.CreateBucketCommand({ Bucket: env.bucket }));
  return { sdk, client };
}

async function ourS3(env: SystemEnv): Promise<Storage> {
  const mod = await load<{ S3Storage: new (opts: Record<string, unknown>) => Storage }>("@pepperpy/storage-s3");
  const { client } = await s3Client(env);
  return new mod.S3Storage({ bucket: env.bucket, client });
}

async function layer<T>(pkg: string, cls: string): Promise<new (opts: T) => Storage> {
  const mod = await load<Record<string, unknown>>(pkg);
  const ctor = mod[cls];
  if (typeof ctor !== "function") throw new UnavailableError(`${pkg} does not export ${cls} yet`);
  return ctor as new (opts: T) => Storage;
}

/** The key our encryption layer and the raw crypto baseline use. */
const KEY = randomBytes(32);

// ---------------------------------------------------------------------------------------
// Raw baselines

function enoent(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ENOENT";
}

/** Files under `dir` as keys relative to `root`, sorted. */
async function walk(root: string, prefix: string): Promise<string[]> {
  const dir = join(root, prefix);
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if (enoent(error)) return [];
    throw error;
  }
  const keys: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const parent = (e as { parentPath?: string }).parentPath ?? (e as { path: string }).path;
    const rel = relative(root, join(parent, e.name));
    keys.push(sep === "/" ? rel : rel.split(sep).join("/"));
  }
  return sorted(keys);
}

/**
 * fsyncs a directory, so a rename or unlink in it survives a crash (the file's own fsync
 * makes its bytes durable, not its name).
 */
async function syncDirOf(path: string): Promise<void> {
  const handle = await open(dirname(path), "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `node:fs/promises` used directly: writeFile / readFile / access / readdir / unlink.
 * `durable`: what a careful program writes by hand for the durability FileStorage gives —
 * a temp file, its fsync, the rename, and an fsync of the directory so the rename (and an
 * unlink) survives a crash.
 */
function rawFs(root: string, durable: boolean): Adapter {
  let tmpCounter = 0;
  const writeOnce = async (path: string, value: Buffer) => {
    if (!durable) return writeFile(path, value);
    const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
    const handle = await open(tmp, "w");
    try {
      await handle.writeFile(value);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncDirOf(path);
  };
  const writeStreamOnce = async (path: string, source: Readable) => {
    const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
    // `flush: true` fsyncs before the stream closes.
    await pipeline(source, createWriteStream(tmp, { flush: durable }));
    await rename(tmp, path);
    if (durable) await syncDirOf(path);
  };
  return {
    async put(key, value) {
      const path = join(root, key);
      try {
        await writeOnce(path, value);
      } catch (error) {
        if (!enoent(error)) throw error;
        await mkdir(dirname(path), { recursive: true });
        await writeOnce(path, value);
      }
    },
    async get(key) {
      try {
        return await readFile(join(root, key));
      } catch (error) {
        if (enoent(error)) return undefined;
        throw error;
      }
    },
    async exists(key) {
      try {
        await access(join(root, key));
        return true;
      } catch {
        return false;
      }
    },
    list: (prefix) => walk(root, prefix),
    async delete(key) {
      const path = join(root, key);
      try {
        await unlink(path);
      } catch (error) {
        if (!enoent(error)) throw error;
        return;
      }
      if (durable) await syncDirOf(path);
    },
    async putStream(key, source) {
      const path = join(root, key);
      await mkdir(dirname(path), { recursive: true });
      await writeStreamOnce(path, source);
    },
    getStream: async (key) => createReadStream(join(root, key), { highWaterMark: 1024 * 1024 }),
    fsRoot: root,
    close: async () => undefined,
  };
}

/** A plain `Map` (and `lru-cache`): values stored by reference, no copy, no checks. */
function mapAdapter(map: { get(k: string): Buffer | undefined; set(k: string, v: Buffer): unknown; has(k: string): boolean; delete(k: string): unknown; keys(): Iterable<string> }): Adapter {
  return {
    async put(key, value) {
      map.set(key, value);
    },
    get: async (key) => map.get(key),
    exists: async (key) => map.has(key),
    async list(prefix) {
      const keys: string[] = [];
      for (const k of map.keys()) if (k.startsWith(prefix)) keys.push(k);
      return sorted(keys);
    },
    async delete(key) {
      map.delete(key);
    },
    close: async () => undefined,
  };
}

/** A Map of values transformed by `encode` on put and `decode` on get (raw zlib / crypto). */
function transformedMap(encode: (v: Buffer) => Promise<Buffer>, decode: (v: Buffer) => Promise<Buffer>): Adapter {
  const map = new Map<string, Buffer>();
  return {
    ...mapAdapter(map),
    async put(key, value) {
      map.set(key, await encode(value));
    },
    async get(key) {
      const stored = map.get(key);
      return stored && (await decode(stored));
    },
  };
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** AES-256-GCM as a user of node:crypto writes it: 12-byte IV, 16-byte tag, then the ciphertext. */
function seal(plain: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", KEY, iv, { authTagLength: 16 });
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function open_(sealed: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", KEY, sealed.subarray(0, 12), { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}

/** The AWS SDK used directly against the same s3rver. */
async function rawS3(env: SystemEnv): Promise<Adapter> {
  const { sdk, client } = await s3Client(env);
  const { Upload } = await load<typeof import("@aws-sdk/lib-storage")>("@aws-sdk/lib-storage");
  const Bucket = env.bucket;
  const missing = (error: unknown) => {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
  };
  const putSingle = async (key: string, value: Buffer) => {
    await client.send(new sdk.PutObjectCommand({ Bucket, Key: key, Body: value }));
  };
  return {
    put: putSingle,
    async get(key) {
      try {
        const out = await client.send(new sdk.GetObjectCommand({ Bucket, Key: key }));
        return await out.Body!.transformToByteArray();
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async exists(key) {
      try {
        await client.send(new sdk.HeadObjectCommand({ Bucket, Key: key }));
        return true;
      } catch (error) {
        if (missing(error)) return false;
        throw error;
      }
    },
    async list(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) keys.push(o.Key!);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async delete(key) {
      await client.send(new sdk.DeleteObjectCommand({ Bucket, Key: key }));
    },
    uploads: {
      "put-single": putSingle,
      "put-multipart": async (key, value) => {
        await new Upload({ client, params: { Bucket, Key: key, Body: value }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
      },
    },
    close: async () => client.destroy(),
  };
}

/** gzip + AES-256-GCM streamed to a file with temp + fsync + rename + directory fsync: the raw form of our stream stack. */
function rawStream(root: string): Adapter {
  const base = rawFs(root, true);
  const ivs = new Map<string, { iv: Buffer; tag: Buffer }>();
  return {
    ...base,
    async putStream(key, source) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", KEY, iv, { authTagLength: 16 });
      const path = join(root, key);
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.tmp`;
      await pipeline(source, createGzip({ level: GZIP_LEVEL }), cipher, createWriteStream(tmp, { flush: true }));
      await rename(tmp, path);
      await syncDirOf(path);
      ivs.set(key, { iv, tag: cipher.getAuthTag() });
    },
    async getStream(key) {
      const meta = ivs.get(key);
      if (!meta) throw new Error(`no such stream ${key}`);
      const decipher = createDecipheriv("aes-256-gcm", KEY, meta.iv, { authTagLength: 16 });
      decipher.setAuthTag(meta.tag);
      const out = new Transform({ transform: (chunk, _e, cb) => cb(null, chunk) });
      pipeline(createReadStream(join(root, key), { highWaterMark: 1024 * 1024 }), decipher, createGunzip(), out).catch((e) => out.destroy(e));
      return out;
    },
  };
}

/** The gzip level our compression layer uses by default, so raw zlib does the same work. */
export const GZIP_LEVEL = 6;

// ---------------------------------------------------------------------------------------
// Peers

async function unstorageAdapter(driverName: "fs" | "memory", root: string): Promise<Adapter> {
  const { createStorage } = await load<typeof import("unstorage")>("unstorage");
  const driverMod = await load<{ default: (opts?: Record<string, unknown>) => unknown }>(`unstorage/drivers/${driverName}`);
  const storage = createStorage({ driver: driverMod.default(driverName === "fs" ? { base: root } : {}) as never });
  // unstorage normalises "/" in keys to ":".
  return {
    async put(key, value) {
      await storage.setItemRaw(key, value);
    },
    async get(key) {
      const v = await storage.getItemRaw(key);
      return v == null ? undefined : (v as Uint8Array);
    },
    exists: (key) => storage.hasItem(key),
    async list(prefix) {
      const keys = await storage.getKeys(prefix);
      return sorted(keys.map((k) => k.replaceAll(":", "/")));
    },
    delete: (key) => storage.removeItem(key),
    fsRoot: driverName === "fs" ? root : undefined,
    close: () => storage.dispose(),
  };
}

async function keyvAdapter(): Promise<Adapter> {
  const { Keyv } = await load<typeof import("keyv")>("keyv");
  const keyv = new Keyv<Buffer>();
  return {
    async put(key, value) {
      await keyv.set(key, value);
    },
    get: async (key) => (await keyv.get(key)) ?? undefined,
    exists: (key) => keyv.has(key),
    async list(prefix) {
      const keys: string[] = [];
      if (!keyv.iterator) throw new Error("keyv store has no iterator");
      for await (const [k] of keyv.iterator(undefined) as AsyncIterable<[string, unknown]>) if (k.startsWith(prefix)) keys.push(k);
      return sorted(keys);
    },
    async delete(key) {
      await keyv.delete(key);
    },
    close: () => keyv.disconnect(),
  };
}

async function flydriveAdapter(root: string): Promise<Adapter> {
  const { Disk } = await load<typeof import("flydrive")>("flydrive");
  const { FSDriver } = await load<typeof import("flydrive/drivers/fs")>("flydrive/drivers/fs");
  await mkdir(root, { recursive: true });
  const disk = new Disk(new FSDriver({ location: root, visibility: "public" }));
  return {
    async put(key, value) {
      await disk.put(key, value);
    },
    async get(key) {
      try {
        return await disk.getBytes(key);
      } catch (error) {
        if ((error as { code?: string }).code === "E_CANNOT_READ_FILE" && enoent((error as { cause?: unknown }).cause)) return undefined;
        if (!(await disk.exists(key))) return undefined;
        throw error;
      }
    },
    exists: (key) => disk.exists(key),
    async list(prefix) {
      const { objects } = await disk.listAll(prefix.replace(/\/$/, ""), { recursive: true });
      const keys: string[] = [];
      for (const o of objects) if (o.isFile) keys.push(o.key);
      return sorted(keys);
    },
    delete: (key) => disk.delete(key),
    async putStream(key, source) {
      await disk.putStream(key, source);
    },
    getStream: (key) => disk.getStream(key),
    fsRoot: root,
    close: async () => undefined,
  };
}

async function opendalAdapter(scheme: "fs" | "memory", root: string): Promise<Adapter> {
  const { Operator } = await load<typeof import("opendal")>("opendal");
  const op = new Operator(scheme, scheme === "fs" ? { root } : {});
  return {
    async put(key, value) {
      await op.write(key, value);
    },
    async get(key) {
      try {
        return await op.read(key);
      } catch (error) {
        if (/NotFound/i.test(String((error as Error).message))) return undefined;
        throw error;
      }
    },
    exists: (key) => op.exists(key),
    async list(prefix) {
      const entries = await op.list(prefix, { recursive: true });
      const keys: string[] = [];
      for (const e of entries) {
        const p = e.path();
        if (!p.endsWith("/")) keys.push(p);
      }
      return sorted(keys);
    },
    delete: (key) => op.delete(key),
    fsRoot: scheme === "fs" ? root : undefined,
    close: async () => undefined,
  };
}

// ---------------------------------------------------------------------------------------
// Redis and PostgreSQL, ours and the raw clients, on servers run.ts starts on loopback

function redisUrl(env: SystemEnv): string {
  if (!env.redisUrl) throw new UnavailableError("no redis-server (not installed, or it did not start)");
  return env.redisUrl;
}

function postgresUrl(env: SystemEnv): string {
  if (!env.postgresUrl) throw new UnavailableError("no PostgreSQL (not installed, or it did not start)");
  return env.postgresUrl;
}

/** A table name of its own per job. */
function tableFor(env: SystemEnv): string {
  return `bench_${env.bucket.replace(/[^a-z0-9]/g, "_")}`.slice(0, 63);
}

async function ourRedis(env: SystemEnv): Promise<Storage> {
  const { RedisStorage } = await load<typeof import("@pepperpy/storage-redis")>("@pepperpy/storage-redis");
  return new RedisStorage({ url: redisUrl(env), keyPrefix: env.bucket });
}

async function ourPostgres(env: SystemEnv): Promise<Storage> {
  const { PostgresStorage } = await load<typeof import("@pepperpy/storage-postgres")>("@pepperpy/storage-postgres");
  return new PostgresStorage({ connectionString: postgresUrl(env), table: tableFor(env), poolSize: 16 });
}

/** ioredis used directly: SET / GET / EXISTS / DEL on plain string keys, SCAN + sort to list. */
async function rawRedis(env: SystemEnv): Promise<Adapter> {
  const { Redis } = await load<typeof import("ioredis")>("ioredis");
  const client = new Redis(redisUrl(env));
  const ns = `${env.bucket}:`;
  return {
    async put(key, value) {
      await client.set(ns + key, value);
    },
    async get(key) {
      return (await client.getBuffer(ns + key)) ?? undefined;
    },
    exists: async (key) => (await client.exists(ns + key)) === 1,
    async list(prefix) {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await client.scan(cursor, "MATCH", `${ns}${prefix}*`, "COUNT", 1000);
        for (const k of batch) keys.push(k.slice(ns.length));
        cursor = next;
      } while (cursor !== "0");
      return keys.sort(compareCodePoints);
    },
    async delete(key) {
      await client.del(ns + key);
    },
    close: async () => {
      client.disconnect();
    },
  };
}

/** pg used directly on a two-column table (key text COLLATE "C", value bytea). */
async function rawPostgres(env: SystemEnv): Promise<Adapter> {
  const pg = (await load<{ default: typeof import("pg") }>("pg")).default;
  const pool = new pg.Pool({ connectionString: postgresUrl(env), max: 16 });
  const table = `raw_${tableFor(env)}`.slice(0, 63);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL)`);
  return {
    async put(key, value) {
      await pool.query(`INSERT INTO ${table} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, value]);
    },
    async get(key) {
      const res = await pool.query<{ value: Buffer }>(`SELECT value FROM ${table} WHERE key = $1`, [key]);
      return res.rows[0]?.value;
    },
    exists: async (key) => (await pool.query(`SELECT 1 FROM ${table} WHERE key = $1`, [key])).rowCount === 1,
    async list(prefix) {
      // The workloads list prefixes ending in "/": "0" is the next code point.
      const upper = `${prefix.slice(0, -1)}0`;
      const res = await pool.query<{ key: string }>(`SELECT key FROM ${table} WHERE key >= $1 AND key < $2 ORDER BY key`, [prefix, upper]);
      return res.rows.map((r) => r.key);
    },
    async delete(key) {
      await pool.query(`DELETE FROM ${table} WHERE key = $1`, [key]);
    },
    close: () => pool.end(),
  };
}

// ---------------------------------------------------------------------------------------
// SQLite: ours (worker thread) and better-sqlite3 driven directly on the main thread,
// same file layout, WAL and synchronous=FULL.

async function ourSqlite(dir: string): Promise<Storage> {
  const mod = await load<{ SqliteStorage: new (opts: Record<string, unknown>) => Storage }>("@pepperpy/storage-sqlite");
  return new mod.SqliteStorage({ path: join(dir, "bench.db") });
}

async function rawSqlite(dir: string): Promise<Adapter> {
  const Database = (await load<{ default: typeof import("better-sqlite3") }>("better-sqlite3")).default;
  const db = new Database(join(dir, "raw.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL)");
  const put = db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  const get = db.prepare("SELECT value FROM kv WHERE key = ?").pluck();
  const has = db.prepare("SELECT 1 FROM kv WHERE key = ?").pluck();
  const del = db.prepare("DELETE FROM kv WHERE key = ?");
  const list = db.prepare("SELECT key FROM kv WHERE substr(key, 1, length(?)) = ? ORDER BY key").pluck();
  return {
    async put(key, value) {
      put.run(key, value);
    },
    async get(key) {
      return get.get(key) as Buffer | undefined;
    },
    async exists(key) {
      return has.get(key) !== undefined;
    },
    async list(prefix) {
      return list.all(prefix, prefix) as string[];
    },
    async delete(key) {
      del.run(key);
    },
    close: async () => {
      db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// The table of systems

const KV: WorkloadId[] = ["small", "medium", "large", "list"];
const NO_FSYNC = "no fsync: a crash can lose or tear the last writes";

export const SYSTEMS: SystemDef[] = [
  // ours
  {
    id: "memory",
    kind: "ours",
    label: "MemoryStorage",
    durability: "process memory, values isolated by copy",
    workloads: KV,
    baseline: "map",
    create: async () => ours(await ourMemory()),
  },
  {
    id: "file",
    kind: "ours",
    label: "FileStorage (temp file + fsync + rename + directory fsync)",
    durability: "durable: temp file, fsync, rename, directory fsync",
    workloads: KV,
    baseline: "raw-fs-durable",
    create: async (env) => ours(await ourFile(env.dir), env.dir),
  },
  {
    id: "file-nofsync",
    kind: "ours",
    label: "FileStorage { fsync: false }",
    durability: "atomic (temp file + rename), no fsync",
    workloads: KV,
    baseline: "raw-fs",
    create: async (env) => {
      if (!(await fileHasNoFsyncOption())) throw new UnavailableError("FileStorage offers no fsync: false option");
      return ours(await ourFile(env.dir, false), env.dir);
    },
  },
  {
    id: "s3",
    kind: "ours",
    label: "S3Storage → s3rver",
    durability: "whatever the server acknowledges",
    workloads: [...KV, "upload"],
    baseline: "raw-s3",
    create: async (env) => ours(await ourS3(env)),
  },
  {
    id: "redis",
    kind: "ours",
    label: "RedisStorage → redis-server 7 (loopback)",
    durability: "server memory (no persistence configured)",
    workloads: ["small"],
    baseline: "raw-redis",
    create: async (env) => ours(await ourRedis(env)),
  },
  {
    id: "postgres",
    kind: "ours",
    label: "PostgresStorage → PostgreSQL 15 (loopback, fsync off)",
    durability: "committed transaction (the bench cluster runs with fsync off)",
    workloads: ["small"],
    baseline: "raw-postgres",
    create: async (env) => ours(await ourPostgres(env)),
  },
  {
    id: "cache-file",
    kind: "ours",
    label: "CachedStorage(FileStorage), gets are cache hits",
    durability: "durable (writes go through to FileStorage)",
    // Every value size: a cached get is never slower than an uncached one (issue 17).
    workloads: ["small", "medium", "large"],
    baseline: "lru",
    warmGets: true,
    create: async (env) => {
      const Cached = await layer<{ backend: Storage; cacheSize: number }>("@pepperpy/storage-cache", "CachedStorage");
      return ours(new Cached({ backend: await ourFile(env.dir), cacheSize: env.smallCount * 2 + 16 }));
    },
  },
  {
    id: "pass3-memory",
    kind: "ours",
    label: "stack(MemoryStorage, three pass-through layers)",
    durability: "as MemoryStorage",
    workloads: ["small"],
    baseline: "memory",
    create: async () => {
      const core = await load<typeof import("@pepperpy/storage-core")>("@pepperpy/storage-core");
      // A layer that changes nothing: what being a layer costs.
      const pass = (inner: import("@pepperpy/storage-core").StorageDriver) => new core.ForwardingDriver(inner, "pass");
      return ours(core.stack(await ourMemory(), [pass, pass, pass]));
    },
  },
  {
    id: "metrics-memory",
    kind: "ours",
    label: "MetricsStorage(MemoryStorage)",
    durability: "as MemoryStorage",
    workloads: ["small"],
    baseline: "memory",
    create: async () => {
      const Metrics = await layer<{ backend: Storage }>("@pepperpy/storage-metrics", "MetricsStorage");
      return ours(new Metrics({ backend: await ourMemory() }));
    },
  },
  {
    id: "metrics-file",
    kind: "ours",
    label: "MetricsStorage(FileStorage)",
    durability: "as FileStorage",
    workloads: ["small", "overhead"],
    baseline: "file",
    create: async (env) => {
      const Metrics = await layer<{ backend: Storage }>("@pepperpy/storage-metrics", "MetricsStorage");
      const adapter = ours(new Metrics({ backend: await ourFile(env.dir) }));
      // The same FileStorage without the layer, for the overhead workload (its own directory).
      const plainDir = `${env.dir}-plain`;
      await mkdir(plainDir, { recursive: true });
      const plain = ours(await ourFile(plainDir), plainDir);
      return {
        ...adapter,
        paired: plain,
        close: async () => {
          await adapter.close();
          await plain.close();
          await rm(plainDir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    id: "compress",
    kind: "ours",
    label: "CompressedStorage(MemoryStorage), gzip",
    durability: "as MemoryStorage",
    workloads: ["medium", "large"],
    baseline: "raw-zlib",
    create: async () => {
      const Compressed = await layer<{ backend: Storage; algorithm?: string; level?: number }>("@pepperpy/storage-compress", "CompressedStorage");
      return ours(new Compressed({ backend: await ourMemory(), algorithm: "gzip", level: GZIP_LEVEL }));
    },
  },
  {
    id: "encrypt",
    kind: "ours",
    label: "EncryptedStorage(MemoryStorage), AES-256-GCM",
    durability: "as MemoryStorage",
    workloads: ["medium", "large"],
    baseline: "raw-crypto",
    create: async () => {
      const Encrypted = await layer<{ backend: Storage; key: Buffer }>("@pepperpy/storage-crypto", "EncryptedStorage");
      return ours(new Encrypted({ backend: await ourMemory(), key: KEY }));
    },
  },
  {
    id: "stream-stack",
    kind: "ours",
    label: "CompressedStorage(EncryptedStorage(FileStorage)), streamed",
    durability: "durable: temp file, fsync, rename, directory fsync",
    workloads: ["stream"],
    baseline: "raw-stream",
    create: async (env) => {
      const Compressed = await layer<{ backend: Storage; algorithm?: string; level?: number }>("@pepperpy/storage-compress", "CompressedStorage");
      const Encrypted = await layer<{ backend: Storage; key: Buffer }>("@pepperpy/storage-crypto", "EncryptedStorage");
      // The default timeout: for a streamed put it bounds the wait for each chunk, not the whole transfer.
      const { FileStorage } = await load<{ FileStorage: new (opts: { path: string }) => Storage }>("@pepperpy/storage-fs");
      const file = new FileStorage({ path: env.dir });
      return ours(new Compressed({ backend: new Encrypted({ backend: file, key: KEY }), algorithm: "gzip", level: GZIP_LEVEL }));
    },
  },
  // raw baselines
  {
    id: "raw-fs",
    kind: "raw",
    label: "node:fs/promises writeFile / readFile",
    durability: NO_FSYNC,
    workloads: KV,
    create: async (env) => rawFs(env.dir, false),
  },
  {
    id: "raw-fs-durable",
    kind: "raw",
    label: "node:fs/promises temp file + fsync + rename + directory fsync",
    durability: "durable: temp file, fsync, rename, directory fsync",
    workloads: KV,
    create: async (env) => rawFs(env.dir, true),
  },
  {
    id: "map",
    kind: "raw",
    label: "plain Map (no copy)",
    durability: "process memory, values shared by reference",
    workloads: KV,
    create: async () => mapAdapter(new Map()),
  },
  {
    id: "lru",
    kind: "raw",
    label: "lru-cache (no copy)",
    durability: "process memory, values shared by reference",
    workloads: ["small"],
    create: async (env) => {
      const { LRUCache } = await load<typeof import("lru-cache")>("lru-cache");
      // Sized like the cache layer's cache (lru-cache preallocates `max` slots).
      return mapAdapter(new LRUCache<string, Buffer>({ max: env.smallCount * 2 + 16 }));
    },
  },
  {
    id: "raw-zlib",
    kind: "raw",
    label: "node:zlib gzip into a Map",
    durability: "process memory",
    workloads: ["medium", "large"],
    create: async () =>
      transformedMap(
        (v) => gzipAsync(v, { level: GZIP_LEVEL }),
        (v) => gunzipAsync(v),
      ),
  },
  {
    id: "raw-crypto",
    kind: "raw",
    label: "node:crypto AES-256-GCM into a Map",
    durability: "process memory",
    workloads: ["medium", "large"],
    create: async () =>
      transformedMap(
        async (v) => seal(v),
        async (v) => open_(v),
      ),
  },
  {
    id: "raw-s3",
    kind: "raw",
    label: "@aws-sdk/client-s3 → s3rver",
    durability: "whatever the server acknowledges",
    workloads: [...KV, "upload"],
    create: (env) => rawS3(env),
  },
  {
    id: "raw-redis",
    kind: "raw",
    label: "ioredis SET/GET → redis-server 7 (loopback)",
    durability: "server memory (no persistence configured)",
    workloads: ["small"],
    create: (env) => rawRedis(env),
  },
  {
    id: "raw-postgres",
    kind: "raw",
    label: "pg INSERT/SELECT on (key, value) → PostgreSQL 15 (loopback, fsync off)",
    durability: "committed transaction (the bench cluster runs with fsync off)",
    workloads: ["small"],
    create: (env) => rawPostgres(env),
  },
  {
    id: "raw-stream",
    kind: "raw",
    label: "zlib gzip → AES-256-GCM → file (fsync + rename)",
    durability: "durable: temp file, fsync, rename, directory fsync",
    workloads: ["stream"],
    create: async (env) => rawStream(env.dir),
  },
  // peers
  {
    id: "unstorage-fs",
    kind: "peer",
    label: `unstorage ${versionOf("unstorage") ?? ""} fs driver`,
    durability: NO_FSYNC,
    workloads: KV,
    versus: "file-nofsync",
    create: (env) => unstorageAdapter("fs", env.dir),
  },
  {
    id: "unstorage-memory",
    kind: "peer",
    label: `unstorage ${versionOf("unstorage") ?? ""} memory driver`,
    durability: "process memory, values shared by reference",
    workloads: KV,
    versus: "memory",
    create: (env) => unstorageAdapter("memory", env.dir),
  },
  {
    id: "keyv-memory",
    kind: "peer",
    label: `keyv ${versionOf("keyv") ?? ""} (in-memory Map)`,
    durability: "process memory, values shared by reference",
    workloads: KV,
    versus: "memory",
    create: () => keyvAdapter(),
  },
  {
    id: "flydrive-fs",
    kind: "peer",
    label: `flydrive ${versionOf("flydrive") ?? ""} FSDriver`,
    durability: NO_FSYNC,
    workloads: KV,
    versus: "file-nofsync",
    create: (env) => flydriveAdapter(env.dir),
  },
  {
    id: "opendal-fs",
    kind: "peer",
    label: `opendal ${versionOf("opendal") ?? ""} fs`,
    durability: NO_FSYNC,
    workloads: KV,
    versus: "file-nofsync",
    create: (env) => opendalAdapter("fs", env.dir),
  },
  {
    id: "opendal-memory",
    kind: "peer",
    label: `opendal ${versionOf("opendal") ?? ""} memory`,
    durability: "process memory (Rust side, copied across the binding)",
    workloads: KV,
    versus: "memory",
    create: (env) => opendalAdapter("memory", env.dir),
  },
  {
    id: "sqlite",
    kind: "ours",
    label: "SqliteStorage (worker thread, WAL, synchronous=FULL)",
    durability: "durable: WAL commit fsynced (synchronous=FULL)",
    workloads: KV,
    baseline: "raw-sqlite",
    create: async (env) => ours(await ourSqlite(env.dir)),
  },
  {
    id: "raw-sqlite",
    kind: "raw",
    label: "better-sqlite3 on the main thread (WAL, synchronous=FULL; blocks the event loop)",
    durability: "durable: WAL commit fsynced (synchronous=FULL)",
    workloads: KV,
    create: (env) => rawSqlite(env.dir),
  },
  ...AZURE_SYSTEMS,
];

export function systemById(id: string): SystemDef {
  const s = SYSTEMS.find((x) => x.id === id);
  if (!s) throw new Error(`Unknown system ${id}; known: ${SYSTEMS.map((x) => x.id).join(", ")}`);
  return s;
}

