/**
 * @packageDocumentation
 * `KeyvStorage`: any `@pepperpy/storage` Storage (file, S3, memory, with any layers) as a
 * Keyv 5 store, with native TTL and namespaces as key prefixes.
 *
 * @module @pepperpy/storage-keyv
 */
export { type KeyEncoding, type KeyvEntry, KeyvStorage, type KeyvStorageOptions, withIterator } from "./keyv-store.js";
