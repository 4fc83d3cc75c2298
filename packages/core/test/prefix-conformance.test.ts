import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import type { Storage } from "@pepperpy/storage-core";
import { afterAll } from "vitest";

// The view's prefix counts toward the 1024-byte limit of the storage underneath.
const skip = {
  "keys: accepts a key with exactly 1024 ASCII bytes (in segments of 100)":
    "not supported by a prefixed view, because the storage underneath stores prefix + key and keys are at most 1024 bytes there",
  "keys: accepts a key with exactly 1024 UTF-8 bytes of 2-byte characters (in segments)":
    "not supported by a prefixed view, because the storage underneath stores prefix + key and keys are at most 1024 bytes there",
};

describeStorageConformance("memory.withPrefix(tenant-a/)", ({ clock }) => new MemoryStorage({ clock: clock.now }).withPrefix("tenant-a/"), { skip });

describeStorageConformance("memory.withPrefix(a/).withPrefix(b/c/)", ({ clock }) => new MemoryStorage({ clock: clock.now }).withPrefix("a/").withPrefix("b/c/"), { skip });

const dirs: string[] = [];
// Closing a view leaves the storage underneath open (by design), so the suite's close of
// each case's view does not close its FileStorage: it is closed here.
const opened: Storage[] = [];
afterAll(async () => {
  for (const storage of opened) await storage.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describeStorageConformance(
  "file.withPrefix(tenant-a/)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-prefix-"));
    dirs.push(dir);
    const file = new FileStorage(dir, { fsync: false, clock: clock.now });
    opened.push(file);
    return file.withPrefix("tenant-a/");
  },
  {
    skip: {
      ...skip,
      "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes",
    },
  },
);
