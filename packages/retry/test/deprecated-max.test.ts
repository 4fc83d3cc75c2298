/**
 * `retry.max`, the former name of `max_retries`, still works but warns: one
 * `DeprecationWarning` per process naming the new name (issue 18: one name per option).
 */
import { createStorage } from "@pepperpy/storage-core";
import { afterEach, describe, expect, it } from "vitest";
import { RetryStorage } from "../src/index.js";

const CODE = "PEPPERPY_DEP_RETRY_MAX";
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
const flush = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  process.off("warning", onWarning);
  warnings.length = 0;
});

describe("the deprecated retry.max alias", () => {
  it("warns once per process, naming max_retries, and keeps working", async () => {
    // The flag is per process; start from a process that has not warned yet.
    delete (globalThis as Record<symbol, unknown>)[Symbol.for(`@pepperpy/storage.warned.${CODE}`)];
    process.on("warning", onWarning);
    const storage = (await createStorage({ type: "memory", options: { retry: { max: 1, delay: 10 } } })) as RetryStorage;
    await createStorage({ type: "memory", options: { retry: { max: 4 } } });
    await flush();
    const ours = warnings.filter((w) => (w as Error & { code?: string }).code === CODE);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.name).toBe("DeprecationWarning");
    expect(ours[0]!.message).toMatch(/retry\.max is deprecated: write max_retries \(maxRetries in code\)/);
    expect(storage).toBeInstanceOf(RetryStorage);
    expect(storage.policy.maxRetries).toBe(1);
  });

  it("max_retries (maxRetries in code) does not warn", async () => {
    delete (globalThis as Record<symbol, unknown>)[Symbol.for(`@pepperpy/storage.warned.${CODE}`)];
    process.on("warning", onWarning);
    await createStorage({ type: "memory", options: { retry: { max_retries: 2 } } });
    await createStorage({ type: "memory", options: { retry: { maxRetries: 2 } } });
    await flush();
    expect(warnings.filter((w) => (w as Error & { code?: string }).code === CODE)).toStrictEqual([]);
  });
});
