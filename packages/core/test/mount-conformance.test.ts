import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MountStorage } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";

// The suite writes under a random "conformance-…/" prefix, which falls in the root mount;
// the other mounts take part in every listing of the empty prefix and in close. Routing,
// merging and hiding across mounts are tested in mount.test.ts.
describeStorageConformance(
  "mount(/=memory, cache/=memory, tmp/=memory)",
  ({ clock }) =>
    new MountStorage(
      { "": new MemoryStorage({ clock: clock.now }), "cache/": new MemoryStorage({ clock: clock.now }), "tmp/": new MemoryStorage({ clock: clock.now }) },
      { clock: clock.now },
    ),
);

// The case's keys routed into a mount below the root: a prefixed view of the mount storage.
describeStorageConformance(
  "mount(/=memory, cache/=memory).withPrefix(cache/)",
  ({ clock }) =>
    new MountStorage({ "": new MemoryStorage({ clock: clock.now }), "cache/": new MemoryStorage({ clock: clock.now }) }, { clock: clock.now }).withPrefix("cache/"),
  {
    skip: {
      "keys: accepts a key with exactly 1024 ASCII bytes (in segments of 100)":
        "not supported by a prefixed view, because the storage underneath stores prefix + key and keys are at most 1024 bytes there",
      "keys: accepts a key with exactly 1024 UTF-8 bytes of 2-byte characters (in segments)":
        "not supported by a prefixed view, because the storage underneath stores prefix + key and keys are at most 1024 bytes there",
    },
  },
);

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describeStorageConformance(
  "mount(/=file, cache/=memory)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-mount-"));
    dirs.push(dir);
    return new MountStorage(
      { "": new FileStorage(dir, { fsync: false, clock: clock.now }), "cache/": new MemoryStorage({ clock: clock.now }) },
      { clock: clock.now },
    );
  },
  {
    skip: {
      "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes",
    },
  },
);
