/**
 * @packageDocumentation
 * `S3Storage`: the S3 backend of @pepperpy/storage, for AWS S3 and S3-compatible servers
 * (MinIO, Cloudflare R2, Ceph RGW, …).
 *
 * @module @pepperpy/storage-s3
 */
export {
  DEFAULT_PART_SIZE,
  DELETE_BATCH_SIZE,
  EXPIRY_MARKER,
  MIN_PART_SIZE,
  type S3Credentials,
  type S3DeleteFailure,
  S3DeleteManyError,
  S3Driver,
  S3Storage,
  type S3StorageOptions,
  type SignedUrlOptions,
} from "./s3-storage.js";
export { mapS3Error, type S3ErrorContext } from "./errors.js";
export { EXPIRES_METADATA_KEY, VALUE_TYPE_METADATA_KEY, decodeMetadataValue, encodeMetadataValue } from "./metadata.js";

import { type Secret, StorageConfigError, type StoragePlugin } from "@pepperpy/storage-core";
import { S3Storage, type S3StorageOptions } from "./s3-storage.js";

/**
 * Registry plugin for config `type: s3`.
 *
 * Retries: when `options.retry` is enabled, the retry layer owns retries and the SDK
 * client makes exactly one attempt per request (`maxAttempts: 1`); otherwise the SDK
 * retries with `max_attempts` (default 3). Setting both is a config error, because the
 * attempts would multiply.
 */
export const storagePlugin: StoragePlugin = {
  type: "s3",
  fields: {
    bucket: "string",
    prefix: "string",
    region: "string",
    endpoint: "string",
    forcePathStyle: "boolean",
    accessKeyId: "secret",
    secretAccessKey: "secret",
    sessionToken: "secret",
    partSize: "size",
    queueSize: "integer",
    maxAttempts: "integer",
    requestTimeout: "duration",
    conditionalWrites: "boolean",
    checksums: { enum: ["when_supported", "when_required"] },
    listExpiry: { enum: ["auto", "always", "never"] },
  },
  required: ["bucket"],
  create(config) {
    const str = (name: string) => config[name] as string | undefined;
    const retryLayer = config.options.retry !== undefined && config.options.retry !== false;
    if (retryLayer && config.maxAttempts !== undefined && config.maxAttempts !== 1) {
      throw new StorageConfigError(
        "storage.max_attempts: cannot be combined with options.retry (the retry layer owns retries; the SDK then makes one attempt per request)",
        { operation: "createStorage", backend: "s3" },
      );
    }
    // Secret fields arrive as `Secret`s and are passed on as they are (see S3Credentials).
    const secret = (name: string) => config[name] as Secret<string> | string | undefined;
    const accessKeyId = secret("accessKeyId");
    const secretAccessKey = secret("secretAccessKey");
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw new StorageConfigError("storage.access_key_id and storage.secret_access_key must be given together", {
        operation: "createStorage",
        backend: "s3",
      });
    }
    const checksums = str("checksums");
    const options: S3StorageOptions = {
      bucket: str("bucket")!,
      prefix: str("prefix"),
      region: str("region"),
      endpoint: str("endpoint"),
      forcePathStyle: config.forcePathStyle as boolean | undefined,
      credentials:
        accessKeyId !== undefined && secretAccessKey !== undefined
          ? { accessKeyId, secretAccessKey, sessionToken: secret("sessionToken") }
          : undefined,
      partSize: config.partSize as number | undefined,
      queueSize: config.queueSize as number | undefined,
      maxAttempts: retryLayer ? 1 : (config.maxAttempts as number | undefined),
      requestTimeout: config.requestTimeout as number | undefined,
      conditionalWrites: config.conditionalWrites as boolean | undefined,
      listExpiry: config.listExpiry as S3StorageOptions["listExpiry"],
      timeout: config.timeout,
      maxSize: config.maxSize,
      clientConfig:
        checksums === "when_required" ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" } : undefined,
    };
    return new S3Storage(options);
  },
};
