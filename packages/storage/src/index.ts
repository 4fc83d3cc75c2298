/**
 * @packageDocumentation
 * `@pepperpy/storage`: one async API for storing and reading values by key over files,
 * memory and S3-compatible object stores, with cache, compression, encryption, retry and
 * metrics layers. This umbrella re-exports every package and registers every built-in
 * plugin, so `createStorage` knows all built-in types and layers without further imports.
 */
import { registerStorage } from "@pepperpy/storage-core";
import { storagePlugin as memoryPlugin } from "@pepperpy/storage-memory";

export * from "@pepperpy/storage-core";
export { MemoryDriver, MemoryStorage, type MemoryStorageOptions } from "@pepperpy/storage-memory";

registerStorage(memoryPlugin);
