import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import {
  NEVER_ABORTED,
  StorageConflictError,
  type StorageError,
  StoragePermissionError,
  StorageUnavailableError,
  createStorage,
  isStorageError,
  loadConfig,
  type WriteRequest,
} from "@pepperpy/storage-core";
import { RetryStorage } from "@pepperpy/storage-retry";
import { startRedisServer } from "@pepperpy/storage-testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RedisDriver, RedisStorage, mapRedisError } from "../src/index.js";
import { describeRedis, redisBinary, redisStorageFor, useRedisServer } from "./helpers.js";

/**
 * Writes through the driver contract with \`req.expiresAt\` set, as the core does once it
 * resolves \`ttl\` / \`expiresAt\` (SPEC §11; the core's side is built on branch \`expiry\`).
 */
async function putExpiring(driver: RedisDriver, key: string, value: string | Uint8Array, expiresAt: number, extra: Partial<WriteRequest> = {}) {
  const body = typeof value === "string" ? Buffer.from(value) : value;
  return driver.write(
    key,
    { body, valueType: typeof value === "string" ? "text" : "bytes", contentType: "text/plain", metadata: {}, expiresAt, options: {}, ...extra },
    { signal: NEVER_ABORTED, operation: "put" },
  );
}

async function caught(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (error) {
    if (isStorageError(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

describeRedis("RedisStorage on a real redis-server", () => {
  const redis = useRedisServer();
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis({ host: redis.server.host, port: redis.server.port, lazyConnect: true });
  });
  afterAll(async () => {
    raw.disconnect();
  });

  it("keeps each value in one hash with its type, content type and metadata, and its key in the sorted index", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "layout" });
    const info = await storage.put("users/1", { name: "Ana" }, { metadata: { owner: "ana" } });
    const hash = await raw.hgetall("{layout}:v:users/1");
    expect(hash).toMatchObject({ d: '{"name":"Ana"}', t: "json", c: "application/json", m: '{"owner":"ana"}', e: info.etag, s: "14" });
    expect(await raw.zrange("{layout}:index", 0, -1)).toEqual(["users/1"]);
    await storage.delete("users/1");
    expect(await raw.exists("{layout}:v:users/1")).toBe(0);
    expect(await raw.zcard("{layout}:index")).toBe(0);
    await storage.close();
  });

  it("expires values natively: PEXPIREAT from expiresAt, stat shows it, the key is gone after it and the index entry is pruned", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "ttl" });
    const driver = new RedisDriver({ host: redis.server.host, port: redis.server.port, keyPrefix: "ttl" });
    const expiresAt = Date.now() + 300;
    const info = await putExpiring(driver, "short", "soon gone", expiresAt);
    await driver.close();
    await storage.put("long", "stays");
    expect(info.expiresAt?.getTime()).toBe(expiresAt);
    expect(await raw.pexpiretime("{ttl}:v:short")).toBe(expiresAt);
    expect((await storage.stat("short")).expiresAt?.getTime()).toBe(expiresAt);
    expect((await storage.stat("long")).expiresAt).toBeUndefined();
    await new Promise((r) => setTimeout(r, 400));
    // Redis itself removed the value (no timer of ours runs).
    expect(await raw.exists("{ttl}:v:short")).toBe(0);
    expect(await storage.exists("short")).toBe(false);
    expect(await storage.list()).toEqual(["long"]);
    expect(await raw.zrange("{ttl}:index", 0, -1)).toEqual(["long"]);
    // An expired key is absent for create-only writes too.
    await storage.put("short", "again", { ifNoneMatch: "*" });
    expect(await storage.get("short")).toBe("again");
    await storage.close();
  });

  it("purgeExpired (the driver hook the core calls with its clock) deletes values past the given time under the prefix only", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "purge" });
    const driver = new RedisDriver({ host: redis.server.host, port: redis.server.port, keyPrefix: "purge" });
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
    expect(await raw.zrange("{purge}:index", 0, -1)).toEqual(["p/c", "p/later", "p/never", "q/a"]);
    await driver.close();
    await storage.close();
  });

  it("lists in code-point order across pages while stale index entries are skipped", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "pages" });
    const keys = Array.from({ length: 25 }, (_, i) => `k/${String(i).padStart(2, "0")}`);
    await storage.putMany(keys.map((k) => [k, k] as const));
    // Index entries whose hashes vanished (as after a native expiry) are skipped, and pages stay full.
    await raw.del("{pages}:v:k/03", "{pages}:v:k/04", "{pages}:v:k/05");
    const page = await storage.listPage("k/", { limit: 5 });
    expect(page.items.map((e) => e.key)).toEqual(["k/00", "k/01", "k/02", "k/06", "k/07"]);
    expect(page.cursor).toBe("k/07");
    const all: string[] = [];
    for await (const e of storage.iterate("k/", { pageSize: 4 })) all.push(e.key);
    expect(all).toEqual(keys.filter((k) => !["k/03", "k/04", "k/05"].includes(k)));
    expect(await raw.zcard("{pages}:index")).toBe(22);
    await storage.close();
  });

  it("deleteMany removes thousands of keys in pipelined transactions", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "bulk" });
    const keys = Array.from({ length: 1200 }, (_, i) => `b/${i}`);
    await storage.putMany(keys.map((k) => [k, "x"] as const), { concurrency: 64 });
    expect((await storage.list("b/")).length).toBe(1200);
    await storage.deleteMany(keys);
    expect(await storage.list("b/")).toEqual([]);
    expect(await raw.zcard("{bulk}:index")).toBe(0);
    await storage.close();
  });

  it("getMany and putMany send one pipeline per wave of concurrent calls: 100 keys in 1 socket write at concurrency 100, at most 7 at the default 16", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "pipelined" });
    await storage.exists("warm-up"); // connects, so the socket exists and the count starts at 0
    const socket = (storage.client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
    const write = socket.write;
    let writes = 0;
    socket.write = function (this: unknown, ...args: unknown[]) {
      writes++;
      return Reflect.apply(write, this, args) as boolean;
    };
    const counted = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
      writes = 0;
      const result = await fn();
      return [result, writes];
    };
    try {
      const keys = Array.from({ length: 100 }, (_, i) => `p/${String(i).padStart(3, "0")}`);
      const entries = keys.map((k, i) => [k, i % 2 === 0 ? `text ${i}` : { n: i }] as const);
      const [, putWrites] = await counted(() => storage.putMany(entries, { concurrency: 100, ttl: 60_000, metadata: { batch: "1" } }));
      const [values, getWrites] = await counted(() => storage.getMany([...keys, "p/missing"], { concurrency: 101 }));
      // Metadata and expiry of a pipelined write are kept per key.
      const info = await storage.stat("p/099");
      expect(info.metadata).toEqual({ batch: "1" });
      expect(info.expiresAt).toBeInstanceOf(Date);
      expect(values).toEqual([...entries.map(([, v]) => v), undefined]);
      const [, putDefault] = await counted(() => storage.putMany(entries));
      const [again, getDefault] = await counted(() => storage.getMany(keys));
      expect(again).toEqual(entries.map(([, v]) => v));
      console.log(`socket writes for 100 keys: putMany ${putWrites} / getMany ${getWrites} at concurrency 100; ${putDefault} / ${getDefault} at the default concurrency`);
      expect([putWrites, getWrites]).toEqual([1, 1]);
      expect(putDefault).toBeLessThanOrEqual(Math.ceil(100 / 16));
      expect(getDefault).toBeLessThanOrEqual(Math.ceil(100 / 16));
      // Per-key semantics stay: in one pipeline, a failed condition fails its own write only.
      const results = await Promise.allSettled([
        storage.put("p/000", "again", { ifNoneMatch: "*" }),
        storage.put("p/new", "fresh", { ifNoneMatch: "*" }),
        storage.put("p/001", "swapped", { ifMatch: (await storage.stat("p/001")).etag }),
        storage.put("p/002", "stale", { ifMatch: '"not-the-etag"' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled", "rejected"]);
      expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(StorageConflictError);
      expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(StorageConflictError);
      expect(await storage.getMany(["p/000", "p/new", "p/001", "p/002"])).toEqual(["text 0", "fresh", "swapped", "text 2"]);
    } finally {
      socket.write = write;
      await storage.close();
    }
  });

  it("ifMatch is a compare-and-swap: of 10 concurrent swaps from one etag exactly one wins", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "cas" });
    const { etag } = await storage.put("counter", "0");
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => storage.put("counter", String(i + 1), { ifMatch: etag })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StorageConflictError);
    await storage.close();
  });

  it("a key another program wrote is a StorageConfigError whose message and cause never carry the value being written", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "foreign" });
    await raw.set("{foreign}:v:k", "a plain string, not our hash");
    const value = "private-value-Qm3";
    const error = await caught(storage.put("k", value, { ifMatch: '"x"', metadata: { note: value } }));
    expect(error.code).toBe("CONFIG");
    expect(error.message).toMatch(/WRONGTYPE/);
    const hex = Buffer.from(value).toString("hex").match(/../g)!.join(" ");
    for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })]) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(hex);
    }
    await storage.close();
  });

  it("a command over commandTimeout is a retryable timeout whose message names the option and its value", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "slow", redisOptions: { commandTimeout: 50 } });
    const client = new Redis({ host: redis.server.host, port: redis.server.port, commandTimeout: 80 });
    const given = new RedisStorage({ client, keyPrefix: "slow" });
    await storage.put("k", "v");
    expect(await given.get("k")).toBe("v");
    // The server holds every client's commands for 400 ms: the reads outlive their commandTimeout.
    await raw.client("PAUSE", 400, "ALL");
    const [own, theirs] = await Promise.all([caught(storage.get("k")), caught(given.get("k"))]);
    for (const error of [own, theirs]) {
      expect(error.code).toBe("TIMEOUT");
      expect(error.retryable).toBe(true);
      expect(error).toMatchObject({ key: "k", operation: "get", backend: "redis" });
    }
    expect(own.message).toBe('Redis command timed out after 50 ms (redisOptions.commandTimeout) [get "k" on redis]');
    expect(theirs.message).toBe('Redis command timed out after 80 ms (the client\'s commandTimeout) [get "k" on redis]');
    await expect.poll(() => storage.get("k").catch(() => "paused"), { timeout: 5000, interval: 100 }).toBe("v");
    await storage.close();
    await given.close();
    client.disconnect();
  });

  it("ioredis's connect timeout names connectTimeout and its value; an OS ETIMEDOUT names none", () => {
    const ctx = { key: "k", operation: "put", write: true, connectTimeout: { option: "connectTimeout", ms: 250 } };
    const connect = mapRedisError(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT", syscall: "connect" }), ctx);
    expect(connect.code).toBe("TIMEOUT");
    expect(connect.message).toContain("Redis connection timed out after 250 ms (connectTimeout); the write may or may not have been applied");
    const os = mapRedisError(Object.assign(new Error("read ETIMEDOUT"), { code: "ETIMEDOUT" }), ctx);
    expect(os.message).toContain("Redis connection timed out (ETIMEDOUT); the write may or may not have been applied");
  });

  it("copy and move run in Redis and keep content type, metadata and expiry", async () => {
    const storage = redisStorageFor(redis.server, { keyPrefix: "copy" });
    const driver = new RedisDriver({ host: redis.server.host, port: redis.server.port, keyPrefix: "copy" });
    const expiresAt = Date.now() + 60_000;
    await putExpiring(driver, "a", new Uint8Array([1, 2, 3]), expiresAt, { contentType: "image/png", metadata: { x: "1" } });
    await driver.close();
    await storage.copy("a", "b");
    await storage.move("b", "c");
    expect(await storage.list()).toEqual(["a", "c"]);
    const info = await storage.stat("c");
    expect(info).toMatchObject({ contentType: "image/png", metadata: { x: "1" }, size: 3 });
    expect(info.expiresAt?.getTime()).toBe(expiresAt);
    expect(await raw.pexpiretime("{copy}:v:c")).toBe(expiresAt);
    await storage.close();
  });
});

describeRedis("RedisStorage when the server goes away", () => {
  it("reports a killed server as a retryable StorageUnavailableError and recovers when it is back", async () => {
    const server = await startRedisServer({ binary: redisBinary });
    const storage = new RedisStorage({ host: server.host, port: server.port, keyPrefix: "crash" });
    try {
      await storage.put("k", "before");
      await server.kill(); // SIGKILL: the connection drops, nothing was persisted
      const error = await caught(storage.get("k"));
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/redis/);
      const writeError = await caught(storage.put("k", "during"));
      expect(writeError).toBeInstanceOf(StorageUnavailableError);
      expect(writeError.retryable).toBe(true);
      await server.restart();
      // The client reconnects on its own; the restarted server starts empty (no persistence).
      await expect.poll(() => storage.exists("k").catch(() => "down"), { timeout: 10_000, interval: 100 }).toBe(false);
      await storage.put("k", "after");
      expect(await storage.get("k")).toBe("after");
    } finally {
      await storage.close();
      await server.stop();
    }
  });

  it("a write in flight when the server dies is a retryable error that says its outcome is unknown", async () => {
    const server = await startRedisServer({ binary: redisBinary });
    const storage = new RedisStorage({ host: server.host, port: server.port, keyPrefix: "inflight" });
    const admin = new Redis({ host: server.host, port: server.port });
    try {
      await storage.put("k", "v1");
      // The server holds write commands: the put is sent and waits for its reply.
      await admin.call("CLIENT", "PAUSE", "10000", "WRITE");
      const pending = caught(storage.put("k", "v2", { ifNoneMatch: "*" }));
      await new Promise((r) => setTimeout(r, 200));
      admin.disconnect();
      await server.kill();
      const error = await pending;
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/may or may not have been applied/);
    } finally {
      admin.disconnect();
      await storage.close();
      await server.stop();
    }
  });

  it("with the retry layer, a put issued while the server is down succeeds once it is back", async () => {
    const server = await startRedisServer({ binary: redisBinary });
    const backend = new RedisStorage({ host: server.host, port: server.port, keyPrefix: "retry" });
    const storage = new RetryStorage({ backend, maxRetries: 30, delay: 100, maxDelay: 200 });
    try {
      await storage.put("k", "v1");
      await server.kill();
      const pending = storage.put("k", "v2");
      setTimeout(() => void server.restart(), 500);
      await pending;
      expect(await storage.get("k")).toBe("v2");
    } finally {
      await storage.close();
      await server.stop();
    }
  });

  it("a server that is not listening is a retryable StorageUnavailableError, not a hang", async () => {
    const server = await startRedisServer({ binary: redisBinary });
    await server.stop();
    const storage = new RedisStorage({ host: server.host, port: server.port });
    const started = Date.now();
    const error = await caught(storage.get("k", { timeout: 10_000 }));
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    await storage.close();
  });
});

describeRedis("RedisStorage secrets and config", () => {
  const password = "s3cr3t-redis-pass-Zq9";
  const redis = useRedisServer({ password });
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pp-redis-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("never shows the password in util.inspect or JSON.stringify of the storage", async () => {
    const viaUrl = new RedisStorage({ url: `redis://:${password}@${redis.server.host}:${redis.server.port}/0` });
    const viaOption = new RedisStorage({ host: redis.server.host, port: redis.server.port, password });
    for (const storage of [viaUrl, viaOption]) {
      await storage.put("k", "v");
      expect(await storage.get("k")).toBe("v");
      expect(inspect(storage, { depth: 10, showHidden: true })).not.toContain(password);
      expect(JSON.stringify(storage)).not.toContain(password);
      expect(inspect(storage)).toMatch(/RedisStorage/);
      await storage.close();
    }
    expect(inspect(viaUrl)).toContain("redis://:***@");
  });

  it("a wrong password is a non-retryable StoragePermissionError that leaks neither password", async () => {
    const wrong = "wrong-pass-Kx7";
    const storage = new RedisStorage({ url: `redis://:${wrong}@${redis.server.host}:${redis.server.port}` });
    const error = await caught(storage.get("k"));
    expect(error).toBeInstanceOf(StoragePermissionError);
    expect(error.retryable).toBe(false);
    for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: 10, showHidden: true })]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(password);
    }
    await storage.close();
  });

  it("builds from YAML through loadConfig and createStorage (type redis, loaded on demand)", async () => {
    const file = join(dir, "storage.yaml");
    await writeFile(
      file,
      [
        "storage:",
        "  type: redis",
        `  host: ${redis.server.host}`,
        `  port: ${redis.server.port}`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML \${ENV} reference that loadConfig interpolates
        "  password: ${REDIS_PASSWORD}",
        "  key_prefix: from-yaml",
        "  options:",
        "    retry: { max: 2, delay: 0.01 }",
      ].join("\n"),
    );
    const config = await loadConfig(file, { env: { REDIS_PASSWORD: password } });
    const storage = await createStorage(config);
    expect(storage.name).toBe("retry(redis)");
    await storage.put("a/b", { yaml: true });
    expect(await storage.get("a/b")).toEqual({ yaml: true });
    expect(inspect(storage, { depth: 10 })).not.toContain(password);
    expect(JSON.stringify(storage)).not.toContain(password);
    await storage.close();
    // A wrong field type names the field and never echoes the secret.
    // @ts-expect-error port is a number: the compiler refuses it before run time does
    const bad = await caught(createStorage({ type: "redis", port: "not-a-port", url: `redis://:${password}@x` }));
    expect(bad.code).toBe("CONFIG");
    expect(bad.message).toMatch(/port/);
    expect(bad.message).not.toContain(password);
  });

  it("refuses a key prefix that would break the cluster hash tag", () => {
    expect(() => new RedisStorage({ keyPrefix: "a{b" })).toThrow(/keyPrefix/);
    expect(() => new RedisStorage({ keyPrefix: "" })).toThrow(/keyPrefix/);
  });
});
