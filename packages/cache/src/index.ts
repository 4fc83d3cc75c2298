/**
 * @packageDocumentation
 * `CachedStorage`: an LRU read cache layer for @pepperpy/storage, with single-flight
 * misses and write invalidation.
 *
 * @module @pepperpy/storage-cache
 */
export { CacheDriver, CachedStorage, type CachedStorageOptions, type CacheStats } from "./cached-storage.js";

import { type LayerPlugin, StorageConfigError } from "@pepperpy/storage-core";
import { CachedStorage } from "./cached-storage.js";

/**
 * Registry plugin for config `options.cache`: `{ cache_size, max_bytes, ttl, negative }`
 * (`ttl` in seconds in YAML, milliseconds in code). `cache_size` is `cacheSize` in code, one
 * name in both; `size`, the name before, is still accepted but deprecated: it emits one
 * `DeprecationWarning` (code `PEPPERPY_DEP_CACHE_SIZE`) per process.
 */
export const layerPlugin: LayerPlugin = {
  name: "cache",
  order: 20,
  // `cache_size` is the code's name (`cacheSize`); `size` is kept as an alias for configs written before.
  fields: { cacheSize: "integer", size: "integer", maxBytes: "size", ttl: "duration", negative: "boolean" },
  create: (backend, options) => {
    if (options.cacheSize !== undefined && options.size !== undefined) {
      throw new StorageConfigError("storage.options.cache: give cache_size or its alias size, not both", { operation: "createStorage" });
    }
    if (options.size !== undefined) warnSizeAlias();
    return new CachedStorage({
      backend,
      cacheSize: (options.cacheSize ?? options.size) as number | undefined,
      maxBytes: options.maxBytes as number | undefined,
      ttl: options.ttl as number | undefined,
      negative: options.negative as boolean | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    });
  },
};

/** The code of the warning for `cache.size`, the deprecated name of `cache_size`. */
const SIZE_ALIAS_WARNING_CODE = "PEPPERPY_DEP_CACHE_SIZE";

/** Warns once per process (across installed copies) that config `cache.size` is deprecated. */
function warnSizeAlias(): void {
  const flag = Symbol.for(`@pepperpy/storage.warned.${SIZE_ALIAS_WARNING_CODE}`);
  const seen = globalThis as Record<symbol, unknown>;
  if (seen[flag] === true) return;
  seen[flag] = true;
  process.emitWarning(
    "storage.options.cache.size is deprecated: write cache_size (cacheSize in code). size still works and will be removed in the next major version.",
    "DeprecationWarning",
    SIZE_ALIAS_WARNING_CODE,
  );
}
