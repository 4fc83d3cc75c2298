/**
 * @packageDocumentation
 * `CompressedStorage`: a layer that compresses values (gzip, deflate, brotli, zstd) in a
 * small versioned format, reads values written without it unchanged, and stops
 * decompression bombs. Exports `layerPlugin` for config `options.compression`.
 *
 * @module @pepperpy/storage-compress
 */
export {
  CompressedStorage,
  type CompressedStorageOptions,
  CompressionDriver,
  DEFAULT_MAX_DECOMPRESSED_SIZE,
  DEFAULT_THRESHOLD,
} from "./compressed-storage.js";
export { DEFAULT_DECOMPRESSION_BUDGET_BYTES, DecompressionBudget, sharedDecompressionBudget } from "./budget.js";
export { type CompressionAlgorithm, FORMAT_VERSION, LEVELS, MAGIC, ZSTD_AVAILABLE } from "./format.js";
export { layerPlugin } from "./plugin.js";
