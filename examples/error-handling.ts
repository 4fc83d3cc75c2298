/** Seed "Error Handling": one error family with a code; catch the specific classes first. */
import assert from "node:assert/strict";
import { StorageError, StorageNotFoundError, StorageTimeoutError } from "@pepperpy/storage";
import { withFaults } from "@pepperpy/storage-testing";
import { type Example, runAsScript } from "./support.js";

export const errorHandling: Example = {
  title: "Error handling",
  file: "examples/error-handling.ts",
  section: "Error Handling",
  async run({ backend, log }) {
    const attempt = async (what: string, op: () => Promise<unknown>) => {
      try {
        await op();
        return "no error";
      } catch (e) {
        // Subclasses first: every one of them is also a StorageError.
        if (e instanceof StorageNotFoundError) log(`${what}: caught StorageNotFoundError: ${e.message}`);
        else if (e instanceof StorageTimeoutError) log(`${what}: caught StorageTimeoutError (retryable: ${e.retryable}): ${e.message}`);
        else if (e instanceof StorageError) log(`${what}: caught ${e.name} (${e.code}): ${e.message}`);
        else throw e;
        return (e as StorageError).code;
      }
    };
    assert.equal(await attempt("get a missing key", () => backend.get("errors/missing")), "NOT_FOUND");
    // A backend that answers in 200 ms, asked to answer in 20 ms.
    const slow = withFaults(backend, { latency: 200 });
    assert.equal(await attempt("a 20 ms timeout", () => slow.get("errors/missing", { timeout: 20 })), "TIMEOUT");
    assert.equal(await attempt("an invalid key", () => backend.put("../escape", "x")), "VALIDATION");
  },
};

runAsScript(import.meta.url, errorHandling);
