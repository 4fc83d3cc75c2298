import { CachedStorage } from "@pepperpy/storage-cache";
import { CompressedStorage } from "@pepperpy/storage-compress";
import { EncryptedStorage } from "@pepperpy/storage-crypto";
import { MetricsStorage } from "@pepperpy/storage-metrics";
import { RetryStorage } from "@pepperpy/storage-retry";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { describePostgres, pgStorageFor, usePostgresServer } from "./helpers.js";

// The layers report stored (compressed / encrypted) sizes in listings, as over every backend.
const sizeSkip = {
  "iterate: entries carry key, size and lastModified in key order":
    "not supported by design, because list and iterate report the stored (transformed) size: bytes used in the backend, without reading every header",
};

describePostgres("postgres conformance", () => {
  const pg = usePostgresServer();
  describeStorageConformance("postgres (PostgreSQL 15)", () => pgStorageFor(pg.server));
  // The layer stacks every backend runs the suite with.
  describeStorageConformance("cache(postgres)", () => new CachedStorage({ backend: pgStorageFor(pg.server) }));
  describeStorageConformance("compress(postgres)", () => new CompressedStorage({ backend: pgStorageFor(pg.server), threshold: 0 }), { skip: sizeSkip });
  describeStorageConformance("crypto(postgres)", () => new EncryptedStorage({ backend: pgStorageFor(pg.server), key: new Uint8Array(32).fill(7) }), {
    skip: sizeSkip,
  });
  describeStorageConformance("retry(postgres)", () => new RetryStorage({ backend: pgStorageFor(pg.server), delay: 1 }));
  describeStorageConformance("metrics(postgres)", () => new MetricsStorage({ backend: pgStorageFor(pg.server) }));
});
