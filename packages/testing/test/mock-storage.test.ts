import { type JsonValue, StorageError, StorageNotFoundError, StorageUnavailableError, type StorageEvent } from "@pepperpy/storage-core";
import { describe, expect, it } from "vitest";
import { MockStorage, describeStorageConformance } from "../src/index.js";

// MockStorage is a real storage: it passes the whole suite.
describeStorageConformance("MockStorage", ({ clock }) => new MockStorage({ clock: clock.now }));

describe("MockStorage", () => {
  it("records public calls with their operation, key and arguments", async () => {
    const storage = new MockStorage();
    await storage.put("a", "1", { metadata: { m: "x" } });
    await storage.get("a");
    await storage.exists("b");
    await storage.list("a");
    await storage.copy("a", "c");
    expect(storage.calls.map((c) => [c.operation, c.key])).toStrictEqual([
      ["put", "a"],
      ["get", "a"],
      ["exists", "b"],
      ["list", "a"],
      ["copy", "a"],
    ]);
    expect(storage.calls[0]!.args).toStrictEqual(["a", "1", { metadata: { m: "x" } }]);
    expect(storage.callsTo("get")).toHaveLength(1);
  });

  it("does not record the calls a storage makes to itself", async () => {
    const storage = new MockStorage();
    await storage.putMany({ a: 1, b: 2 });
    await storage.getMany(["a", "b"]);
    await storage.list();
    for await (const _ of storage.iterate("", { pageSize: 1 })) {
      // drain
    }
    expect(storage.calls.map((c) => c.operation)).toStrictEqual(["putMany", "getMany", "list", "iterate"]);
  });

  it("mockGet returns a canned value for get and getMany without storing it", async () => {
    const storage = new MockStorage();
    const when = new Date(0);
    storage.mockGet("user", { when });
    expect(await storage.get("user")).toStrictEqual({ when });
    expect(await storage.getMany(["user", "other"])).toStrictEqual([{ when }, undefined]);
    expect(await storage.exists("user")).toBe(false);
    storage.reset();
    await expect(storage.get("user")).rejects.toBeInstanceOf(StorageNotFoundError);
  });

  it("mockError fails every call of an operation, or only those for a key", async () => {
    const storage = new MockStorage();
    await storage.put("a", "1");
    await storage.put("b", "2");
    storage.mockError("get", () => new StorageUnavailableError("backend down"), "a");
    await expect(storage.get("a")).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(storage.get("a")).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(await storage.get("b")).toBe("2");
    // getMany sees the mocked get failure.
    await expect(storage.getMany(["b", "a"])).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it("mockError with times or nth fails only those calls", async () => {
    const storage = new MockStorage();
    storage.mockError("put", () => new StorageUnavailableError("blip"), { times: 2 });
    await expect(storage.put("a", "1")).rejects.toThrow(/blip/);
    await expect(storage.put("a", "1")).rejects.toThrow(/blip/);
    await storage.put("a", "1");
    storage.reset();
    storage.mockError("delete", () => new StorageUnavailableError("third"), { nth: 3 });
    await storage.delete("a");
    await storage.delete("a");
    await expect(storage.delete("a")).rejects.toThrow(/third/);
    await storage.delete("a");
  });

  it("mocked errors carry context, reach storage.error, and non-storage errors are wrapped", async () => {
    const storage = new MockStorage();
    const events: StorageEvent[] = [];
    storage.on("storage.error", (e) => events.push(e));
    storage.mockError("stat", new Error("raw"), "k");
    const error = (await storage.stat("k").catch((e: unknown) => e)) as StorageError;
    expect(error).toBeInstanceOf(StorageError);
    expect(error.code).toBe("IO");
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.message).toContain('stat "k" on mock');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ key: "k", operation: "stat" });
  });

  it("'*' fails any operation and iterate fails on first read", async () => {
    const storage = new MockStorage();
    storage.mockError("*", () => new StorageUnavailableError("all down"));
    await expect(storage.exists("a")).rejects.toBeInstanceOf(StorageUnavailableError);
    const iterator = storage.iterate("")[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(storage.callsTo("iterate")).toHaveLength(1);
  });

  it("a generic wrapper over JsonValue calls put on a MockStorage (typechecked), and the call is recorded", async () => {
    const storage = new MockStorage();
    // Failed to compile (TS2345) while MockStorage.put had only the generic signature.
    const save = <T extends JsonValue>(key: string, value: T) => storage.put(key, value);
    await save("w", { n: 1 });
    expect(await storage.get("w")).toStrictEqual({ n: 1 });
    expect(storage.callsTo("put")).toHaveLength(1);
  });
});
