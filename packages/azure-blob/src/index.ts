/**
 * @packageDocumentation
 * `AzureBlobStorage`: the Azure Blob Storage backend of @pepperpy/storage (Azure and
 * Azurite), on `@azure/storage-blob`.
 *
 * @module @pepperpy/storage-azure-blob
 */
export {
  AzureBlobDriver,
  AzureBlobStorage,
  type AzureBlobStorageOptions,
  type AzureSignedUrlOptions,
  type AzureTokenCredential,
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
} from "./azure-blob-storage.js";
export { type AzureErrorContext, mapAzureError, redact } from "./errors.js";
export { EXPIRES_NAME, VALUE_TYPE_NAME, decodeName, encodeName, fromAzureMetadata, toAzureMetadata } from "./names.js";

import { type Secret, StorageConfigError, type StoragePlugin } from "@pepperpy/storage-core";
import { AzureBlobStorage } from "./azure-blob-storage.js";

/**
 * Registry plugin for config `type: azure-blob`. Credentials (`connection_string`,
 * `account_key`, `sas_token`) are secret fields: never printed in errors.
 *
 * Retries: when `options.retry` is enabled, the retry layer owns retries and the SDK makes
 * one attempt per request; otherwise the SDK tries `max_attempts` times (default 3).
 */
export const storagePlugin: StoragePlugin = {
  type: "azure-blob",
  fields: {
    container: "string",
    prefix: "string",
    connectionString: "secret",
    url: "string",
    accountName: "string",
    accountKey: "secret",
    sasToken: "secret",
    createContainer: "boolean",
    blockSize: "size",
    concurrency: "integer",
    maxAttempts: "integer",
    requestTimeout: "duration",
  },
  required: ["container"],
  create(config) {
    const str = (name: string) => config[name] as string | undefined;
    // Secret fields arrive held in a `Secret` (never printed by the resolved config); the storage keeps them so.
    const secret = (name: string) => config[name] as string | Secret<string> | undefined;
    const retryLayer = config.options.retry !== undefined && config.options.retry !== false;
    if (retryLayer && config.maxAttempts !== undefined && config.maxAttempts !== 1) {
      throw new StorageConfigError("storage.max_attempts: cannot be combined with options.retry (the retry layer owns retries; the SDK then makes one attempt per request)", {
        operation: "createStorage",
        backend: "azure-blob",
      });
    }
    return new AzureBlobStorage({
      container: str("container")!,
      prefix: str("prefix"),
      connectionString: secret("connectionString"),
      url: str("url"),
      accountName: str("accountName"),
      accountKey: secret("accountKey"),
      sasToken: secret("sasToken"),
      createContainer: config.createContainer as boolean | undefined,
      blockSize: config.blockSize as number | undefined,
      concurrency: config.concurrency as number | undefined,
      maxAttempts: retryLayer ? 1 : (config.maxAttempts as number | undefined),
      requestTimeout: config.requestTimeout as number | undefined,
      timeout: config.timeout,
      maxSize: config.maxSize,
    });
  },
};
