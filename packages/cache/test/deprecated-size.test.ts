/**
 * `cache.size`, the former name of `cache_size`, still works but warns: one
 * `DeprecationWarning` per process naming the new name (issue 18: one name per option).
 */
import { createStorage } from "@pepperpy/storage-core";
import { afterEach, describe, expect, it } from "vitest";
import { CachedStorage } from "../src/index.js";

const CODE = "PEPPERPY_DEP_CACHE_SIZE";
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
const flush = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  process.off("warning", onWarning);
  warnings.length = 0;
});

describe("the deprecated cache.size alias", () => {
  it("warns once per process, naming cache_size, and keeps working", async () => {
    // The flag is per process; start from a process that has not warned yet.
    delete (globalThis as Record<symbol, unknown>)[Symbol.for(`@pepperpy/storage.warned.${CODE}`)];
    process.on("warning", onWarning);
    const storage = (await createStorage({ type: "memory", options: { cache: { size: 2 } } })) as CachedStorage;
    await createStorage({ type: "memory", options: { cache: { size: 3 } } });
    await flush();
    const ours = warnings.filter((w) => (w as Error & { code?: string }).code === CODE);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.name).toBe("DeprecationWarning");
    expect(ours[0]!.message).toMatch(/cache\.size is deprecated: write cache_size \(cacheSize in code\)/);
    // Still the entry limit.
    expect(storage).toBeInstanceOf(CachedStorage);
    for (const k of ["a", "b", "c"]) await storage.put(k, k);
    for (const k of ["a", "b", "c"]) await storage.get(k);
    expect(storage.getCacheStats()).toMatchObject({ entries: 2, evictions: 1 });
  });

  it("cache_size (cacheSize in code) does not warn", async () => {
    delete (globalThis as Record<symbol, unknown>)[Symbol.for(`@pepperpy/storage.warned.${CODE}`)];
    process.on("warning", onWarning);
    await createStorage({ type: "memory", options: { cache: { cache_size: 2 } } });
    await createStorage({ type: "memory", options: { cache: { cacheSize: 2 } } });
    await flush();
    expect(warnings.filter((w) => (w as Error & { code?: string }).code === CODE)).toStrictEqual([]);
  });
});
