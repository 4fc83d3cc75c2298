import { DeleteObjectsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll, beforeAll } from "vitest";
import { type S3Server, rawClient, s3StorageFor, startS3Server } from "./helpers.js";

// One s3rver for the file, started by the test setup in a child process.
let server: S3Server | undefined;
const bucket = "conformance";

beforeAll(async () => {
  server = await startS3Server({ bucket });
});
afterAll(async () => {
  await server?.stop();
});

/**
 * Deletes what a case left under the suite's prefix with raw S3 calls. The suite's own
 * cleanup lists through the storage, and s3rver lists `ab/…` before `ab-c` (file-system walk
 * order): the storage refuses such a misordered listing (StorageIntegrityError), so the
 * suite's cleanup cannot run, and the keys left behind would show up in later cases.
 */
async function removeLeftovers(): Promise<void> {
  const client = rawClient(server!);
  try {
    for (;;) {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "suite/" }));
      const keys = (out.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) return;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
  } catch (error) {
    // s3rver answers some listings of the whole suite prefix with a 500 InternalError after
    // the expiry cases (seen after keys with deadlines were written; not yet understood). The
    // suite's own cleanup already removed each case's live keys; what is left here is
    // expired keys under a random per-case prefix, which no later case lists.
    if ((error as { name?: string }).name !== "InternalError") throw error;
  } finally {
    client.destroy();
  }
}

describeStorageConformance("s3 (s3rver)", ({ clock }) => s3StorageFor(server!, bucket, { prefix: "suite", conditionalWrites: true, clock: clock.now }), {
  cleanup: removeLeftovers,
  skip: {
    // s3rver lists by walking its data directory, not in S3's UTF-8 byte order, and
    // compares StartAfter in UTF-16 order; AWS S3, MinIO and R2 list in byte order.
    "list: code-point order with '/', '.', '-', digits and case": "not supported by s3rver: it lists in file-system walk order ('a/b' before 'a-b')",
    "list: code-point order with astral characters (UTF-8 byte order, as S3)": "not supported by s3rver: its StartAfter compares UTF-16 code units",
    "keys: a key can also be a prefix of other keys":
      "not supported by s3rver: it lists 'a/b' before 'a' (file-system walk order); storing both works",
    // s3rver answers a GET from two lookups by name: the object's size (stat), then its
    // bytes (open). startS3Server makes its PUTs atomic (temp file, then rename), but a PUT
    // landing between those two lookups still gives a body of another length than the
    // Content-Length; the driver then rejects with a retryable error (a torn body is never
    // returned), which this case counts as a failure.
    "concurrency: reads during writes see the old or the new value":
      "not supported by s3rver: a GET takes the object's size and its bytes in two lookups by name, so a PUT between them mismatches the Content-Length",
    // s3rver ignores If-None-Match / If-Match on PUT; conditional.test.ts covers the
    // headers and the 412 mapping against a loopback server that answers like S3.
    "conditional: ifNoneMatch '*' on an existing key rejects with StorageConflictError":
      "not supported by s3rver: it ignores If-None-Match on PUT",
    "conditional: ifMatch with a stale etag rejects with StorageConflictError":
      "not supported by s3rver: it ignores If-Match on PUT",
    "conditional: ifMatch on a missing key rejects with StorageConflictError":
      "not supported by s3rver: it ignores If-Match on PUT",
    "conditional: of 10 concurrent creates with ifNoneMatch '*' exactly one wins":
      "not supported by s3rver: it ignores If-None-Match on PUT",
    "expiry: ifNoneMatch '*' creates over an expired value; ifMatch on an expired value fails":
      "not supported by s3rver: it ignores If-None-Match / If-Match on PUT (the expired-value takeover is a compare-and-swap on the etag)",
    "keys: accepts a key with a single 300-byte segment":
      "not supported by s3rver: it stores each key segment as a file name (255-byte limit) and crashes; AWS S3 accepts 1024-byte keys",
  },
});
