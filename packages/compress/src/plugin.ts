import type { LayerPlugin } from "@pepperpy/storage-core";
import { CompressedStorage } from "./compressed-storage.js";
import type { CompressionAlgorithm } from "./format.js";

/** Config `options.compression: true | { algorithm, level, threshold, maxDecompressedSize, decompressionBudget }`. */
export const layerPlugin: LayerPlugin = {
  name: "compression",
  order: 30,
  fields: {
    algorithm: { enum: ["gzip", "deflate", "brotli", "zstd"] },
    level: "integer",
    threshold: "size",
    maxDecompressedSize: "size",
    decompressionBudget: "size",
  },
  create(backend, options) {
    return new CompressedStorage({
      backend,
      algorithm: options.algorithm as CompressionAlgorithm | undefined,
      level: options.level as number | undefined,
      threshold: options.threshold as number | undefined,
      maxDecompressedSize: options.maxDecompressedSize as number | undefined,
      decompressionBudget: options.decompressionBudget as number | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    });
  },
};
