/**
 * @packageDocumentation
 * `MemoryStorage`: the in-process backend of @pepperpy/storage, and the reference every
 * layer is tested around.
 *
 * @module @pepperpy/storage-memory
 */
export { MemoryDriver, MemoryStorage, type MemoryStorageOptions } from "./memory-storage.js";

import type { StoragePlugin } from "@pepperpy/storage-core";
import { MemoryStorage } from "./memory-storage.js";

/** Registry plugin for config `type: memory`. */
export const storagePlugin: StoragePlugin = {
  type: "memory",
  create: (config) => new MemoryStorage({ timeout: config.timeout, maxSize: config.maxSize, capacity: config.capacity as number | undefined }),
  fields: { capacity: "size" },
};
