/**
 * @packageDocumentation
 * `EncryptedStorage`: a layer that encrypts values with AES-256-GCM in authenticated
 * 64 KiB records, with passphrases or raw keys, key ids and rotation. Exports
 * `layerPlugin` for config `options.encryption`.
 *
 * @module @pepperpy/storage-crypto
 */
export {
  EncryptedStorage,
  type EncryptedStorageOptions,
  EncryptionDriver,
  type ReencryptOptions,
  type ReencryptResult,
} from "./encrypted-storage.js";
export { CHUNK_LOG2, FORMAT_VERSION, MAGIC, SCRYPT_WRITE, type ScryptParams } from "./format.js";
export { DEFAULT_KEY_ID, type KeyMaterial } from "./keyring.js";
export { layerPlugin } from "./plugin.js";
