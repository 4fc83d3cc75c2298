/**
 * @packageDocumentation
 * The core of @pepperpy/storage: the `Storage` contract and the `StorageDriver` contract
 * backends implement, the shared `BaseStorage` that derives the public surface, the error
 * family, events, key and value codecs, the plugin registry, the config factory and
 * `CompositeStorage`.
 *
 * @module @pepperpy/storage-core
 */
export type {
  BatchOptions,
  ByteStream,
  DriverContext,
  IterateOptions,
  JsonValue,
  ListEntry,
  ListPage,
  ListPageRequest,
  ListPageOptions,
  ObjectInfo,
  OperationOptions,
  PutOptions,
  RangeOptions,
  Storage,
  StorageCapabilities,
  StorageDriver,
  StorageEvent,
  StorageEventName,
  StorageListener,
  StorageValue,
  Jsonable,
  PutValue,
  StoredEntry,
  StoredStream,
  ValueType,
  WriteRequest,
} from "./types.js";
export {
  type BackendFailure,
  type PartialFailure,
  StorageAbortedError,
  StorageConfigError,
  StorageConflictError,
  StorageError,
  type StorageErrorCode,
  type StorageErrorOptions,
  StorageIOError,
  StorageIntegrityError,
  StorageNotFoundError,
  StorageOutcomeUnknownError,
  StoragePartialWriteError,
  StoragePermissionError,
  StorageQuotaError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageUnsupportedError,
  StorageValidationError,
  errorClassFor,
  fromAbortSignal,
  fromNodeError,
  isStorageError,
} from "./errors.js";
export { StorageEvents } from "./events.js";
export { ByteReader, collect, copyBytes, drain, sliceRange } from "./bytes.js";
export {
  MAX_KEY_BYTES,
  MAX_METADATA_BYTES,
  RESERVED_SEGMENT_PREFIX,
  compareKeys,
  sortKeys,
  isValidKey,
  validateKey,
  validateMetadata,
  validatePrefix,
} from "./keys.js";
export {
  DEFAULT_CONTENT_TYPES,
  contentTypeFromKey,
  decodeJSON,
  decodeText,
  decodeValue,
  encodeValue,
  handOver,
  isWellFormedText,
  MAX_JSON_DEPTH,
  type EncodedBytes,
  type EncodedStream,
  inferValueType,
  isByteStream,
  iterateBytes,
  toBuffer,
} from "./codec.js";
export {
  BaseStorage,
  type BaseStorageOptions,
  DEFAULT_CONCURRENCY,
  DEFAULT_PAGE_SIZE,
  DEFAULT_TIMEOUT_MS,
  NEVER_ABORTED,
  RESOLVED_EXPIRY,
  abortableSleep,
  forwardedExpiry,
  mapLimit,
  requestExpiry,
} from "./storage.js";
export { Secret } from "./secret.js";
export { ForwardingDriver, type LayerOptions, LayerStorage, innerOptions, orUndefined } from "./layer.js";
export { checkOptionNames, didYouMean, toSnakeCase } from "./options.js";
export { OPERATION_CHANNEL_NAME, type OperationMessage, redact } from "./diagnostics.js";
export { CompositeDriver, CompositeStorage, type CompositeStorageOptions } from "./composite.js";
export { MountDriver, MountStorage, type MountTable, mountPlugin } from "./mount.js";
export { PrefixDriver } from "./prefixed.js";
export { type KeySpace, keySpace } from "./key-space.js";
export { ENCODED_SEGMENT_BYTES, decodeKey, encodeKey } from "./key-encoding.js";
export {
  type FieldKind,
  type FieldValue,
  type LayerPlugin,
  type LazyLayerPlugin,
  type LazyStoragePlugin,
  PLUGIN_PACKAGE_PREFIX,
  type PluginConfig,
  type PluginModule,
  type TypedStoragePlugin,
  definePlugin,
  type PluginContext,
  type ResolvedStorageConfig,
  type StoragePlugin,
  getLayerPlugin,
  getStoragePlugin,
  pluginPackageName,
  registerLayer,
  registerLazyLayer,
  registerLazyStorage,
  registerStorage,
  registeredLayers,
  registeredStorageTypes,
  resolveLayerPlugin,
  resolveStoragePlugin,
} from "./registry.js";
export {
  type AzureBlobConfig,
  type BothSpellings,
  type CacheLayerConfig,
  type CommonConfigFields,
  type CompositeConfig,
  type CompressionLayerConfig,
  type ConfigDuration,
  type ConfigSecret,
  type ConfigSize,
  type EncryptionLayerConfig,
  type FileConfig,
  type LayerConfigTypes,
  type LayerOptionsConfig,
  type MemoryConfig,
  type MountConfig,
  type PostgresConfig,
  type RedisConfig,
  type RetryLayerConfig,
  type S3Config,
  type SnakeCase,
  type SqliteConfig,
  type StorageConfig,
  type StorageConfigOf,
  type StorageConfigTypes,
  type TracingLayerConfig,
  defineConfig,
} from "./config-types.js";
export {
  type ConfigOrigins,
  DEFAULT_MAX_CONFIG_BYTES,
  type DurationUnit,
  type LoadConfigOptions,
  type StorageConfigInput,
  compositePlugin,
  createStorage,
  interpolateEnv,
  loadConfig,
  parseConfig,
  parseDuration,
  parseSize,
  resolveConfig,
  toCamelCase,
} from "./config.js";
