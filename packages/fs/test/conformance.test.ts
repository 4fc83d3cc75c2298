import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll } from "vitest";

const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-conformance-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
describeStorageConformance("file", ({ clock }) => new FileStorage(join(root, `case-${++n}`), { clock: clock.now }), {
  skip: {
    "keys: accepts a key with a single 300-byte segment":
      "not supported because a key segment is a file name, and Linux file systems limit names to 255 bytes (StorageValidationError)",
  },
});
