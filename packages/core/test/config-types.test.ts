/**
 * The typed config: `pnpm typecheck` compiles this file, so each `@ts-expect-error` fails
 * the check if its line compiles; the same configs are then run, to show the run time
 * refuses what the compiler refuses and builds what it accepts.
 */
import { storagePlugin as azurePlugin } from "@pepperpy/storage-azure-blob";
import { layerPlugin as cachePlugin } from "@pepperpy/storage-cache";
import { layerPlugin as compressionPlugin } from "@pepperpy/storage-compress";
import {
  type AzureBlobConfig,
  type CacheLayerConfig,
  type CompositeConfig,
  type CompressionLayerConfig,
  type EncryptionLayerConfig,
  type FileConfig,
  type LayerConfigTypes,
  type MemoryConfig,
  type MountConfig,
  type PostgresConfig,
  type RedisConfig,
  type RetryLayerConfig,
  type S3Config,
  type SqliteConfig,
  type StorageConfig,
  type StorageConfigTypes,
  StorageConfigError,
  type TracingLayerConfig,
  compositePlugin,
  createStorage,
  defineConfig,
  getStoragePlugin,
  registerLayer,
} from "@pepperpy/storage-core";
import { layerPlugin as encryptionPlugin } from "@pepperpy/storage-crypto";
import { storagePlugins as filePlugins } from "@pepperpy/storage-fs";
import { storagePlugin as memoryPlugin } from "@pepperpy/storage-memory";
import { layerPlugin as metricsPlugin } from "@pepperpy/storage-metrics";
import { layerPlugin as tracingPlugin } from "@pepperpy/storage-otel";
import { storagePlugin as postgresPlugin } from "@pepperpy/storage-postgres";
import { storagePlugin as redisPlugin } from "@pepperpy/storage-redis";
import { layerPlugin as retryPlugin } from "@pepperpy/storage-retry";
import { storagePlugin as s3Plugin } from "@pepperpy/storage-s3";
import { storagePlugin as sqlitePlugin } from "@pepperpy/storage-sqlite";
import { describe, expect, expectTypeOf, it } from "vitest";

// Core alone loads a type or layer from @pepperpy/storage-<name>; a built-in named otherwise
// is registered as a core-only user does (the umbrella @pepperpy/storage registers them itself).
registerLayer(compressionPlugin);

describe("typed config: the compiler refuses what createStorage refuses", () => {
  it("an unknown type does not compile, and is a StorageConfigError at run time", async () => {
    // @ts-expect-error "fiel" is no type (the issue's example)
    await expect(createStorage({ type: "fiel", path: "./x" })).rejects.toThrow(/unknown storage type "fiel"/);
  });

  it("a misspelt field, a wrong kind or a missing required field does not compile", async () => {
    // @ts-expect-error capacty is no field of memory
    await expect(createStorage({ type: "memory", capacty: 10 })).rejects.toThrow(/storage\.capacty: unknown field \(did you mean capacity\?\)/);
    // @ts-expect-error capacity is a size, not a boolean
    await expect(createStorage({ type: "memory", capacity: true })).rejects.toThrow(StorageConfigError);
    // @ts-expect-error bucket is required for s3
    await expect(createStorage({ type: "s3", region: "eu-west-1" })).rejects.toThrow(/storage\.bucket: required/);
    // @ts-expect-error checksums is "when_supported" or "when_required"
    await expect(createStorage({ type: "s3", bucket: "b", checksums: "always" })).rejects.toThrow(/checksums/);
  });

  it("layers under options are checked by name and by field", async () => {
    // @ts-expect-error compresion is no layer
    await expect(createStorage({ type: "memory", options: { compresion: true } })).rejects.toThrow(/options\.compresion: unknown option/);
    // @ts-expect-error lz4 is no algorithm
    await expect(createStorage({ type: "memory", options: { compression: { algorithm: "lz4" } } })).rejects.toThrow(/algorithm/);
    // @ts-expect-error cache_sise is a typo (a config in code is told the camelCase name)
    await expect(createStorage({ type: "memory", options: { cache: { cache_sise: 5 } } })).rejects.toThrow(/did you mean cacheSize/);
  });

  it("nested configs (composite, mount) are checked too", async () => {
    // @ts-expect-error a composite's backends are storage configs
    await expect(createStorage({ type: "composite", backends: [{ type: "memroy" }] })).rejects.toThrow(/backends\[0\]\.type/);
  });

  it("valid configs compile in camelCase or snake_case, with durations and sizes as numbers or text", async () => {
    const a = await createStorage({
      type: "memory",
      capacity: "1MB",
      timeout: "30s",
      max_size: 1024,
      options: { cache: { cacheSize: 10, ttl: "5m" }, compression: { algorithm: "gzip", threshold: "1KiB" }, retry: { max_retries: 2 }, metrics: true },
    });
    expect(a.name).toBe("metrics(cache(compress(retry(memory))))");
    await a.put("k", { ok: true });
    expect(await a.get("k")).toStrictEqual({ ok: true });
    const b = await createStorage({ type: "composite", read_repair: false, backends: [{ type: "memory" }, { type: "memory", capacity: 10_000 }] });
    expect(b.name).toBe("composite(memory,memory)");
    await Promise.all([a.close(), b.close()]);
  });
});

describe("defineConfig", () => {
  it("returns its argument unchanged, typed, with its literal types kept", async () => {
    const config = defineConfig({ type: "memory", capacity: 1000, options: { cache: true } });
    expectTypeOf(config.type).toEqualTypeOf<"memory">();
    expectTypeOf(config).toExtend<StorageConfig>();
    const input = { type: "memory" as const };
    expect(defineConfig(input)).toBe(input);
    const storage = await createStorage(config);
    expect(storage.name).toBe("cache(memory)");
    await storage.close();
    // @ts-expect-error defineConfig checks as createStorage does
    defineConfig({ type: "file" });
  });
});

/** Every field of `T`, each once: the object literal below must name exactly the keys of `T`. */
type Fields<T> = Record<keyof T, true>;
// The built-ins only: other test files add third-party types by declaration merging.
type BuiltinType = "file" | "fs" | "memory" | "s3" | "redis" | "postgres" | "postgresql" | "sqlite" | "azure-blob" | "composite" | "mount";
type BuiltinLayer = "tracing" | "metrics" | "cache" | "compression" | "encryption" | "retry";

// The compile-time lists, written against the types: a field added to or removed from a
// type without this list changing does not compile.
const storageTypeFields: { [T in BuiltinType]: Fields<StorageConfigTypes[T]> } = {
  file: { path: true, fsync: true, orphanAge: true } satisfies Fields<FileConfig>,
  fs: { path: true, fsync: true, orphanAge: true },
  memory: { capacity: true } satisfies Fields<MemoryConfig>,
  s3: {
    bucket: true, prefix: true, region: true, endpoint: true, forcePathStyle: true, accessKeyId: true, secretAccessKey: true, sessionToken: true,
    partSize: true, queueSize: true, maxAttempts: true, requestTimeout: true, conditionalWrites: true, checksums: true, listExpiry: true,
  } satisfies Fields<S3Config>,
  redis: { url: true, host: true, port: true, username: true, password: true, db: true, keyPrefix: true, connectTimeout: true } satisfies Fields<RedisConfig>,
  postgres: {
    connectionString: true, host: true, port: true, user: true, password: true, database: true, table: true, createTable: true, poolSize: true,
    connectionTimeout: true, statementTimeout: true, readChunkSize: true,
  } satisfies Fields<PostgresConfig>,
  postgresql: {
    connectionString: true, host: true, port: true, user: true, password: true, database: true, table: true, createTable: true, poolSize: true,
    connectionTimeout: true, statementTimeout: true, readChunkSize: true,
  },
  sqlite: { path: true, table: true, synchronous: true, busyTimeout: true } satisfies Fields<SqliteConfig>,
  "azure-blob": {
    container: true, prefix: true, connectionString: true, url: true, accountName: true, accountKey: true, sasToken: true, createContainer: true,
    blockSize: true, concurrency: true, maxAttempts: true, requestTimeout: true,
  } satisfies Fields<AzureBlobConfig>,
  composite: { backends: true, readRepair: true } satisfies Fields<CompositeConfig>,
  mount: { mounts: true } satisfies Fields<MountConfig>,
};
const layerFields: { [L in BuiltinLayer]: Fields<LayerConfigTypes[L]> } = {
  tracing: { recordKeys: true } satisfies Fields<TracingLayerConfig>,
  metrics: {},
  cache: { cacheSize: true, size: true, maxBytes: true, ttl: true, negative: true } satisfies Fields<CacheLayerConfig>,
  compression: { algorithm: true, level: true, threshold: true, maxDecompressedSize: true, decompressionBudget: true } satisfies Fields<CompressionLayerConfig>,
  encryption: { key: true, keys: true, activeKeyId: true, allowPlaintext: true, acceptScrypt: true } satisfies Fields<EncryptionLayerConfig>,
  retry: { maxRetries: true, max: true, delay: true, maxDelay: true, budget: true, attemptTimeout: true } satisfies Fields<RetryLayerConfig>,
};

describe("the config types and the plugins' field descriptors name the same fields", () => {
  const storagePlugins = [...filePlugins, memoryPlugin, s3Plugin, redisPlugin, postgresPlugin, sqlitePlugin, azurePlugin, compositePlugin];
  it.each(Object.entries(storageTypeFields))("type %s", (type, fields) => {
    const plugin = storagePlugins.find((p) => p.type === type || p.aliases?.includes(type)) ?? getStoragePlugin(type);
    expect(plugin, type).toBeDefined();
    expect(Object.keys(fields).sort()).toEqual(Object.keys(plugin!.fields ?? {}).sort());
  });
  const layerPlugins = [tracingPlugin, metricsPlugin, cachePlugin, compressionPlugin, encryptionPlugin, retryPlugin];
  it.each(Object.entries(layerFields))("layer %s", (name, fields) => {
    const plugin = layerPlugins.find((p) => p.name === name);
    expect(plugin, name).toBeDefined();
    expect(Object.keys(fields).sort()).toEqual(Object.keys(plugin!.fields ?? {}).sort());
  });
  it("every built-in type and layer has a config type", () => {
    expect(Object.keys(storageTypeFields)).toEqual(expect.arrayContaining(["file", "fs", "memory", "s3", "redis", "postgres", "sqlite", "azure-blob", "composite", "mount"]));
    expect(Object.keys(layerFields).sort()).toEqual(["cache", "compression", "encryption", "metrics", "retry", "tracing"]);
  });
});
