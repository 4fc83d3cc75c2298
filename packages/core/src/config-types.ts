/**
 * The compile-time shape of a storage config written in code: a union discriminated by
 * `type`, one member per entry of {@link StorageConfigTypes}, with the layers of
 * {@link LayerConfigTypes} under `options`. Run time checks the same fields (the plugins'
 * `fields` descriptors; a test keeps the two lists equal), so these types only move the
 * errors `createStorage` would throw to the compiler: `{ type: "fiel" }` and
 * `{ type: "memory", capacty: 10 }` do not compile.
 *
 * A plugin package adds its type by declaration merging:
 *
 * ```ts
 * declare module "@pepperpy/storage-core" {
 *   interface StorageConfigTypes {
 *     "my-kv": { url: string; poolSize?: number };
 *   }
 * }
 * ```
 */
import type { Secret } from "./secret.js";

/**
 * A duration: milliseconds as a number in code, or a string with a unit (`"500ms"`,
 * `"30s"`, `"5m"`, `"2h"`, `"30d"`). A bare number in YAML is seconds.
 */
export type ConfigDuration = number | string;

/** A size: bytes as a number, or a string with a unit (`"10MB"` decimal, `"10MiB"` binary). */
export type ConfigSize = number | string;

/** A secret field: the text, or a {@link Secret} holding it. */
export type ConfigSecret = string | Secret;

/** `maxSize` → `max_size`, at the type level: how a field is spelled in YAML. */
export type SnakeCase<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<Rest>}`
  : S;

/**
 * A config object's fields under both accepted spellings: the camelCase names of `T`, and
 * each also as snake_case (optional; giving both spellings is a run-time error). Required
 * fields of the built-ins are single words, spelled the same both ways.
 */
export type BothSpellings<T> = T & { [K in keyof T as K extends string ? SnakeCase<K> : never]?: T[K] };

/** Fields every type accepts, also under `options` (SPEC §5). */
export interface CommonConfigFields {
  /** Default operation timeout (milliseconds in code). */
  timeout?: ConfigDuration | undefined;
  /** Largest value a `put` accepts. */
  maxSize?: ConfigSize | undefined;
  /** Expiry given to writes that set none (see docs/expiry.md). */
  defaultTtl?: ConfigDuration | undefined;
}

/** `type: file` (alias `fs`). */
export interface FileConfig {
  /** The base folder. */
  path: string;
  /** Flush files and folders to disk before a write resolves (default true). */
  fsync?: boolean | undefined;
  /** Age after which leftover temporary files are removed. */
  orphanAge?: ConfigDuration | undefined;
}

/** `type: memory`. */
export interface MemoryConfig {
  /** Largest total bytes held. */
  capacity?: ConfigSize | undefined;
}

/** `type: s3`. */
export interface S3Config {
  bucket: string;
  prefix?: string | undefined;
  region?: string | undefined;
  endpoint?: string | undefined;
  forcePathStyle?: boolean | undefined;
  accessKeyId?: ConfigSecret | undefined;
  secretAccessKey?: ConfigSecret | undefined;
  sessionToken?: ConfigSecret | undefined;
  /** Multipart upload part size. */
  partSize?: ConfigSize | undefined;
  /** Parts uploaded at once. */
  queueSize?: number | undefined;
  maxAttempts?: number | undefined;
  requestTimeout?: ConfigDuration | undefined;
  conditionalWrites?: boolean | undefined;
  checksums?: "when_supported" | "when_required" | undefined;
  listExpiry?: "auto" | "always" | "never" | undefined;
}

/** `type: redis`. */
export interface RedisConfig {
  url?: ConfigSecret | undefined;
  host?: string | undefined;
  port?: number | undefined;
  username?: string | undefined;
  password?: ConfigSecret | undefined;
  db?: number | undefined;
  keyPrefix?: string | undefined;
  connectTimeout?: ConfigDuration | undefined;
}

/** `type: postgres` (alias `postgresql`). */
export interface PostgresConfig {
  connectionString?: ConfigSecret | undefined;
  host?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  password?: ConfigSecret | undefined;
  database?: string | undefined;
  table?: string | undefined;
  createTable?: boolean | undefined;
  poolSize?: number | undefined;
  connectionTimeout?: ConfigDuration | undefined;
  statementTimeout?: ConfigDuration | undefined;
  /** Values larger than this are read in slices of this size (default 4 MiB, at most 64 MiB). */
  readChunkSize?: ConfigSize | undefined;
}

/** `type: sqlite`. */
export interface SqliteConfig {
  /** The database file. */
  path: string;
  table?: string | undefined;
  synchronous?: "full" | "normal" | undefined;
  busyTimeout?: ConfigDuration | undefined;
}

/** `type: azure-blob`. */
export interface AzureBlobConfig {
  container: string;
  prefix?: string | undefined;
  connectionString?: ConfigSecret | undefined;
  url?: string | undefined;
  accountName?: string | undefined;
  accountKey?: ConfigSecret | undefined;
  sasToken?: ConfigSecret | undefined;
  createContainer?: boolean | undefined;
  blockSize?: ConfigSize | undefined;
  concurrency?: number | undefined;
  maxAttempts?: number | undefined;
  requestTimeout?: ConfigDuration | undefined;
}

/** `type: composite`: the first backend is the primary. */
export interface CompositeConfig {
  backends: readonly StorageConfig[];
  /** Copy a value read from a later backend back to the earlier ones (default true). */
  readRepair?: boolean | undefined;
}

/** `type: mount`: mount points (key prefixes, `""` for the rest) to storage configs. */
export interface MountConfig {
  mounts: Readonly<Record<string, StorageConfig>>;
}

/**
 * The storage types `createStorage` knows, by `type`, each with its own fields (camelCase;
 * {@link StorageConfig} adds the snake_case spellings and the common fields). A plugin
 * package augments this interface (`declare module "@pepperpy/storage-core"`) so its type
 * is checked like the built-ins.
 */
export interface StorageConfigTypes {
  file: FileConfig;
  fs: FileConfig;
  memory: MemoryConfig;
  s3: S3Config;
  redis: RedisConfig;
  postgres: PostgresConfig;
  postgresql: PostgresConfig;
  sqlite: SqliteConfig;
  "azure-blob": AzureBlobConfig;
  composite: CompositeConfig;
  mount: MountConfig;
}

/** `options.tracing` (`@pepperpy/storage-otel`). */
export interface TracingLayerConfig {
  /** Put the key in each span (default true). */
  recordKeys?: boolean | undefined;
}

/** `options.cache`. */
export interface CacheLayerConfig {
  /** Entries held. */
  cacheSize?: number | undefined;
  /** @deprecated The name configs used before `cache_size`; not together with it. */
  size?: number | undefined;
  /** Largest total bytes held. */
  maxBytes?: ConfigSize | undefined;
  /** How long an entry is served. */
  ttl?: ConfigDuration | undefined;
  /** Cache "not found" too. */
  negative?: boolean | undefined;
}

/** `options.compression`. */
export interface CompressionLayerConfig {
  algorithm?: "gzip" | "deflate" | "brotli" | "zstd" | undefined;
  level?: number | undefined;
  /** Values smaller than this are stored as they are. */
  threshold?: ConfigSize | undefined;
  maxDecompressedSize?: ConfigSize | undefined;
  decompressionBudget?: ConfigSize | undefined;
}

/** `options.encryption`: `key` (a passphrase, or 32 random bytes as base64 or hex) or `keys`. */
export interface EncryptionLayerConfig {
  key?: ConfigSecret | undefined;
  /** Key ids to keys, for rotation; `activeKeyId` names the one new writes use. */
  keys?: Readonly<Record<string, ConfigSecret>> | undefined;
  activeKeyId?: string | undefined;
  /** Read values stored before encryption was enabled. */
  allowPlaintext?: boolean | undefined;
  /**
   * scrypt parameter sets reads accept besides the one this release writes, for data other
   * tools wrote: `[{ logN: 14, r: 8, p: 1 }]` (`log_n` in YAML). Each within logN 10..20,
   * r 1..32, p 1..4 and 256 MiB.
   */
  acceptScrypt?: readonly { logN: number; r: number; p: number }[] | undefined;
}

/** `options.retry`. */
export interface RetryLayerConfig {
  maxRetries?: number | undefined;
  /** @deprecated The name configs used before `max_retries`; not together with it. */
  max?: number | undefined;
  /** First delay between attempts. */
  delay?: ConfigDuration | undefined;
  maxDelay?: ConfigDuration | undefined;
  /** Retries allowed in a burst across all operations. */
  budget?: number | undefined;
  /** Limit of one attempt; a hung attempt is aborted and retried (default: none). */
  attemptTimeout?: ConfigDuration | undefined;
}

/**
 * The layers `options` knows, by name, each with its own fields. A layer plugin package
 * augments this interface as a storage plugin does {@link StorageConfigTypes}.
 */
export interface LayerConfigTypes {
  tracing: TracingLayerConfig;
  metrics: {};
  cache: CacheLayerConfig;
  compression: CompressionLayerConfig;
  encryption: EncryptionLayerConfig;
  retry: RetryLayerConfig;
}

/** `options`: each layer `true`, `false` or its fields (`enabled: false` turns it off), and the common fields. */
export type LayerOptionsConfig = BothSpellings<CommonConfigFields> & {
  [Name in keyof LayerConfigTypes]?: boolean | (BothSpellings<LayerConfigTypes[Name]> & { enabled?: boolean | undefined }) | undefined;
};

/** The config of one storage type `T`: its fields, the common ones, and `options`. */
export type StorageConfigOf<T extends keyof StorageConfigTypes> = { type: T } & BothSpellings<CommonConfigFields> &
  BothSpellings<StorageConfigTypes[T]> & { options?: LayerOptionsConfig | undefined };

/**
 * A storage config written in code, checked by the compiler: one member per type of
 * {@link StorageConfigTypes}, discriminated by `type`. Durations are milliseconds (or
 * `"30s"`), sizes bytes (or `"10MB"`).
 */
export type StorageConfig = { [T in keyof StorageConfigTypes]: StorageConfigOf<T> }[keyof StorageConfigTypes];

/**
 * Returns its argument, typed as a {@link StorageConfig}: a config kept in its own module
 * (`export default defineConfig({ … })`) is checked where it is written, and its literal
 * types are kept. It does nothing at run time; `createStorage` validates as always.
 *
 * @example
 * const config = defineConfig({ type: "file", path: "./data", options: { compression: true } });
 * const storage = await createStorage(config);
 */
export function defineConfig<const C extends StorageConfig>(config: C): C {
  return config;
}
