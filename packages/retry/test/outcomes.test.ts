import { Readable } from "node:stream";
import { StorageConflictError, StorageNotFoundError, StorageOutcomeUnknownError, StorageUnavailableError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { RetryStorage } from "@pepperpy/storage-retry";
import { withFaults } from "@pepperpy/storage-testing";
import { describe, expect, it } from "vitest";

// Issue 15 item 4: after a failure whose outcome is ambiguous (the backend did the work, the
// response was lost), a retried non-idempotent operation reports the true outcome, or an
// error that says the outcome is unknown — never a wrong one. The faults here are real lost
// responses: the backend performs the call, then the caller gets the injected error.

function lossy(backend: MemoryStorage, operation: "move" | "write", times = 1) {
  let left = times;
  return withFaults(backend, { lose: "response", failOn: (c) => c.operation === operation && left-- > 0 });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("RetryStorage after a lost response", () => {
  it("a move whose response was lost is reported as done, not as NotFound", async () => {
    const backend = new MemoryStorage();
    await backend.put("from", "value");
    const storage = new RetryStorage({ backend: lossy(backend, "move"), maxRetries: 3, delay: 1 });
    await storage.move("from", "to");
    expect(await backend.getText("to")).toBe("value");
    expect(await backend.exists("from")).toBe(false);
  });

  it("a move whose source vanished and whose destination holds something else is outcome unknown, naming key, operation and backend", async () => {
    const backend = new MemoryStorage();
    await backend.put("from", "value");
    // The move happens, the response is lost, and another writer replaces the destination before the retry.
    const storage = new RetryStorage({
      backend: lossy(backend, "move"),
      maxRetries: 3,
      delay: 1,
      onRetry: () => void backend.put("to", "someone else"),
    });
    const error = await rejection(storage.move("from", "to"));
    expect(error).toBeInstanceOf(StorageOutcomeUnknownError);
    const e = error as StorageOutcomeUnknownError;
    expect(e.code).toBe("OUTCOME_UNKNOWN");
    expect(e.retryable).toBe(false);
    expect(e.key).toBe("from");
    expect(e.operation).toBe("move");
    expect(e.message).toContain("retry(");
    expect(e.cause).toBeInstanceOf(StorageUnavailableError);
  });

  it("a move of a missing source is still NotFound", async () => {
    const storage = new RetryStorage({ backend: lossy(new MemoryStorage(), "move"), maxRetries: 3, delay: 1 });
    await expect(storage.move("nothing", "to")).rejects.toBeInstanceOf(StorageNotFoundError);
  });

  it("a create-only put whose response was lost is outcome unknown, not a conflict", async () => {
    const backend = new MemoryStorage();
    const storage = new RetryStorage({ backend: lossy(backend, "write"), maxRetries: 3, delay: 1 });
    const error = await rejection(storage.put("lock", "owner-1", { ifNoneMatch: "*" }));
    expect(error).toBeInstanceOf(StorageOutcomeUnknownError);
    expect((error as StorageOutcomeUnknownError).key).toBe("lock");
    expect((error as StorageOutcomeUnknownError).operation).toBe("put");
    // It did happen: the outcome error did not lie either way.
    expect(await backend.getText("lock")).toBe("owner-1");
  });

  it("a compare-and-swap put whose response was lost is outcome unknown, not a conflict", async () => {
    const backend = new MemoryStorage();
    const { etag } = await backend.put("cas", "v1");
    const storage = new RetryStorage({ backend: lossy(backend, "write"), maxRetries: 3, delay: 1 });
    await expect(storage.put("cas", "v2", { ifMatch: etag })).rejects.toBeInstanceOf(StorageOutcomeUnknownError);
    expect(await backend.getText("cas")).toBe("v2");
  });

  it("a conditional put that fails before reaching the backend and succeeds on retry is a success", async () => {
    const backend = new MemoryStorage();
    let first = true;
    const faults = withFaults(backend, {
      failOn: (c) => {
        const hit = c.operation === "write" && first;
        first = false;
        return hit;
      },
    });
    const storage = new RetryStorage({ backend: faults, maxRetries: 3, delay: 1 });
    await storage.put("fresh", "mine", { ifNoneMatch: "*" });
    expect(await backend.getText("fresh")).toBe("mine");
  });

  it("a conditional put whose key already existed before any attempt is still a conflict", async () => {
    const backend = new MemoryStorage();
    await backend.put("taken", "other");
    const storage = new RetryStorage({ backend: lossy(backend, "write", 0), maxRetries: 3, delay: 1 });
    await expect(storage.put("taken", "mine", { ifNoneMatch: "*" })).rejects.toBeInstanceOf(StorageConflictError);
  });

  it("a put of a stream whose response was lost is outcome unknown (a stream cannot be replayed)", async () => {
    const backend = new MemoryStorage();
    const storage = new RetryStorage({ backend: lossy(backend, "write"), maxRetries: 3, delay: 1 });
    const error = await rejection(storage.put("stream", Readable.from([Buffer.from("abc"), Buffer.from("def")])));
    expect(error).toBeInstanceOf(StorageOutcomeUnknownError);
    expect((error as StorageOutcomeUnknownError).retryable).toBe(false);
    expect((error as StorageOutcomeUnknownError).cause).toBeInstanceOf(StorageUnavailableError);
    expect(await backend.getText("stream")).toBe("abcdef");
  });

  it("a plain put whose response was lost is retried and succeeds (it is idempotent)", async () => {
    const backend = new MemoryStorage();
    const storage = new RetryStorage({ backend: lossy(backend, "write"), maxRetries: 3, delay: 1 });
    await storage.put("plain", "v");
    expect(await backend.getText("plain")).toBe("v");
  });
});

describe("applied: false marks failures that prove nothing happened", () => {
  it("a refused connection proves the request was not sent; a reset does not", async () => {
    const { fromNodeError } = await import("@pepperpy/storage-core");
    expect(fromNodeError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).applied).toBe(false);
    expect(fromNodeError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })).applied).toBeUndefined();
  });

  it("a create-only put that failed before reaching the backend, then lost the race, is a plain conflict", async () => {
    const backend = new MemoryStorage();
    let first = true;
    const faults = withFaults(backend, {
      failOn: (c) => {
        if (c.operation !== "write" || !first) return false;
        first = false;
        void backend.put("race", "the other writer");
        return true;
      },
    });
    const storage = new RetryStorage({ backend: faults, maxRetries: 3, delay: 1 });
    await expect(storage.put("race", "mine", { ifNoneMatch: "*" })).rejects.toBeInstanceOf(StorageConflictError);
    expect(await backend.getText("race")).toBe("the other writer");
  });
});
