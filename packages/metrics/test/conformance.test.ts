import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance, expiryCaseNames } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";
import { MetricsStorage } from "../src/index.js";

describeStorageConformance("metrics(memory)", ({ clock }) => new MetricsStorage({ backend: new MemoryStorage({ clock: clock.now }), clock: clock.now }));

const dirs: string[] = [];
// The file backend stores expiry deadlines (in its sidecar) on branch fs-v2; until that
// merges, stacks over files skip the expiry cases (their logic runs over memory above).
const fileExpirySkip = Object.fromEntries(
  expiryCaseNames.map((n) => [n, "not supported yet by the file backend: it stores expiry deadlines in its sidecar from branch fs-v2"]),
);

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
// fsync off: these runs test the layer over real files, not the backend's durability (its own suite does).
describeStorageConformance(
  "metrics(file)",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-metrics-"));
    dirs.push(dir);
    return new MetricsStorage({ backend: new FileStorage({ basePath: dir, fsync: false }) });
  },
  { skip: { ...fileExpirySkip, "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes" } },
);
