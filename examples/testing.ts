/** Seed "Testing": MockStorage answers what you tell it and records every call. */
import assert from "node:assert/strict";
import { StorageUnavailableError } from "@pepperpy/storage";
import { MockStorage } from "@pepperpy/storage-testing";
import { type Example, runAsScript } from "./support.js";

export const testing: Example = {
  title: "Testing with MockStorage",
  file: "examples/testing.ts",
  section: "Testing",
  kinds: ["files"],
  async run({ log }) {
    // Create mock storage
    const storage = new MockStorage();

    // Configure mock
    storage.mockGet("key", "value");

    // Test code
    const result = await storage.get("key");
    assert.equal(result, "value");
    log(`mockGet("key", "value"); get("key") -> "${result}"`);

    // Failures on demand, and a record of the calls made
    storage.mockError("put", new StorageUnavailableError("backend down"), { times: 1 });
    const error = await storage.put("other", "x").catch((e: unknown) => e);
    assert.ok(error instanceof StorageUnavailableError);
    log(`mockError("put", ...): put rejected with ${error.code}; calls recorded: ${storage.calls.map((c) => c.operation).join(", ")}`);
  },
};

runAsScript(import.meta.url, testing);
