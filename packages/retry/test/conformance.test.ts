import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeOutcomeConformance, describeStorageConformance, withFaults } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";
import { RetryStorage } from "../src/index.js";

describeStorageConformance("retry(memory)", ({ clock }) => new RetryStorage({ backend: new MemoryStorage({ clock: clock.now }), delay: 1, clock: clock.now }));
// One backend call in five fails (retryably): the suite must still pass, retries hide the faults.
const streamReason = "not supported with injected write faults, because a stream body cannot be replayed: a failed streamed put is tried once, by design";
describeStorageConformance(
  "retry(memory) with injected faults",
  ({ clock }) =>
    new RetryStorage({
      backend: withFaults(new MemoryStorage({ clock: clock.now }), { failureRate: 0.2, seed: 7 }),
      maxRetries: 8,
      delay: 0,
      budget: Number.POSITIVE_INFINITY,
      clock: clock.now,
    }),
  {
    skip: {
      "put streams: from a Node Readable": streamReason,
      "put streams: from a web ReadableStream": streamReason,
      "put streams: from an async generator": streamReason,
      "put streams: an empty stream stores 0 bytes": streamReason,
      "put streams: a streamed value of 3 MiB": streamReason,
      "isolation: changing streamed chunks after put settles does not change what is stored": streamReason,
      "timeout: a put slower than its timeout rejects with StorageTimeoutError and stores nothing": streamReason,
      "expiry: strings, bytes, JSON and streamed values all expire": streamReason,
      "values: rejects a text stream with a lone surrogate with StorageValidationError": streamReason,
    },
  },
);

const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
// fsync off: these runs test the layer over real files, not the backend's durability (its own suite does).
describeStorageConformance(
  "retry(file)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-retry-"));
    dirs.push(dir);
    return new RetryStorage({ backend: new FileStorage({ path: dir, fsync: false, clock: clock.now }), delay: 1, clock: clock.now });
  },
  { skip: { "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes" } },
);

// After a lost response (the backend did the work), the true outcome or "outcome unknown", never NotFound / Conflict.
describeOutcomeConformance("retry(memory)", (backend) => new RetryStorage({ backend, maxRetries: 3, delay: 1 }));
// The same over real files: the retried move is proved by the etag the file keeps through a rename.
describeOutcomeConformance("retry(file)", (backend) => new RetryStorage({ backend, maxRetries: 3, delay: 1 }), {
  backend: async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-retry-outcomes-"));
    dirs.push(dir);
    return new FileStorage({ path: dir, fsync: false });
  },
});
