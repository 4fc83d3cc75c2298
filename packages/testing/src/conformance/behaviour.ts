import {
  StorageAbortedError,
  StorageError,
  StorageNotFoundError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageValidationError,
  type StorageEvent,
  isStorageError,
} from "@pepperpy/storage-core";
import { expect } from "vitest";
import { type ConformanceCase, atMost, expectBytes, expectRejects, patternBytes, slowStream } from "./helpers.js";

export const behaviourCases: ConformanceCase[] = [
  // Events.
  {
    name: "events: storage.put carries key, operation, bytes and durationMs",
    async run({ storage, key }) {
      const events: StorageEvent[] = [];
      storage.on("storage.put", (e) => events.push(e));
      await storage.put(key("a"), "héllo");
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ key: key("a"), operation: "put", bytes: 6 });
      expect(events[0]!.durationMs).toBeGreaterThanOrEqual(0);
    },
  },
  {
    name: "events: storage.get and storage.delete are emitted",
    async run({ storage, key }) {
      await storage.put(key("a"), "four");
      const gets: StorageEvent[] = [];
      const deletes: StorageEvent[] = [];
      storage.on("storage.get", (e) => gets.push(e));
      storage.on("storage.delete", (e) => deletes.push(e));
      await storage.get(key("a"));
      await storage.delete(key("a"));
      expect(gets.length, "one get, one storage.get").toBe(1);
      expect(gets[0]).toMatchObject({ key: key("a"), operation: "get", bytes: 4 });
      expect(typeof gets[0]!.durationMs).toBe("number");
      expect(deletes.length).toBe(1);
      expect(deletes[0]).toMatchObject({ key: key("a"), operation: "delete" });
    },
  },
  {
    name: "events: storage.error carries the error of a failed operation",
    async run({ storage, key }) {
      const errors: StorageEvent[] = [];
      storage.on("storage.error", (e) => errors.push(e));
      await expectRejects(storage.get(key("missing")), StorageNotFoundError, "get(missing)");
      await expectRejects(storage.put(key("bad"), undefined as unknown as string), StorageValidationError, "put(undefined)");
      expect(errors.length, "one storage.error per failed call").toBe(2);
      expect(errors[0]).toMatchObject({ key: key("missing"), operation: "get" });
      expect(errors[0]!.error).toBeInstanceOf(StorageNotFoundError);
      expect(errors[1]!.error).toBeInstanceOf(StorageValidationError);
    },
  },
  {
    name: "events: a listener that throws does not break the operation",
    async run({ storage, key }) {
      const seen: string[] = [];
      const bad = () => {
        throw new Error("listener bug (expected in this test)");
      };
      // The library reports a throwing listener as a process warning; keep test output quiet.
      const warnings: unknown[] = [];
      const onWarning = (w: unknown) => warnings.push(w);
      const originalEmit = process.emitWarning;
      process.emitWarning = ((w: unknown) => onWarning(w)) as typeof process.emitWarning;
      try {
        storage.on("storage.put", bad);
        storage.on("storage.put", (e) => seen.push(e.operation));
        storage.on("storage.error", bad);
        await storage.put(key("a"), "stored anyway");
        expect(await storage.get(key("a"))).toBe("stored anyway");
        expect(seen, "the next listener still runs").toStrictEqual(["put"]);
        await expectRejects(storage.get(key("missing")), StorageNotFoundError, "get(missing) with a throwing error listener");
      } finally {
        process.emitWarning = originalEmit;
      }
    },
  },
  {
    name: "events: once fires once and off removes a listener",
    async run({ storage, key }) {
      let once = 0;
      let on = 0;
      const listener = () => on++;
      storage.once("storage.put", () => once++);
      storage.on("storage.put", listener);
      await storage.put(key("a"), "1");
      await storage.put(key("a"), "2");
      storage.off("storage.put", listener);
      await storage.put(key("a"), "3");
      expect(once, "once").toBe(1);
      expect(on, "on, then off after two puts").toBe(2);
      const onceRemoved = () => once++;
      storage.once("storage.put", onceRemoved);
      storage.off("storage.put", onceRemoved);
      await storage.put(key("a"), "4");
      expect(once, "a once listener removed with off never fires").toBe(1);
    },
  },
  // Errors.
  {
    name: "errors: StorageNotFoundError names the key, the operation and the backend",
    async run({ storage, key }) {
      const k = key("missing");
      const error = await expectRejects(storage.get(k), StorageNotFoundError, "get(missing)");
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toBeInstanceOf(Error);
      expect(isStorageError(error, "NOT_FOUND")).toBe(true);
      expect(error.code).toBe("NOT_FOUND");
      expect(error.retryable).toBe(false);
      expect(error.key).toBe(k);
      expect(error.operation).toBe("get");
      expect(typeof error.backend === "string" && error.backend.length > 0, "error.backend must name the backend").toBe(true);
      expect(error.message).toContain(k);
      expect(error.message).toContain("get");
      expect(error.message).toContain(error.backend!);
    },
  },
  {
    name: "errors: each operation reports itself in the error",
    async run({ storage, key }) {
      const k = key("missing");
      const calls: [string, () => Promise<unknown>][] = [
        ["stat", () => storage.stat(k)],
        ["getBytes", () => storage.getBytes(k)],
        ["getText", () => storage.getText(k)],
        ["getJSON", () => storage.getJSON(k)],
        ["getStream", () => storage.getStream(k)],
        ["copy", () => storage.copy(k, key("dst"))],
        ["move", () => storage.move(k, key("dst"))],
      ];
      for (const [operation, call] of calls) {
        const error = await expectRejects(call, StorageNotFoundError, `${operation}(missing)`);
        expect(error.operation, `the error of ${operation}`).toBe(operation);
        expect(error.key, `the key in the error of ${operation}`).toBe(k);
      }
    },
  },
  {
    name: "errors: every rejection is a StorageError with a code",
    async run({ storage, key }) {
      const failures: (() => Promise<unknown>)[] = [
        () => storage.get(key("missing")),
        () => storage.put(key("a"), (() => 1) as unknown as string),
        () => storage.getStream(key("missing"), { start: 3, end: 1 }),
        () => storage.listPage(key(""), { limit: -1 }),
        () => storage.putMany([[key("a"), "v"]], { concurrency: 0 }),
      ];
      for (const [i, call] of failures.entries()) {
        try {
          await call();
          throw new Error(`call #${i} should have failed`);
        } catch (error) {
          expect(isStorageError(error), `call #${i} rejected with ${String(error)}`).toBe(true);
          expect(typeof (error as StorageError).code).toBe("string");
        }
      }
    },
  },
  // Abort and timeout.
  {
    name: "abort: a pre-aborted signal rejects with StorageAbortedError and stores nothing",
    async run({ storage, key }) {
      const signal = AbortSignal.abort();
      await expectRejects(storage.put(key("a"), "v", { signal }), StorageAbortedError, "put with an aborted signal");
      expect(await storage.exists(key("a"))).toBe(false);
      await storage.put(key("b"), "keep");
      await expectRejects(storage.get(key("b"), { signal }), StorageAbortedError, "get with an aborted signal");
      await expectRejects(storage.delete(key("b"), { signal }), StorageAbortedError, "delete with an aborted signal");
      expect(await storage.get(key("b")), "an aborted delete must not delete").toBe("keep");
      await expectRejects(storage.list(key(""), { signal }), StorageAbortedError, "list with an aborted signal");
    },
  },
  {
    name: "abort: aborting a streamed put midway rejects with StorageAbortedError and stores nothing",
    async run({ storage, key }) {
      await storage.put(key("a"), "old");
      const controller = new AbortController();
      const { stream, settled } = slowStream(20, 50);
      const put = storage.put(key("a"), stream, { signal: controller.signal });
      setTimeout(() => controller.abort(), 120);
      await expectRejects(put, StorageAbortedError, "put aborted midway");
      await atMost(settled, 3000);
      expect(await storage.get(key("a")), "an aborted put changed the old value").toBe("old");
      const error = await expectRejects(put, StorageAbortedError, "put aborted midway");
      expect(error.retryable, "an abort is never retryable").toBe(false);
    },
  },
  {
    name: "timeout: a put slower than its timeout rejects with StorageTimeoutError and stores nothing",
    async run({ storage, key }) {
      const { stream, settled } = slowStream(10, 100);
      const error = await expectRejects(storage.put(key("a"), stream, { timeout: 50 }), StorageTimeoutError, "put with timeout 50 ms and a 1 s stream");
      expect(error.retryable, "a timeout is retryable").toBe(true);
      expect(error.key).toBe(key("a"));
      await atMost(settled, 3000);
      expect(await storage.exists(key("a")), "a timed-out put stored a value").toBe(false);
    },
  },
  {
    name: "timeout: a call within its timeout succeeds and timeout 0 disables it",
    async run({ storage, key }) {
      await storage.put(key("a"), "v", { timeout: 20_000 });
      expect(await storage.get(key("a"), { timeout: 0 })).toBe("v");
    },
  },
  // Lifecycle.
  {
    name: "close: later operations reject with StorageUnavailableError",
    async run({ storage, key }) {
      await storage.close();
      await expectRejects(storage.get(key("a")), StorageUnavailableError, "get after close");
      await expectRejects(storage.put(key("a"), "v"), StorageUnavailableError, "put after close");
      await expectRejects(storage.list(key("")), StorageUnavailableError, "list after close");
      await storage.close();
    },
  },
  // Concurrency.
  {
    name: "concurrency: 50 concurrent puts are all readable afterwards",
    timeout: 60_000,
    async run({ storage, key }) {
      const keys = Array.from({ length: 50 }, (_, i) => key(`k${String(i).padStart(2, "0")}`));
      await Promise.all(keys.map((k, i) => storage.put(k, { i, pad: "x".repeat(i * 10) })));
      const values = await Promise.all(keys.map((k) => storage.get(k)));
      for (const [i, v] of values.entries()) expect(v, `value of ${keys[i]}`).toStrictEqual({ i, pad: "x".repeat(i * 10) });
      expect(await storage.list(key(""))).toStrictEqual(keys);
    },
  },
  {
    name: "concurrency: concurrent writers to one key leave one whole value",
    timeout: 60_000,
    async run({ storage, key }) {
      const size = 64 * 1024;
      await Promise.all(Array.from({ length: 10 }, (_, i) => storage.put(key("a"), Buffer.alloc(size, i))));
      const got = await storage.getBytes(key("a"));
      expect(got.byteLength).toBe(size);
      const first = got[0]!;
      expectBytes(got, Buffer.alloc(size, first), "the value after concurrent writers (must be one writer's value, not a mix)");
    },
  },
  {
    name: "concurrency: reads during writes see the old or the new value",
    timeout: 60_000,
    async run({ storage, key }) {
      const a = patternBytes(100_000, 1);
      const b = patternBytes(100_000, 2);
      await storage.put(key("a"), a);
      const reads: Promise<Uint8Array>[] = [];
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 10; i++) {
        writes.push(storage.put(key("a"), i % 2 ? a : b));
        reads.push(storage.getBytes(key("a")));
      }
      await Promise.all(writes);
      for (const r of await Promise.all(reads)) {
        const same = Buffer.compare(Buffer.from(r), a) === 0 || Buffer.compare(Buffer.from(r), b) === 0;
        expect(same, "a read during writes returned a torn value").toBe(true);
      }
    },
  },
  {
    name: "keys: a key can also be a prefix of other keys",
    requires: { capability: "keyIsAlsoPrefix" },
    async run({ storage, key }) {
      await storage.put(key("a"), "parent");
      await storage.put(key("a/b"), "child");
      expect(await storage.get(key("a"))).toBe("parent");
      expect(await storage.get(key("a/b"))).toBe("child");
      expect(await storage.list(key(""))).toStrictEqual([key("a"), key("a/b")]);
      await storage.delete(key("a"));
      expect(await storage.get(key("a/b"))).toBe("child");
      expect(await storage.list(key(""))).toStrictEqual([key("a/b")]);
    },
  },
];
