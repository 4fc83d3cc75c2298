/**
 * Constructor options are checked at run time with the errors config gives for a misspelt
 * field: a JavaScript caller has no compiler, and a misspelt option was silently ignored.
 */
import { AzureBlobStorage } from "@pepperpy/storage-azure-blob";
import { TracingStorage } from "@pepperpy/storage-otel";
import { PostgresStorage } from "@pepperpy/storage-postgres";
import { RedisStorage } from "@pepperpy/storage-redis";
import { SqliteStorage } from "@pepperpy/storage-sqlite";
import { FaultStorage, MockStorage } from "@pepperpy/storage-testing";
import { describe, expect, it } from "vitest";
import {
  CachedStorage,
  CompositeStorage,
  MountStorage,
  CompressedStorage,
  EncryptedStorage,
  FileStorage,
  MemoryStorage,
  MetricsStorage,
  RetryStorage,
  S3Storage,
  StorageConfigError,
  createStorage,
  parseConfig,
} from "../src/index.js";

function configError(make: () => unknown): StorageConfigError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(StorageConfigError);
    return error as StorageConfigError;
  }
  throw new Error("expected a StorageConfigError");
}

describe("misspelt constructor options are StorageConfigErrors naming the option", () => {
  const backend = () => new MemoryStorage();
  const cases: [string, () => unknown, RegExp][] = [
    ["MemoryStorage", () => new MemoryStorage({ capacty: 10 } as never), /^MemoryStorage options\.capacty: unknown option \(did you mean capacity\?\) \(known: capacity, clock, defaultTtl, maxSize, timeout\)/],
    ["MemoryStorage (snake_case)", () => new MemoryStorage({ max_size: 10 } as never), /options\.max_size: unknown option \(in code the option is maxSize\)/],
    ["FileStorage", () => new FileStorage("./store", { fsnc: false } as never), /^FileStorage options\.fsnc: unknown option \(did you mean fsync\?\) \(known: clock, defaultTtl, fsync, maxSize, orphanAge, timeout\)/],
    ["S3Storage", () => new S3Storage({ bucket: "b", forcePathStyel: true } as never), /^S3Storage options\.forcePathStyel: unknown option \(did you mean forcePathStyle\?\)/],
    ["CachedStorage", () => new CachedStorage({ backend: backend(), size: 10 } as never), /^CachedStorage options\.size: unknown option \(known: .*cacheSize/],
    ["CompressedStorage", () => new CompressedStorage({ backend: backend(), algoritm: "gzip" } as never), /did you mean algorithm\?/],
    ["EncryptedStorage", () => new EncryptedStorage({ backend: backend(), kye: "secret" } as never), /^EncryptedStorage options\.kye: unknown option \(did you mean key\?\)/],
    ["RetryStorage", () => new RetryStorage({ backend: backend(), retries: 3 } as never), /^RetryStorage options\.retries: unknown option/],
    ["MetricsStorage", () => new MetricsStorage({ backend: backend(), prefix: "x" } as never), /^MetricsStorage options\.prefix: unknown option/],
    // The check runs before any client is made: nothing connects.
    ["RedisStorage", () => new RedisStorage({ url: "redis://127.0.0.1:1", keyprefix: "x" } as never), /^RedisStorage options\.keyprefix: unknown option \(did you mean keyPrefix\?\)/],
    ["RedisStorage (snake_case)", () => new RedisStorage({ key_prefix: "x" } as never), /options\.key_prefix: unknown option \(in code the option is keyPrefix\)/],
    ["PostgresStorage", () => new PostgresStorage({ connectionString: "postgres://x", poolsize: 3 } as never), /^PostgresStorage options\.poolsize: unknown option \(did you mean poolSize\?\)/],
    ["SqliteStorage", () => new SqliteStorage({ path: ":memory:", busytimeout: 5 } as never), /^SqliteStorage options\.busytimeout: unknown option \(did you mean busyTimeout\?\)/],
    ["AzureBlobStorage", () => new AzureBlobStorage({ container: "c", conection_string: "x" } as never), /^AzureBlobStorage options\.conection_string: unknown option/],
    ["TracingStorage", () => new TracingStorage({ backend: backend(), recordKey: false } as never), /^TracingStorage options\.recordKey: unknown option \(did you mean recordKeys\?\)/],
    ["CompositeStorage", () => new CompositeStorage([backend()], { readrepair: false } as never), /^CompositeStorage options\.readrepair: unknown option \(did you mean readRepair\?\)/],
    ["MountStorage", () => new MountStorage({ "": backend() }, { timeot: 5 } as never), /^MountStorage options\.timeot: unknown option \(did you mean timeout\?\)/],
    ["MockStorage", () => new MockStorage({ capcity: 5 } as never), /^MockStorage options\.capcity: unknown option \(did you mean capacity\?\)/],
    ["FaultStorage", () => new FaultStorage({ backend: backend(), failurerate: 1 } as never), /^FaultStorage options\.failurerate: unknown option \(did you mean failureRate\?\)/],
  ];
  for (const [name, make, re] of cases) {
    it(name, () => {
      const error = configError(make);
      expect(error.message).toMatch(re);
      expect(error.code).toBe("CONFIG");
    });
  }

  it("secrets never appear: only option names are printed", () => {
    const error = configError(() => new EncryptedStorage({ backend: new MemoryStorage(), key: "hunter2-secret", kye: "hunter2-secret" } as never));
    expect(error.message).not.toContain("hunter2");
  });

  it("known options still work", () => {
    expect(() => new MemoryStorage({ capacity: 10, timeout: 5, maxSize: 3 })).not.toThrow();
    expect(() => new CachedStorage({ backend: new MemoryStorage(), cacheSize: 5 })).not.toThrow();
    expect(() => new TracingStorage({ backend: new MemoryStorage(), recordKeys: false, timeout: 5 })).not.toThrow();
    expect(() => new CompositeStorage([new MemoryStorage()], { readRepair: false, timeout: 5 })).not.toThrow();
    expect(() => new MountStorage({ "": new MemoryStorage() }, { timeout: 5, maxSize: 10 })).not.toThrow();
    expect(() => new MockStorage({ capacity: 5, timeout: 5 })).not.toThrow();
    expect(
      () => new FaultStorage({ backend: new MemoryStorage(), latency: 0, failureRate: 0, operations: ["read"], seed: 1, lose: "response", timeout: 5 }),
    ).not.toThrow();
  });
});

describe("one name per option in code and config: cache_size is cacheSize", () => {
  it("config takes cache_size (the code's name) and size (its former alias), not both", async () => {
    const a = await createStorage(await parseConfig("storage:\n  type: memory\n  options:\n    cache: { cache_size: 2 }\n"));
    const b = await createStorage(await parseConfig("storage:\n  type: memory\n  options:\n    cache: { size: 2 }\n"));
    for (const s of [a, b]) {
      for (const k of ["a", "b", "c"]) {
        await s.put(k, k);
        await s.get(k);
      }
      expect((s as CachedStorage).getCacheStats().entries).toBe(2);
    }
    await expect(createStorage(await parseConfig("storage:\n  type: memory\n  options:\n    cache: { size: 2, cache_size: 3 }\n"))).rejects.toThrow(/not both/);
  });
});
