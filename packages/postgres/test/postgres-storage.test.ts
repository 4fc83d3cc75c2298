import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import {
  NEVER_ABORTED,
  StorageConfigError,
  StorageConflictError,
  type StorageError,
  StorageNotFoundError,
  StoragePermissionError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageValidationError,
  type WriteRequest,
  compareKeys,
  createStorage,
  isStorageError,
  loadConfig,
} from "@pepperpy/storage-core";
import { RetryStorage } from "@pepperpy/storage-retry";
import { freePort, startPostgresServer } from "@pepperpy/storage-testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_VALUE_BYTES, PostgresDriver, PostgresStorage, createTableSql, mapPostgresError, prefixUpperBound } from "../src/index.js";
import { describePostgres, pgBinDir, pgStorageFor, usePostgresServer } from "./helpers.js";

async function caught(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (error) {
    if (isStorageError(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

/**
 * Writes through the driver contract with `req.expiresAt` set, as the core does once it
 * resolves `ttl` / `expiresAt` (SPEC §11; the core's side is built on branch `expiry`).
 */
function putExpiring(driver: PostgresDriver, key: string, value: string, expiresAt: number, extra: Partial<WriteRequest> = {}) {
  return driver.write(
    key,
    { body: Buffer.from(value), valueType: "text", contentType: "text/plain", metadata: {}, expiresAt, options: {}, ...extra },
    { signal: NEVER_ABORTED, operation: "put" },
  );
}

describe("prefixUpperBound", () => {
  it("is above every key with the prefix and below every larger key, in code-point order", () => {
    expect(prefixUpperBound("")).toBeUndefined();
    expect(prefixUpperBound("a/")).toBe("a0");
    expect(prefixUpperBound("a\u{d7ff}")).toBe("a\u{e000}");
    expect(prefixUpperBound("a\u{10ffff}")).toBe("b");
    expect(prefixUpperBound("\u{10ffff}")).toBeUndefined();
    for (const prefix of ["a/", "x\u{ffff}", "é", "a\u{1f600}"]) {
      const upper = prefixUpperBound(prefix)!;
      for (const key of [`${prefix}`, `${prefix}\u{10ffff}\u{10ffff}`, `${prefix}zzz`]) expect(compareKeys(key, upper)).toBeLessThan(0);
      expect(compareKeys(upper, prefix)).toBeGreaterThan(0);
    }
  });
});

describe("README migration", () => {
  it("is the text createTableSql() returns for the default table, so users who run it by hand get the same table", async () => {
    const readme = await readFile(join(import.meta.dirname, "..", "README.md"), "utf8");
    const block = /```sql\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block?.trim()).toBe(createTableSql("pepperpy_storage"));
  });
});

describePostgres("PostgresStorage on a real PostgreSQL", () => {
  const server = usePostgresServer();
  let raw: pg.Client;
  beforeAll(async () => {
    raw = new pg.Client({ host: server.server.host, port: server.server.port, user: "postgres", database: "postgres" });
    await raw.connect();
  });
  afterAll(async () => {
    await raw.end();
  });

  it("creates its table on first use with a code-point ordered key, even when many storages start at once", async () => {
    const storages = Array.from({ length: 8 }, () => pgStorageFor(server.server, { table: "race_created", poolSize: 1 }));
    await Promise.all(storages.map((s, i) => s.put(`k${i}`, i)));
    const columns = await raw.query("SELECT column_name, data_type, collation_name FROM information_schema.columns WHERE table_name = 'race_created' ORDER BY ordinal_position");
    expect(columns.rows.map((r) => r.column_name)).toEqual(["key", "value", "value_type", "content_type", "metadata", "etag", "size", "modified", "expires_at"]);
    expect(columns.rows[0]).toMatchObject({ data_type: "text", collation_name: "C" });
    expect(await storages[0]!.list()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]);
    await Promise.all(storages.map((s) => s.close()));
  });

  it("with createTable: false, a missing table is a StorageConfigError; the documented migration creates it", async () => {
    const storage = pgStorageFor(server.server, { table: "app.migrated", createTable: false });
    const error = await caught(storage.get("k"));
    expect(error).toBeInstanceOf(StorageConfigError);
    expect(error.message).toMatch(/42P01|3F000/);
    await raw.query("CREATE SCHEMA IF NOT EXISTS app");
    await raw.query(createTableSql("app.migrated"));
    await storage.put("k", "v");
    expect(await storage.get("k")).toBe("v");
    await storage.close();
  });

  it("stores one row per key with its type, content type, metadata and etag", async () => {
    const storage = pgStorageFor(server.server, { table: "layout" });
    const info = await storage.put("users/1", { name: "Ana" }, { metadata: { owner: "ana" } });
    const { rows } = await raw.query("SELECT key, convert_from(value, 'UTF8') AS value, value_type, content_type, metadata, etag, size FROM layout");
    expect(rows).toEqual([
      { key: "users/1", value: '{"name":"Ana"}', value_type: "json", content_type: "application/json", metadata: { owner: "ana" }, etag: info.etag, size: "14" },
    ]);
    await storage.close();
  });

  it("keeps expires_at, shows it in stat, hides the row from its deadline and lets a create-only write replace it", async () => {
    const storage = pgStorageFor(server.server, { table: "expiry" });
    const driver = new PostgresDriver({ host: server.server.host, port: server.server.port, user: "postgres", database: "postgres", table: "expiry" });
    await storage.put("long", "stays");
    const expiresAt = Date.now() + 1000;
    expect((await putExpiring(driver, "short", "soon gone", expiresAt)).expiresAt?.getTime()).toBe(expiresAt);
    expect((await storage.stat("short")).expiresAt?.getTime()).toBe(expiresAt);
    expect((await storage.stat("long")).expiresAt).toBeUndefined();
    await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 20));
    expect(await storage.exists("short")).toBe(false);
    expect(await storage.list()).toEqual(["long"]);
    await expect(storage.put("short", "x", { ifMatch: (await raw.query("SELECT etag FROM expiry WHERE key = 'short'")).rows[0].etag })).rejects.toBeInstanceOf(
      StorageConflictError,
    );
    await storage.put("short", "again", { ifNoneMatch: "*" });
    expect(await storage.get("short")).toBe("again");
    await driver.close();
    await storage.close();
  });

  it("purgeExpired (the driver hook the core calls with its clock) deletes rows past the given time under the prefix only", async () => {
    const storage = pgStorageFor(server.server, { table: "purge" });
    const driver = new PostgresDriver({ host: server.server.host, port: server.server.port, user: "postgres", database: "postgres", table: "purge" });
    const ctx = { signal: NEVER_ABORTED, operation: "purgeExpired" };
    const deadline = Date.now() + 60_000;
    for (const k of ["p/a", "p/b", "p/c", "q/a"]) await putExpiring(driver, k, k, deadline);
    await putExpiring(driver, "p/later", "later", deadline + 60_000);
    await storage.put("p/never", "never");
    await storage.put("p/c", "rewritten without a deadline");
    expect(await driver.purgeExpired("p/", deadline - 1, ctx)).toBe(0);
    expect(await driver.purgeExpired("p/", deadline, ctx)).toBe(2);
    expect(await driver.purgeExpired("p/", deadline, ctx)).toBe(0);
    expect(await storage.list()).toEqual(["p/c", "p/later", "p/never", "q/a"]);
    await driver.close();
    await storage.close();
  });

  it("judges expiry by the storage's clock (option clock), never the machine's: reads, listings, conditional writes, copies and purgeExpired", async () => {
    const hour = 3_600_000;
    const ttl = 10 * 60_000;
    const machine = pgStorageFor(server.server, { table: "clock" });
    const ahead = pgStorageFor(server.server, { table: "clock", clock: () => Date.now() + hour });
    const behind = pgStorageFor(server.server, { table: "clock", clock: () => Date.now() - hour });

    // Deadline in 10 min by the machine's clock: already past for the storage an hour ahead.
    await machine.put("a/kept", "no deadline");
    const { etag } = await machine.put("a/x", "x", { ttl });
    await machine.put("a/y", "y", { ttl });
    await expect(ahead.get("a/x")).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(ahead.stat("a/x")).rejects.toBeInstanceOf(StorageNotFoundError);
    expect(await ahead.exists("a/x")).toBe(false);
    expect(await ahead.list("a/")).toEqual(["a/kept"]);
    await expect(ahead.copy("a/x", "a/copy")).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(ahead.put("a/x", "swapped", { ifMatch: etag })).rejects.toBeInstanceOf(StorageConflictError);
    await ahead.put("a/y", "created", { ifNoneMatch: "*" });
    expect(await machine.get("a/y")).toBe("created");
    expect(await machine.get("a/x")).toBe("x");
    expect(await ahead.purgeExpired("a/")).toBe(1);
    expect(await machine.list("a/")).toEqual(["a/kept", "a/y"]);

    // Deadline 50 min ago by the machine's clock: 10 min ahead for the storage an hour behind.
    await behind.put("b/x", "x", { ttl });
    const { rows } = await raw.query("SELECT expires_at < now() AS past FROM clock WHERE key = 'b/x'");
    expect(rows[0].past).toBe(true);
    expect(await behind.get("b/x")).toBe("x");
    expect(await behind.exists("b/x")).toBe(true);
    expect((await behind.stat("b/x")).expiresAt!.getTime()).toBeLessThan(Date.now());
    expect(await behind.list("b/")).toEqual(["b/x"]);
    await expect(behind.put("b/x", "replaced", { ifNoneMatch: "*" })).rejects.toBeInstanceOf(StorageConflictError);
    await behind.put("b/x", "swapped", { ifMatch: (await behind.stat("b/x")).etag, ttl });
    await behind.copy("b/x", "b/copy");
    await behind.move("b/copy", "b/moved");
    expect(await behind.getMany(["b/x", "b/copy", "b/moved"])).toEqual(["swapped", undefined, "swapped"]);
    expect(await behind.purgeExpired("b/")).toBe(0);
    expect(await machine.list("b/")).toEqual([]);
    expect(await machine.purgeExpired("b/")).toBe(2);
    expect(await behind.list("b/")).toEqual([]);
    for (const s of [machine, ahead, behind]) await s.close();
  });

  it("ifMatch is a compare-and-swap: of 10 concurrent swaps from one etag exactly one wins", async () => {
    const storage = pgStorageFor(server.server, { table: "cas", poolSize: 10 });
    const { etag } = await storage.put("counter", "0");
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => storage.put("counter", String(i + 1), { ifMatch: etag })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StorageConflictError);
    await storage.close();
  });

  it("move is one statement: the source is gone and the target has the value, type and metadata", async () => {
    const storage = pgStorageFor(server.server, { table: "moves" });
    await storage.put("a", new Uint8Array([0, 255, 1]), { contentType: "image/png", metadata: { x: "1" } });
    await storage.move("a", "b");
    expect(await storage.list()).toEqual(["b"]);
    expect(Buffer.from((await storage.get("b")) as Uint8Array)).toEqual(Buffer.from([0, 255, 1]));
    expect(await storage.stat("b")).toMatchObject({ contentType: "image/png", metadata: { x: "1" }, size: 3 });
    await storage.close();
  });

  it("a statement over statement_timeout is a retryable StorageTimeoutError and changes nothing", async () => {
    const storage = pgStorageFor(server.server, { table: "slow", statementTimeout: 200 });
    await storage.put("k", "old");
    // Another session holds the row lock: the write waits until statement_timeout cancels it.
    await raw.query("BEGIN");
    await raw.query("SELECT * FROM slow WHERE key = 'k' FOR UPDATE");
    const error = await caught(storage.put("k", "new"));
    await raw.query("ROLLBACK");
    expect(error).toBeInstanceOf(StorageTimeoutError);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/57014/);
    // The message names the limit that ran out: the option and its value.
    expect(error.message).toContain("after 200 ms (statementTimeout)");
    expect(error).toMatchObject({ key: "k", operation: "put", backend: "postgres" });
    expect(await storage.get("k")).toBe("old");
    await storage.close();
  });

  it("an exhausted pool is a retryable StorageTimeoutError after connectionTimeout", async () => {
    const storage = pgStorageFor(server.server, { table: "pool", poolSize: 1, connectionTimeout: 200 });
    await storage.put("k", "v");
    const held = await storage.pool.connect();
    try {
      const error = await caught(storage.get("k"));
      expect(error).toBeInstanceOf(StorageTimeoutError);
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/no pooled connection/);
      expect(error.message).toContain("within 200 ms (connectionTimeout)");
      expect(error).toMatchObject({ key: "k", operation: "get", backend: "postgres" });
    } finally {
      held.release();
    }
    expect(await storage.get("k")).toBe("v");
    await storage.close();
  });

  it("a client-side query_timeout (poolConfig) that runs out names the option and its value", async () => {
    const storage = pgStorageFor(server.server, { table: "slowreply", poolConfig: { query_timeout: 300 } });
    await storage.put("k", "old");
    // Another session holds the row lock: pg gives up waiting for the reply after query_timeout.
    await raw.query("BEGIN");
    await raw.query("SELECT * FROM slowreply WHERE key = 'k' FOR UPDATE");
    const error = await caught(storage.put("k", "new"));
    await raw.query("ROLLBACK");
    expect(error).toBeInstanceOf(StorageTimeoutError);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("no reply within 300 ms (poolConfig.query_timeout)");
    expect(error).toMatchObject({ key: "k", operation: "put", backend: "postgres" });
    await storage.close();
  });

  it("a cancel by request names no limit; a statement_timeout this storage did not set is named as the server's", () => {
    const cancelled = mapPostgresError(Object.assign(new Error("canceling statement due to user request"), { code: "57014", severity: "ERROR" }), {
      statementTimeout: { option: "statementTimeout", ms: 50 },
    });
    expect(cancelled.message).toMatch(/^PostgreSQL cancelled the statement: canceling statement due to user request \(SQLSTATE 57014\)/);
    const fallback = mapPostgresError(Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014", severity: "ERROR" }), {});
    expect(fallback).toBeInstanceOf(StorageTimeoutError);
    expect(fallback.message).toContain("cancelled the statement after the server's statement_timeout");
  });

  it("enforces the documented value size limit", async () => {
    expect(() => new PostgresStorage({ maxSize: MAX_VALUE_BYTES + 1 })).toThrow(StorageConfigError);
    expect(() => new PostgresStorage({ readChunkSize: 64 * 1024 * 1024 + 1 })).toThrow(StorageConfigError);
    const storage = pgStorageFor(server.server, { table: "limits", maxSize: 1024 });
    await expect(storage.put("big", new Uint8Array(1025))).rejects.toBeInstanceOf(StorageValidationError);
    expect(await storage.exists("big")).toBe(false);
    await storage.close();
  });

  it("refuses one byte over MAX_VALUE_BYTES, by default and with a larger per-call maxSize or a stream, naming key, operation, backend and limit", async () => {
    const storage = pgStorageFor(server.server, { table: "limits" });
    const over = new Uint8Array(MAX_VALUE_BYTES + 1);
    for (const attempt of [
      () => storage.put("over", over),
      () => storage.put("over", over, { maxSize: MAX_VALUE_BYTES * 2 }),
      () => storage.put("over", Readable.from([over.subarray(0, MAX_VALUE_BYTES), over.subarray(MAX_VALUE_BYTES)]), { maxSize: MAX_VALUE_BYTES * 2 }),
    ]) {
      const error = await caught(attempt());
      expect(error).toBeInstanceOf(StorageValidationError);
      expect(error).toMatchObject({ key: "over", operation: "put", backend: "postgres" });
      expect(error.message).toContain(String(MAX_VALUE_BYTES));
    }
    expect(await storage.exists("over")).toBe(false);
    await storage.close();
  });

  // 256 MiB each way takes about a minute and over 1 GiB of memory: run it with PEPPERPY_PG_LIMIT_TEST=1.
  const atTheLimit = process.env.PEPPERPY_PG_LIMIT_TEST === "1";
  (atTheLimit ? it : it.skip)(
    `a value of exactly MAX_VALUE_BYTES round-trips byte-equal through get and getStream${atTheLimit ? "" : " [skipped: set PEPPERPY_PG_LIMIT_TEST=1, 256 MiB each way]"}`,
    async () => {
      const storage = pgStorageFor(server.server, { table: "at_limit", timeout: 600_000 });
      const value = randomBytes(MAX_VALUE_BYTES);
      const digest = createHash("sha256").update(value).digest("hex");
      let t = Date.now();
      await storage.put("max", value);
      const putMs = Date.now() - t;
      t = Date.now();
      const got = (await storage.get("max")) as Uint8Array;
      const getMs = Date.now() - t;
      expect(got.byteLength).toBe(MAX_VALUE_BYTES);
      expect(createHash("sha256").update(got).digest("hex")).toBe(digest);
      t = Date.now();
      const hash = createHash("sha256");
      let streamed = 0;
      for await (const chunk of await storage.getStream("max")) {
        hash.update(chunk as Buffer);
        streamed += (chunk as Buffer).byteLength;
      }
      const streamMs = Date.now() - t;
      expect(streamed).toBe(MAX_VALUE_BYTES);
      expect(hash.digest("hex")).toBe(digest);
      console.log(`MAX_VALUE_BYTES (${MAX_VALUE_BYTES} bytes): put ${putMs} ms, get ${getMs} ms, getStream ${streamMs} ms`);
      await storage.delete("max");
      await storage.close();
    },
    600_000,
  );

  it("reads a value larger than readChunkSize in slices (get in one snapshot, getStream by etag) and round-trips it byte for byte", async () => {
    const chunk = 1024 * 1024;
    const storage = pgStorageFor(server.server, { table: "chunked", readChunkSize: chunk });
    const value = randomBytes(5 * chunk + 12_345);
    await storage.put("big", value);
    const calls: string[] = [];
    const realQuery = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0];
      calls.push(typeof first === "string" ? first : String((first as { text?: unknown })?.text));
      return Reflect.apply(realQuery, this, args) as never;
    } as typeof realQuery;
    try {
      const got = (await storage.get("big")) as Uint8Array;
      expect(Buffer.compare(Buffer.from(got), value)).toBe(0);
      expect(calls.filter((t) => t.includes("substring(value from $2 for $3)")).length).toBe(6);
      expect(calls).toContain("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      calls.length = 0;
      const streamed = Buffer.concat(await (await storage.getStream("big")).toArray());
      expect(Buffer.compare(streamed, value)).toBe(0);
      expect(calls.filter((t) => t.includes("substring")).length).toBe(6);
      calls.length = 0;
      // A range reads only its slices: 1.5 MiB from the middle is two queries.
      const start = 2 * chunk + 100;
      const end = start + chunk + chunk / 2 - 1;
      const range = Buffer.concat(await (await storage.getStream("big", { start, end })).toArray());
      expect(Buffer.compare(range, value.subarray(start, end + 1))).toBe(0);
      expect(calls.filter((t) => t.includes("substring")).length).toBe(2);
    } finally {
      pg.Client.prototype.query = realQuery;
    }
    // A small value is still one query, and the chunked read sees one version while it is overwritten.
    await storage.put("small", "v");
    expect(await storage.get("small")).toBe("v");
    const other = Buffer.alloc(value.byteLength, 7);
    const reads = Array.from({ length: 4 }, () => storage.get("big") as Promise<Uint8Array>);
    await storage.put("big", other);
    for (const got of await Promise.all(reads)) {
      const bytes = Buffer.from(got);
      expect(bytes.equals(value) || bytes.equals(other)).toBe(true);
    }
    // A stream whose value is overwritten after its first slice ends with a conflict, never a mix.
    const stream = await storage.getStream("big");
    const firstSlice = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
    stream.pause();
    expect(Buffer.compare(firstSlice, other.subarray(0, chunk))).toBe(0);
    await storage.put("big", value);
    stream.resume();
    const error = await caught(stream.toArray());
    expect(error).toBeInstanceOf(StorageConflictError);
    expect(error).toMatchObject({ key: "big", backend: "postgres" });
    await storage.close();
  });
});

describePostgres("PostgresStorage when the server goes away", () => {
  it("connection refused is a retryable StorageUnavailableError", async () => {
    const port = await freePort();
    const storage = new PostgresStorage({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
    const error = await caught(storage.get("k"));
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
    await storage.close();
  });

  it("a write in flight when the server dies is a retryable error that says its outcome is unknown", async () => {
    const server = await startPostgresServer({ binDir: pgBinDir });
    const storage = pgStorageFor(server, { table: "inflight" });
    const locker = new pg.Client({ host: server.host, port: server.port, user: "postgres", database: "postgres" });
    try {
      await storage.put("k", "v1");
      await locker.connect();
      locker.on("error", () => undefined);
      // Another session holds the row: the put is sent and waits on the lock.
      await locker.query("BEGIN");
      await locker.query("SELECT * FROM inflight WHERE key = 'k' FOR UPDATE");
      const pending = caught(storage.put("k", "v2"));
      await new Promise((r) => setTimeout(r, 300));
      await server.kill();
      const error = await pending;
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/may or may not have been applied/);
    } finally {
      await locker.end().catch(() => undefined);
      await storage.close();
      await server.stop();
    }
  });

  it("a server stopped mid-test is retryable, and the pool recovers when it is back", async () => {
    const server = await startPostgresServer({ binDir: pgBinDir });
    const storage = pgStorageFor(server, { table: "restart" });
    try {
      await storage.put("k", "before");
      await server.kill(); // pg_ctl -m immediate: open connections are cut
      const error = await caught(storage.get("k"));
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect(error.retryable).toBe(true);
      await server.restart();
      const retried = new RetryStorage({ backend: storage, maxRetries: 5, delay: 50 });
      expect(await retried.get("k")).toBe("before");
      await storage.put("k", "after");
      expect(await storage.get("k")).toBe("after");
    } finally {
      await storage.close();
      await server.stop();
    }
  });
});

describePostgres("PostgresStorage secrets and config", () => {
  const password = "s3cr3t-pg-pass-Wv4";
  const server = usePostgresServer({ password });
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pp-pg-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("never shows the password in util.inspect or JSON.stringify of the storage", async () => {
    const url = `postgres://postgres:${password}@${server.server.host}:${server.server.port}/postgres`;
    const viaUrl = new PostgresStorage({ connectionString: url });
    const viaOption = new PostgresStorage({ host: server.server.host, port: server.server.port, user: "postgres", password, database: "postgres" });
    for (const storage of [viaUrl, viaOption]) {
      await storage.put("k", "v");
      expect(await storage.get("k")).toBe("v");
      expect(inspect(storage, { depth: 10, showHidden: true })).not.toContain(password);
      expect(JSON.stringify(storage)).not.toContain(password);
      await storage.close();
    }
    expect(inspect(viaUrl)).toContain("postgres://postgres:***@");
  });

  it("a wrong password is a non-retryable StoragePermissionError that leaks neither password", async () => {
    const wrong = "wrong-pg-pass-Jd2";
    const storage = new PostgresStorage({ connectionString: `postgres://postgres:${wrong}@${server.server.host}:${server.server.port}/postgres` });
    const error = await caught(storage.get("k"));
    expect(error).toBeInstanceOf(StoragePermissionError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/28P01/);
    for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(password);
    }
    await storage.close();
  });

  it("builds from YAML through loadConfig and createStorage (type postgres, loaded on demand)", async () => {
    const file = join(dir, "storage.yaml");
    await writeFile(
      file,
      [
        "storage:",
        "  type: postgres",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML ${ENV} reference that loadConfig interpolates
        "  connection_string: ${DATABASE_URL}",
        "  table: from_yaml",
        "  statement_timeout: 5s",
        "  pool_size: 2",
        "  options:",
        "    cache: true",
      ].join("\n"),
    );
    const url = `postgres://postgres:${password}@${server.server.host}:${server.server.port}/postgres`;
    const config = await loadConfig(file, { env: { DATABASE_URL: url } });
    const storage = await createStorage(config);
    expect(storage.name).toBe("cache(postgres)");
    await storage.put("a/b", { yaml: true });
    expect(await storage.get("a/b")).toEqual({ yaml: true });
    expect(inspect(storage, { depth: 10 })).not.toContain(password);
    expect(JSON.stringify(storage)).not.toContain(password);
    await storage.close();
    // @ts-expect-error pool_size is a number: the compiler refuses it before run time does
    const bad = await caught(createStorage({ type: "postgres", pool_size: "many", connection_string: url }));
    expect(bad.code).toBe("CONFIG");
    expect(bad.message).toMatch(/pool_size|poolSize/);
    expect(bad.message).not.toContain(password);
  });

  it("refuses a table name that is not a plain identifier", () => {
    expect(() => new PostgresStorage({ table: 'x"; DROP TABLE y; --' })).toThrow(/table/);
    expect(() => new PostgresStorage({ table: "a.b.c" })).toThrow(/table/);
  });
});
