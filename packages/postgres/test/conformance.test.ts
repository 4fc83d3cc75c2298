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
  describeStorageConformance("postgres (PostgreSQL 15)", ({ clock }) => pgStorageFor(pg.server, { clock: clock.now }));
  // The layer stacks every backend runs the suite with.
  describeStorageConformance("cache(postgres)", ({ clock }) => new CachedStorage({ clock: clock.now, backend: pgStorageFor(pg.server, { clock: clock.now }) }));
  describeStorageConformance("compress(postgres)", ({ clock }) => new CompressedStorage({ clock: clock.now, backend: pgStorageFor(pg.server, { clock: clock.now }), threshold: 0 }), { skip: sizeSkip });
  describeStorageConformance("crypto(postgres)", ({ clock }) => new EncryptedStorage({ clock: clock.now, backend: pgStorageFor(pg.server, { clock: clock.now }), key: new Uint8Array(32).fill(7) }), {
    skip: sizeSkip,
  });
  describeStorageConformance("retry(postgres)", ({ clock }) => new RetryStorage({ clock: clock.now, backend: pgStorageFor(pg.server, { clock: clock.now }), delay: 1 }));
  describeStorageConformance("metrics(postgres)", ({ clock }) => new MetricsStorage({ clock: clock.now, backend: pgStorageFor(pg.server, { clock: clock.now }) }));
});
