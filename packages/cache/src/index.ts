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
 * name in both; `size`, the name before, is accepted as an alias.
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
