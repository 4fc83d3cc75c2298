// The expiry cases of the conformance suite (SPEC §11) over layer stacks on S3 (s3rver), as
// redis, postgres, sqlite and azure-blob run them: the layers resolve the deadline and hand it
// to the backend, which keeps it in x-amz-meta-pepperpy-expires next to the layers' own
// metadata (compression and encryption headers), outside the compressed or encrypted bytes.
// conformance.test.ts runs the whole suite on the bare backend; only the expiry cases run here.
import { DeleteObjectsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { CachedStorage } from "@pepperpy/storage-cache";
import { CompressedStorage } from "@pepperpy/storage-compress";
import type { Storage } from "@pepperpy/storage-core";
import { EncryptedStorage } from "@pepperpy/storage-crypto";
import { RetryStorage } from "@pepperpy/storage-retry";
import { type ConformanceEnv, conformanceCaseNames, describeStorageConformance, expiryCaseNames } from "@pepperpy/storage-testing";
import { afterAll, beforeAll } from "vitest";
import type { S3Storage } from "../src/index.js";
import { type S3Server, rawClient, s3StorageFor, startS3Server } from "./helpers.js";

let server: S3Server | undefined;
const bucket = "expiry-stacks";

beforeAll(async () => {
  server = await startS3Server({ bucket });
});
afterAll(async () => {
  await server?.stop();
});

/** The backend of every stack: conditional writes on, as conformance.test.ts runs it (s3rver ignores them; see the skip below). */
function s3(prefix: string, env: ConformanceEnv): S3Storage {
  return s3StorageFor(server!, bucket, { prefix, conditionalWrites: true, clock: env.clock.now });
}

/** Deletes what a case left under a stack's prefix with raw S3 calls (see removeLeftovers in conformance.test.ts). */
async function removeLeftovers(prefix: string): Promise<void> {
  const client = rawClient(server!);
  try {
    for (;;) {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
      const keys = (out.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) return;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
  } catch (error) {
    // s3rver sometimes answers a listing after expiry cases with a 500 InternalError; what is
    // left is expired keys under a random per-case prefix, which no later case lists.
    if ((error as { name?: string }).name !== "InternalError") throw error;
  } finally {
    client.destroy();
  }
}

const skip: Record<string, string> = {
  ...Object.fromEntries(
    conformanceCaseNames
      .filter((name) => !expiryCaseNames.includes(name))
      .map((name) => [name, "covered by the stacks over memory, file and the other backends; this file runs the expiry cases over layers on S3"]),
  ),
  "expiry: ifNoneMatch '*' creates over an expired value; ifMatch on an expired value fails":
    "not supported by s3rver: it ignores If-None-Match / If-Match on PUT (the expired-value takeover is a compare-and-swap on the etag)",
};

const stacks: [string, (env: ConformanceEnv, backend: S3Storage) => Storage][] = [
  ["cache(s3)", ({ clock }, backend) => new CachedStorage({ clock: clock.now, backend })],
  ["compress(s3)", ({ clock }, backend) => new CompressedStorage({ clock: clock.now, backend, threshold: 0 })],
  ["crypto(s3)", ({ clock }, backend) => new EncryptedStorage({ clock: clock.now, backend, key: new Uint8Array(32).fill(7) })],
  ["retry(s3)", ({ clock }, backend) => new RetryStorage({ clock: clock.now, backend, delay: 1 })],
];

for (const [name, create] of stacks) {
  const prefix = `stacks-${name.replace(/[()]/g, "")}`;
  describeStorageConformance(`${name} (s3rver), expiry cases`, (env) => create(env, s3(prefix, env)), {
    cleanup: () => removeLeftovers(prefix),
    skip,
  });
}
