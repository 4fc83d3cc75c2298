/**
 * @packageDocumentation
 * `MemoryStorage`: the in-process backend of @pepperpy/storage, and the reference every
 * layer is tested around.
 *
 * @module @pepperpy/storage-memory
 */
export { MemoryDriver, MemoryStorage, type MemoryStorageOptions } from "./memory-storage.js";

import { type StoragePlugin, definePlugin } from "@pepperpy/storage-core";
import { MemoryStorage } from "./memory-storage.js";

/** Registry plugin for config `type: memory`. */
export const storagePlugin: StoragePlugin = definePlugin({
  type: "memory",
  fields: { capacity: "size" },
  create: (config) => new MemoryStorage({ timeout: config.timeout, maxSize: config.maxSize, capacity: config.capacity }),
});
