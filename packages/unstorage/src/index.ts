/**
 * @packageDocumentation
 * `storageDriver`: any `@pepperpy/storage` Storage (file, S3, memory, with any layers) as an
 * unstorage driver, with `:` ⇄ `/` keys, native TTL and meta from `stat`.
 *
 * @module @pepperpy/storage-unstorage
 */
export {
  type KeyEncoding,
  type StorageDriverInstance,
  type StorageDriverOptions,
  type StorageMeta,
  type TransactionOptions,
  storageDriver,
} from "./unstorage-driver.js";
