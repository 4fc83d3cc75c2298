/**
 * @packageDocumentation
 * `@pepperpy/storage`: one async API for storing and reading values by key over files,
 * memory and S3-compatible object stores, with cache, compression, encryption, retry and
 * metrics layers. This umbrella re-exports every runtime package and registers every
 * built-in plugin, so `createStorage` knows all built-in types and layers with one import:
 * the plugins of the packages it re-exports at once, and the built-in names that do not
 * follow the `@pepperpy/storage-<name>` convention of core (`tracing`, `postgresql`) lazily,
 * so their packages load on first use.
 *
 * The testing kit (`MockStorage`, fault injection, the conformance suite) is not
 * re-exported: it imports vitest, which production code should not load. Import it from
 * `@pepperpy/storage-testing` in tests.
 */
import { type PluginModule, registerLayer, registerLazyLayer, registerLazyStorage, registerStorage } from "@pepperpy/storage-core";
import { layerPlugin as cachePlugin } from "@pepperpy/storage-cache";
import { layerPlugin as compressionPlugin } from "@pepperpy/storage-compress";
import { layerPlugin as encryptionPlugin } from "@pepperpy/storage-crypto";
import { storagePlugins as filePlugins } from "@pepperpy/storage-fs";
import { storagePlugin as memoryPlugin } from "@pepperpy/storage-memory";
import { layerPlugin as metricsPlugin } from "@pepperpy/storage-metrics";
import { layerPlugin as retryPlugin } from "@pepperpy/storage-retry";
import { storagePlugin as s3Plugin } from "@pepperpy/storage-s3";

// The core: contract, BaseStorage, errors, events, codecs, registry, config, composite.
export * from "@pepperpy/storage-core";
export { MemoryDriver, MemoryStorage, type MemoryStorageOptions } from "@pepperpy/storage-memory";
export { FileDriver, FileStorage, type FileStorageOptions } from "@pepperpy/storage-fs";
export {
  type S3Credentials,
  type S3DeleteFailure,
  S3DeleteManyError,
  S3Driver,
  S3Storage,
  type S3StorageOptions,
  type SignedUrlOptions,
  mapS3Error,
} from "@pepperpy/storage-s3";
export { CacheDriver, CachedStorage, type CachedStorageOptions, type CacheStats } from "@pepperpy/storage-cache";
export {
  CompressedStorage,
  type CompressedStorageOptions,
  type CompressionAlgorithm,
  CompressionDriver,
  DecompressionBudget,
} from "@pepperpy/storage-compress";
export {
  EncryptedStorage,
  type EncryptedStorageOptions,
  EncryptionDriver,
  type ReencryptOptions,
  type ReencryptResult,
  type ScryptParams,
} from "@pepperpy/storage-crypto";
export { RetryDriver, type RetryEvent, type RetryPolicy, RetryStorage, type RetryStorageOptions } from "@pepperpy/storage-retry";
export {
  MetricsDriver,
  MetricsStorage,
  type OperationMetrics,
  type PrometheusOptions,
  type StorageMetrics,
} from "@pepperpy/storage-metrics";

// Loaded with the umbrella anyway (it re-exports them), so registered at once: `file` and
// `fs`, `compression` and `encryption` need no convention.
registerStorage(memoryPlugin);
for (const plugin of filePlugins) registerStorage(plugin);
registerStorage(s3Plugin);
registerLayer(metricsPlugin);
registerLayer(cachePlugin);
registerLayer(compressionPlugin);
registerLayer(encryptionPlugin);
registerLayer(retryPlugin);

/**
 * Imports an optional package the umbrella does not depend on. The name is a variable so
 * the bundler leaves the import to run time, where it resolves next to the user's install.
 */
function loadOptional(pkg: string): () => Promise<PluginModule> {
  return () => import(/* @vite-ignore */ pkg) as Promise<PluginModule>;
}

// Built-in names whose package is not `@pepperpy/storage-<name>`; they load on first use.
registerLazyLayer({ name: "tracing", package: "@pepperpy/storage-otel", load: loadOptional("@pepperpy/storage-otel") });
registerLazyStorage({ type: "postgresql", package: "@pepperpy/storage-postgres", load: loadOptional("@pepperpy/storage-postgres") });
