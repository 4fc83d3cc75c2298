/**
 * `FileStorage({ basePath })`, the former name of `path`, still works but warns: one
 * `DeprecationWarning` per process naming the new name (issue 18: one name per option).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";

const CODE = "PEPPERPY_DEP_FS_BASE_PATH";
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-alias-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
const flush = () => new Promise((resolve) => setImmediate(resolve));
const ours = () => warnings.filter((w) => (w as Error & { code?: string }).code === CODE);

afterEach(() => {
  process.off("warning", onWarning);
  warnings.length = 0;
});

describe("the deprecated basePath option of FileStorage", () => {
  it("warns once per process, naming path, and keeps working", async () => {
    // The flag is per process; start from a process that has not warned yet.
    delete (globalThis as Record<symbol, unknown>)[Symbol.for(`@pepperpy/storage.warned.${CODE}`)];
    process.on("warning", onWarning);
    const storage = new FileStorage({ basePath: join(root, "a"), fsync: false });
    const again = new FileStorage({ basePath: join(root, "a"), fsync: false });
    await flush();
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.name).toBe("DeprecationWarning");
    expect(ours()[0]!.message).toMatch(/FileStorage option basePath is deprecated: write path/);
    await storage.put("k", "v");
    expect(await again.get("k")).toBe("v");
    expect(storage.basePath).toBe(join(root, "a"));
  });

  it("path, and a path as the first argument, do not warn", async () => {
    delete (globalThis as Record<symbol, unknown>)[Symbol.for(`@pepperpy/storage.warned.${CODE}`)];
    process.on("warning", onWarning);
    new FileStorage({ path: join(root, "b") });
    new FileStorage(join(root, "c"), { fsync: false });
    await flush();
    expect(ours()).toStrictEqual([]);
  });
});
