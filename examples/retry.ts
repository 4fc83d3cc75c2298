/** Seed "Common Patterns › Retry Pattern": retry what may succeed, give up with the attempts counted. */
import assert from "node:assert/strict";
import { RetryStorage, StorageError } from "@pepperpy/storage";
import { withFaults } from "@pepperpy/storage-testing";
import { type Example, runAsScript } from "./support.js";

export const retry: Example = {
  title: "Retry pattern",
  file: "examples/retry.ts",
  section: "Common Patterns › Retry Pattern",
  async run({ backend, log }) {
    // A backend whose first two writes fail the way a network blip does (retryable).
    const flaky = withFaults(backend, { failOn: { call: [1, 2] }, operations: ["write"] });
    // The seed waits delay=1.0 s; 20 ms keeps the tour quick. Delays grow exponentially, with jitter.
    const storage = new RetryStorage({
      backend: flaky,
      maxRetries: 3,
      delay: 20,
      onRetry: (e) => log(`attempt ${e.attempt} failed (${e.error.code}), retrying in ${Math.round(e.delay)} ms`),
    });
    await storage.put("retry/key", "value");
    log(`put "retry/key" succeeded after ${flaky.injectedFaults} injected failures`);
    assert.equal(await backend.get("retry/key"), "value");

    // A backend that is down for good: the final error keeps its class and counts attempts.
    const down = new RetryStorage({ backend: withFaults(backend, { failureRate: 1 }), maxRetries: 3, delay: 20 });
    try {
      await down.put("retry/key", "value");
      assert.fail("expected the put to fail");
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      log(`Failed after ${e.attempts} attempts: ${e.message}`);
      assert.equal(e.attempts, 4);
    }
  },
};

runAsScript(import.meta.url, retry);
