import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";
import { SqliteStorage } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "pepperpy-sqlite-conformance-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
// A fresh database file per case, with the defaults users get (WAL, synchronous=FULL).
describeStorageConformance("sqlite", ({ clock }) => new SqliteStorage({ path: join(root, `case-${++n}.db`), clock: clock.now }));
// Several storages on one file: the suite's prefixes keep the cases apart, the table is shared.
describeStorageConformance("sqlite (one shared file, synchronous=normal)", ({ clock }) =>
  new SqliteStorage({ path: join(root, "shared.db"), synchronous: "normal", clock: clock.now }),
);

// The layer stack of SPEC §5 in its config order, outermost first: metrics, cache,
// compression, encryption, retry, over the real database. (A raw 32-byte key: a YAML
// passphrase would cost one scrypt per case; sqlite-storage.test.ts builds the same stack from YAML.)
const STACK_KEY = new Uint8Array(32).fill(42);
const stackSkip = {
  "iterate: entries carry key, size and lastModified in key order":
    "not supported by design under compression and encryption: list and iterate report the stored (compressed, encrypted) size, without reading every header",
};
describeStorageConformance(
  "metrics(cache(compress(crypto(retry(sqlite)))))",
  async ({ clock }) => {
    const { MetricsStorage } = await import("@pepperpy/storage-metrics");
    const { CachedStorage } = await import("@pepperpy/storage-cache");
    const { CompressedStorage } = await import("@pepperpy/storage-compress");
    const { EncryptedStorage } = await import("@pepperpy/storage-crypto");
    const { RetryStorage } = await import("@pepperpy/storage-retry");
    const now = clock.now;
    const sqlite = new SqliteStorage({ path: join(root, `stack-${++n}.db`), synchronous: "normal", clock: now });
    const retry = new RetryStorage({ clock: now, backend: sqlite, maxRetries: 2, delay: 1 });
    const crypto = new EncryptedStorage({ clock: now, backend: retry, key: STACK_KEY });
    const compress = new CompressedStorage({ clock: now, backend: crypto, threshold: 0 });
    return new MetricsStorage({ clock: now, backend: new CachedStorage({ clock: now, backend: compress, cacheSize: 100 }) });
  },
  { skip: stackSkip },
);
