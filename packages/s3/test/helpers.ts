import { createHash } from "node:crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { S3Storage, type S3StorageOptions } from "../src/index.js";
import { type S3Server, startS3Server } from "@pepperpy/storage-testing";

export { startS3Server, type S3Server };

let counter = 0;

/** A fresh bucket name per call, so test files and cases never share state. */
export function uniqueBucket(label = "t"): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`.toLowerCase();
}

/** An S3Storage on s3rver with its settings; extra options override. */
export function s3StorageFor(server: S3Server, bucket: string, extra: Partial<S3StorageOptions> = {}): S3Storage {
  const { endpoint, region, forcePathStyle, credentials, ...clientConfig } = server.clientConfig;
  return new S3Storage({
    bucket,
    endpoint,
    region,
    forcePathStyle,
    credentials,
    clientConfig,
    // s3rver ignores If-None-Match / If-Match on PUT (see TOOLCHAIN.md): say so honestly.
    conditionalWrites: false,
    ...extra,
  });
}

/** A raw client for s3rver, for checks behind the storage's back. */
export function rawClient(server: S3Server): S3Client {
  return new S3Client({ ...server.clientConfig, maxAttempts: 1 });
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
