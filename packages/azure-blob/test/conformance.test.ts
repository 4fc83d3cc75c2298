import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll, beforeAll } from "vitest";
import { type Azurite, azureStorageFor, createContainer, startAzurite } from "./helpers.js";

// One Azurite for the file, started on 127.0.0.1 by the test setup in a child process.
let server: Azurite | undefined;
const container = "conformance";

beforeAll(async () => {
  server = await startAzurite();
  await createContainer(server, container);
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

describeStorageConformance("azure-blob (Azurite)", ({ clock }) => azureStorageFor(server!, container, { prefix: "suite", clock: clock.now }));

// Small blocks: every value over 64 KiB (the suite's 1 MiB and 3 MiB values, its streams)
// goes through staged blocks and one commit.
describeStorageConformance("azure-blob (Azurite), 64 KiB staged blocks", ({ clock }) =>
  azureStorageFor(server!, container, { prefix: "blocks", blockSize: 64 * 1024, concurrency: 3, clock: clock.now }),
);

// The layer stack of SPEC §5 in its config order, outermost first: metrics, cache,
// compression, encryption, retry (the SDK then makes one attempt per request), over Azurite.
// (A raw 32-byte key: a YAML passphrase would cost one scrypt per case;
// azure-blob-storage.test.ts builds the same stack from YAML.)
const STACK_KEY = new Uint8Array(32).fill(42);
describeStorageConformance(
  "metrics(cache(compress(crypto(retry(azure-blob)))))",
  async ({ clock }) => {
    const { MetricsStorage } = await import("@pepperpy/storage-metrics");
    const { CachedStorage } = await import("@pepperpy/storage-cache");
    const { CompressedStorage } = await import("@pepperpy/storage-compress");
    const { EncryptedStorage } = await import("@pepperpy/storage-crypto");
    const { RetryStorage } = await import("@pepperpy/storage-retry");
    const now = clock.now;
    const azure = azureStorageFor(server!, container, { prefix: "stack", maxAttempts: 1, clock: now });
    const retry = new RetryStorage({ clock: now, backend: azure, maxRetries: 2, delay: 1 });
    const crypto = new EncryptedStorage({ clock: now, backend: retry, key: STACK_KEY });
    const compress = new CompressedStorage({ clock: now, backend: crypto, threshold: 0 });
    return new MetricsStorage({ clock: now, backend: new CachedStorage({ clock: now, backend: compress, cacheSize: 100 }) });
  },
  {
    skip: {
      "iterate: entries carry key, size and lastModified in key order":
        "not supported by design under compression and encryption: list and iterate report the stored (compressed, encrypted) size, without reading every header",
    },
  },
);
