/**
 * @packageDocumentation
 * `CachedStorage`: an LRU read cache layer for @pepperpy/storage, with single-flight
 * misses and write invalidation.
 */
export { CacheDriver, CachedStorage, type CachedStorageOptions, type CacheStats } from "./cached-storage.js";

import type { LayerPlugin } from "@pepperpy/storage-core";
import { CachedStorage } from "./cached-storage.js";

/**
 * Registry plugin for config `options.cache`: `{ size, max_bytes, ttl, negative }`
 * (`ttl` in seconds in YAML, milliseconds in code).
 */
export const layerPlugin: LayerPlugin = {
  name: "cache",
  order: 20,
  fields: { size: "integer", maxBytes: "size", ttl: "duration", negative: "boolean" },
  create: (backend, options) =>
    new CachedStorage({
      backend,
      cacheSize: options.size as number | undefined,
      maxBytes: options.maxBytes as number | undefined,
      ttl: options.ttl as number | undefined,
      negative: options.negative as boolean | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    }),
};
