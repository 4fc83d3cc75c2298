/**
 * The AWS SDK, loaded on first use. `import("@pepperpy/storage")` (or of this package) loads
 * none of it: the SDK is a few megabytes of modules that a program never touching S3 should
 * not pay for at start-up. Each module is imported once, the first time an S3 storage needs
 * it (its first request, a multipart upload, a presigned URL), and shared by every storage.
 */
import type { S3Client } from "@aws-sdk/client-s3";

/** `@aws-sdk/client-s3`, as `import()` delivers it. */
export type S3Module = typeof import("@aws-sdk/client-s3");
/** `@aws-sdk/lib-storage`. */
export type LibStorageModule = typeof import("@aws-sdk/lib-storage");
/** `@aws-sdk/s3-request-presigner`. */
export type PresignerModule = typeof import("@aws-sdk/s3-request-presigner");

/** The client module and a client built from it. */
export interface LoadedSdk {
  s3: S3Module;
  client: S3Client;
}

/** One import per process; a failed import is tried again on the next call rather than cached. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** Loads `@aws-sdk/client-s3`. */
export const loadS3 = once<S3Module>(() => import("@aws-sdk/client-s3"));
/** Loads `@aws-sdk/lib-storage` (multipart uploads). */
export const loadLibStorage = once<LibStorageModule>(() => import("@aws-sdk/lib-storage"));
/** Loads `@aws-sdk/s3-request-presigner` (`getSignedUrl`). */
export const loadPresigner = once<PresignerModule>(() => import("@aws-sdk/s3-request-presigner"));
