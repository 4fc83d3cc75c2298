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
describeStorageConformance("sqlite", () => new SqliteStorage(join(root, `case-${++n}.db`)));
// Several storages on one file: the suite's prefixes keep the cases apart, the table is shared.
describeStorageConformance("sqlite (one shared file, synchronous=normal)", () => new SqliteStorage({ path: join(root, "shared.db"), synchronous: "normal" }));
