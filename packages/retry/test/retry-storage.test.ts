import { Readable } from "node:stream";
import {
  createStorage,
  parseConfig,
  StorageAbortedError,
  StorageConflictError,
  type StorageError,
  StorageIntegrityError,
  StorageNotFoundError,
  StorageOutcomeUnknownError,
  StoragePermissionError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageValidationError,
} from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type RetryEvent, RetryStorage, type RetryStorageOptions } from "../src/index.js";
import { FlakyStorage } from "./flaky-storage.js";

const unavailable = () => new StorageUnavailableError("503 Slow Down");

function setup(opts: Partial<RetryStorageOptions> = {}) {
  const memory = new MemoryStorage();
  const flaky = new FlakyStorage(memory);
  const events: RetryEvent[] = [];
  const retry = new RetryStorage({ backend: flaky, delay: 100, onRetry: (e) => events.push(e), ...opts });
  return { memory, flaky, retry, events };
}

/** Runs a call to completion under fake timers and returns its outcome. */
async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: StorageError }> {
  const outcome = p.then(
    (value) => ({ value }),
    (error: StorageError) => ({ error }),
  );
  await vi.runAllTimersAsync();
  return outcome;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("RetryStorage: what is retried", () => {
  it("retries retryable errors and succeeds", async () => {
    const { memory, flaky, retry, events } = setup();
    await memory.put("k", "v");
    let failures = 2;
    flaky.failWith = () => (failures-- > 0 ? unavailable() : undefined);
    const { value } = await settle(retry.get("k"));
    expect(value).toBe("v");
    expect(flaky.calls.length).toBe(3);
    expect(events.map((e) => [e.attempt, e.operation, e.key])).toEqual([
      [1, "get", "k"],
      [2, "get", "k"],
    ]);
  });

  it("gives up after maxRetries: the error keeps its class, carries attempts and is no longer retryable", async () => {
    const { flaky, retry } = setup({ maxRetries: 3 });
    flaky.failWith = unavailable;
    const { error } = await settle(retry.put("k", "v"));
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error?.attempts).toBe(4);
    expect(error?.retryable).toBe(false);
    expect(flaky.calls.length).toBe(4);
  });

  it("tries validation, not-found, permission, conflict, integrity and abort errors once, even when marked retryable", async () => {
    const classes = [StorageValidationError, StorageNotFoundError, StoragePermissionError, StorageConflictError, StorageIntegrityError, StorageAbortedError];
    for (const Cls of classes) {
      const { flaky, retry, events } = setup();
      flaky.failWith = () => new Cls("nope", { retryable: true });
      const { error } = await settle(retry.put("k", "v"));
      expect(error).toBeInstanceOf(Cls);
      expect(error?.attempts).toBe(1);
      expect(flaky.calls.length).toBe(1);
      expect(events).toEqual([]);
    }
  });

  it("does not retry errors that are not marked retryable", async () => {
    const { flaky, retry } = setup();
    flaky.failWith = () => new StorageUnavailableError("down for good", { retryable: false });
    const { error } = await settle(retry.delete("k"));
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(flaky.calls.length).toBe(1);
  });

  it("an outer retry layer does not multiply the attempts of an inner one", async () => {
    const { flaky, retry } = setup({ maxRetries: 2 });
    const outer = new RetryStorage({ backend: retry, maxRetries: 5, delay: 100 });
    flaky.failWith = unavailable;
    const { error } = await settle(outer.get("k"));
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(flaky.calls.length).toBe(3);
    expect(error?.attempts).toBe(3);
  });

  it("a put of a stream is tried once (it cannot be replayed); a put of bytes is retried", async () => {
    const { memory, flaky, retry } = setup();
    let failures = 1;
    // The flaky layer fails before the backend is called: the error says nothing was applied.
    flaky.failWith = () => (failures-- > 0 ? new StorageUnavailableError("503 Slow Down", { applied: false }) : undefined);
    const { error } = await settle(retry.put("s", Readable.from([Buffer.from("abc")])));
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(error?.attempts).toBe(1);
    expect(await memory.exists("s")).toBe(false);
    // A failure that may have been applied leaves the stream's outcome unknown.
    failures = 1;
    flaky.failWith = () => (failures-- > 0 ? unavailable() : undefined);
    const unknown = await settle(retry.put("s2", Readable.from([Buffer.from("abc")])));
    expect(unknown.error).toBeInstanceOf(StorageOutcomeUnknownError);
    expect(unknown.error?.attempts).toBe(1);
    expect(unknown.error?.retryable).toBe(false);
    failures = 1;
    const { value } = await settle(retry.put("b", new Uint8Array([1, 2])));
    expect(value?.size).toBe(2);
    expect([...(await memory.getBytes("b"))]).toEqual([1, 2]);
  });

  it("retries every driver call: reads, stats, exists, writes, deletes and list pages", async () => {
    const { memory, flaky, retry } = setup();
    await memory.putMany({ a: "1", b: "2" });
    const failedOnce = new Set<string>();
    flaky.failWith = (c) => {
      if (failedOnce.has(c.op)) return undefined;
      failedOnce.add(c.op);
      return unavailable();
    };
    expect((await settle(retry.getText("a"))).value).toBe("1");
    expect((await settle(retry.exists("b"))).value).toBe(true);
    expect((await settle(retry.stat("b"))).value).toMatchObject({ key: "b", size: 1 });
    expect((await settle(retry.list())).value).toEqual(["a", "b"]);
    await settle(retry.put("c", "3"));
    await settle(retry.delete("a"));
    expect(await memory.list()).toEqual(["b", "c"]);
    expect([...failedOnce].sort()).toEqual(["delete", "exists", "list", "read", "stat", "write"]);
  });
});

describe("RetryStorage: backoff with full jitter", () => {
  it("every one of 10,000 sleeps lies within [0, min(maxDelay, delay * 2^(n-1))) and lasts what was drawn", async () => {
    const calls = 1250;
    const batch = 50; // fake timers slow down with many timers pending at once
    const retriesPerCall = 8;
    // Timers and the clock are fake; setImmediate stays real so the test can let every
    // promise continuation run after each timer fires.
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { flaky, retry, events } = setup({ maxRetries: retriesPerCall, delay: 10, maxDelay: 500, budget: Number.POSITIVE_INFINITY });
    flaky.failWith = unavailable;
    const drain = () => new Promise((r) => setImmediate(r));
    const results: PromiseSettledResult<unknown>[] = [];
    for (let start = 0; start < calls; start += batch) {
      let settled = false;
      const outcomes = Promise.allSettled(Array.from({ length: batch }, (_, i) => retry.get(`k${start + i}`))).finally(() => {
        settled = true;
      });
      await drain();
      while (!settled) {
        vi.advanceTimersToNextTimer();
        await drain();
      }
      results.push(...(await outcomes));
    }
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(events.length).toBe(calls * retriesPerCall);

    let outOfBounds = 0;
    let sum = 0;
    let sumCap = 0;
    for (const e of events) {
      const cap = retry.delayCap(e.attempt);
      if (!(e.delay >= 0 && e.delay < cap && Number.isInteger(e.delay))) outOfBounds++;
      sum += e.delay;
      sumCap += cap;
    }
    expect(outOfBounds).toBe(0);
    // Full jitter is uniform: the mean sleep is half the cap (10,000 samples: within a few percent).
    expect(sum / sumCap).toBeGreaterThan(0.45);
    expect(sum / sumCap).toBeLessThan(0.55);
    // The caps grow exponentially and stop at maxDelay.
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => retry.delayCap(n))).toEqual([10, 20, 40, 80, 160, 320, 500, 500]);

    // The time that really passed between two attempts of one call is the drawn delay.
    const byKey = new Map<string, number[]>();
    for (const c of flaky.calls) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c.at]);
    const drawnByKey = new Map<string, number[]>();
    for (const e of events) drawnByKey.set(e.key!, [...(drawnByKey.get(e.key!) ?? []), e.delay]);
    let mismatched = 0;
    for (const [key, times] of byKey) {
      const drawn = drawnByKey.get(key)!;
      expect(times.length).toBe(retriesPerCall + 1);
      for (let i = 1; i < times.length; i++) if (times[i]! - times[i - 1]! !== drawn[i - 1]) mismatched++;
    }
    expect(mismatched).toBe(0);
  });

  it("uses the injected randomness: 0 sleeps nothing, just under 1 sleeps just under the cap", async () => {
    for (const [r, expected] of [
      [0, [0, 0, 0]],
      [0.999999, [99, 199, 249]],
    ] as const) {
      const { flaky, retry, events } = setup({ delay: 100, maxDelay: 250, random: () => r });
      flaky.failWith = unavailable;
      await settle(retry.get("k"));
      expect(events.map((e) => e.delay)).toEqual(expected);
    }
  });
});

describe("RetryStorage: retry budget", () => {
  it("stops retry storms: once the budget is spent failures are fast, and successes earn it back", async () => {
    const { memory, flaky, retry } = setup({ maxRetries: 3, budget: 5, budgetRefill: 0.5 });
    await memory.put("k", "v");
    flaky.failWith = unavailable;
    expect((await settle(retry.get("k"))).error?.attempts).toBe(4); // 3 retries: 2 tokens left
    expect((await settle(retry.get("k"))).error?.attempts).toBe(3); // 2 retries: budget spent
    expect(retry.budgetRemaining).toBe(0);
    const before = flaky.calls.length;
    for (let i = 0; i < 100; i++) {
      const p = retry.get("k").catch((e: StorageError) => e);
      expect(vi.getTimerCount()).toBe(0); // no sleep scheduled: the failure comes at once
      const error = (await p) as StorageError;
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect(error.attempts).toBe(1);
      expect(error.retryable).toBe(false);
    }
    expect(flaky.calls.length - before).toBe(100); // one backend call each, no multiplication
    // The backend recovers: successes refill the bucket.
    flaky.failWith = undefined;
    for (let i = 0; i < 4; i++) expect(await retry.get("k")).toBe("v");
    expect(retry.budgetRemaining).toBe(2);
    let failures = 1;
    flaky.failWith = () => (failures-- > 0 ? unavailable() : undefined);
    expect((await settle(retry.get("k"))).value).toBe("v");
  });
});

describe("RetryStorage: the caller's timeout and signal bound the whole call", () => {
  it("a timeout that fires during a sleep ends the call and no attempt follows", async () => {
    const { flaky, retry } = setup({ delay: 10_000, random: () => 0.99 });
    flaky.failWith = unavailable;
    const outcome = retry.get("k", { timeout: 500 }).then(
      () => undefined,
      (e: StorageError) => e,
    );
    await vi.advanceTimersByTimeAsync(500);
    expect(await outcome).toBeInstanceOf(StorageTimeoutError);
    expect(flaky.calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(flaky.calls.length).toBe(1);
    expect(vi.getTimerCount()).toBe(0); // the sleep was cancelled, not left to run
  });

  it("the layer's own timeout option bounds the call the same way", async () => {
    const { flaky } = setup();
    const retry = new RetryStorage({ backend: flaky, delay: 10_000, random: () => 0.99, timeout: 300 });
    flaky.failWith = unavailable;
    const outcome = retry.get("k").catch((e: StorageError) => e);
    await vi.advanceTimersByTimeAsync(300);
    expect(await outcome).toBeInstanceOf(StorageTimeoutError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(flaky.calls.length).toBe(1);
  });

  it("an abort during a sleep rejects with StorageAbortedError and stops retrying", async () => {
    const { flaky, retry } = setup({ delay: 10_000 });
    flaky.failWith = unavailable;
    const controller = new AbortController();
    const outcome = retry.put("k", "v", { signal: controller.signal }).catch((e: StorageError) => e);
    await vi.advanceTimersByTimeAsync(1);
    controller.abort();
    expect(await outcome).toBeInstanceOf(StorageAbortedError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(flaky.calls.length).toBe(1);
  });
});

describe("RetryStorage: attemptTimeout bounds each attempt (the stack's timeout bounds the call)", () => {
  it("a hung first attempt is aborted after attemptTimeout and the second attempt answers", async () => {
    const { memory, flaky, retry, events } = setup({ delay: 10, attemptTimeout: 200 });
    await memory.put("k", "v");
    flaky.hangWhen = () => flaky.calls.length === 1;
    const { value, error } = await settle(retry.get("k", { timeout: 5_000 }));
    expect(error).toBeUndefined();
    expect(value).toBe("v");
    expect(flaky.calls.length).toBe(2);
    expect(flaky.calls[0]!.signal.aborted, "the hung attempt's own signal was aborted").toBe(true);
    expect(events[0]!.error).toBeInstanceOf(StorageTimeoutError);
    expect(events[0]!.error.message).toContain("attemptTimeout");
  });

  it("without it, one hung attempt uses up the call's timeout and nothing is retried", async () => {
    const { memory, flaky, retry } = setup({ delay: 10 });
    await memory.put("k", "v");
    flaky.hangWhen = () => flaky.calls.length === 1;
    const { error } = await settle(retry.get("k", { timeout: 1_000 }));
    expect(error).toBeInstanceOf(StorageTimeoutError);
    expect(flaky.calls.length).toBe(1);
  });

  it("when every attempt hangs, the call ends after maxRetries + 1 attempts with a final error naming the key and get", async () => {
    const { flaky, retry } = setup({ delay: 10, maxRetries: 2, attemptTimeout: 100 });
    flaky.hangWhen = () => true;
    const { error } = await settle(retry.get("k", { timeout: 60_000 }));
    expect(error).toBeInstanceOf(StorageTimeoutError);
    expect(error!.retryable).toBe(false);
    expect(error!.attempts).toBe(3);
    expect(error!.key).toBe("k");
    expect(error!.operation).toBe("get");
    expect(flaky.calls.length).toBe(3);
    expect(vi.getTimerCount(), "no attempt timer is left behind").toBe(0);
  });

  it("a stream opened within the attempt's time is read whole after that time has passed", async () => {
    const { memory, retry } = setup({ attemptTimeout: 50 });
    await memory.put("big", Buffer.alloc(100_000, 7));
    const stream = await retry.getStream("big");
    await vi.advanceTimersByTimeAsync(1_000);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(Buffer.alloc(100_000, 7))).toBe(true);
  });

  it("is read from config as attempt_timeout (seconds in YAML) and shown in the policy", async () => {
    const storage = (await createStorage(await parseConfig("storage:\n  type: memory\n  options:\n    retry: { attempt_timeout: 2.5 }\n"))) as RetryStorage;
    expect(storage.policy.attemptTimeout).toBe(2500);
    expect(new RetryStorage({ backend: new MemoryStorage() }).policy.attemptTimeout).toBe(0);
    expect(() => new RetryStorage({ backend: new MemoryStorage(), attemptTimeout: -1 })).toThrow(StorageValidationError);
  });
});

describe("RetryStorage: options and config", () => {
  it("rejects bad options", () => {
    const backend = new MemoryStorage();
    expect(() => new RetryStorage({ backend, maxRetries: -1 })).toThrow(StorageValidationError);
    expect(() => new RetryStorage({ backend, maxRetries: 1.5 })).toThrow(StorageValidationError);
    expect(() => new RetryStorage({ backend, delay: Number.NaN })).toThrow(StorageValidationError);
    expect(() => new RetryStorage({ backend, budget: -1 })).toThrow(StorageValidationError);
  });

  it("is built from options.retry: max_retries (alias max), delay and max_delay in seconds in YAML, budget", async () => {
    const cfg = await parseConfig("storage:\n  type: memory\n  options:\n    retry: { max_retries: 5, delay: 0.25, max_delay: 2, budget: 7 }\n");
    const storage = await createStorage(cfg);
    expect(storage).toBeInstanceOf(RetryStorage);
    expect((storage as RetryStorage).policy).toMatchObject({ maxRetries: 5, delay: 250, maxDelay: 2000, budget: 7 });
    const alias = (await createStorage({ type: "memory", options: { retry: { max: 1, delay: 10 } } })) as RetryStorage;
    expect(alias.policy).toMatchObject({ maxRetries: 1, delay: 10 });
    await alias.put("k", "v");
    expect(await alias.get("k")).toBe("v");
    const camel = (await createStorage({ type: "memory", options: { retry: { maxRetries: 2 } } })) as RetryStorage;
    expect(camel.policy.maxRetries).toBe(2);
    await expect(createStorage({ type: "memory", options: { retry: { max_retries: 1, max: 2 } } })).rejects.toThrow(
      /options\.retry: give max_retries or its alias max, not both/,
    );
  });
});
