/**
 * What `put` accepts, checked by the compiler (`pnpm typecheck` compiles this file; each
 * `@ts-expect-error` fails the check if the line compiles) and at run time.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  BaseStorage,
  ForwardingDriver,
  type JsonValue,
  type Jsonable,
  LayerStorage,
  type PutValue,
  type Storage,
  StorageIOError,
  readEntry,
  readEntryStream,
  type StorageErrorCode,
  StorageNotFoundError,
  StorageOutcomeUnknownError,
  StorageTimeoutError,
  StorageValidationError,
  type StorageValue,
  isStorageError,
} from "../src/index.js";
import { MemoryStorage } from "@pepperpy/storage-memory";

interface Address {
  city: string;
  zip?: string;
}
/** Declared with `interface`, as most TypeScript users type their data: no index signature. */
interface User {
  name: string;
  nick?: string | undefined;
  age: number;
  admin: boolean;
  tags: string[];
  address: Address;
  manager: User | null;
  pair: [number, string];
}
interface WithDate {
  when: Date;
}
interface WithMethod {
  name: string;
  greet(): string;
}
interface WithBigint {
  n: bigint;
}

const ada: User = { name: "ada", age: 36, admin: true, tags: ["x"], address: { city: "London" }, manager: null, pair: [1, "a"] };

describe("put's types fit values typed with interfaces", () => {
  it("an interface of JSON properties compiles and round-trips; undefined properties are dropped as JSON.stringify does", async () => {
    const storage = new MemoryStorage();
    await storage.put("users/ada", ada);
    expect(await storage.get<User>("users/ada")).toStrictEqual(ada);
    const withUndefined: User = { ...ada, nick: undefined, address: { city: "Paris", zip: undefined } };
    await storage.put("users/nick", withUndefined);
    // Read back without the undefined properties, exactly what JSON.stringify would give.
    expect(await storage.get("users/nick")).toStrictEqual(JSON.parse(JSON.stringify(withUndefined)));
    expect(await storage.get("users/nick")).not.toHaveProperty("nick");
    const list: User[] = [ada, ada];
    await storage.put("users/all", list);
    const readonlyList: readonly Address[] = [{ city: "Rome" }];
    await storage.put("addresses", readonlyList);
    await storage.put("text", "plain text");
    await storage.put("bytes", new Uint8Array([1, 2]));
    await storage.putMany([["x", "1"]]);
  });

  it("non-JSON properties are refused by the compiler and at run time", async () => {
    const storage = new MemoryStorage();
    const dated: WithDate = { when: new Date() };
    const method: WithMethod = { name: "a", greet: () => "hi" };
    const big: WithBigint = { n: 1n };
    // @ts-expect-error a Date is not JSON (it would read back as a string)
    await expect(storage.put("d", dated)).rejects.toThrow(/value\.when is a Date/);
    // @ts-expect-error a function property is not JSON
    await expect(storage.put("m", method)).rejects.toThrow(/value\.greet is a function/);
    // @ts-expect-error a bigint is not JSON
    await expect(storage.put("b", big)).rejects.toThrow(/value\.n is a bigint/);
    // @ts-expect-error undefined in an array would read back as null
    await expect(storage.put("u", [1, undefined])).rejects.toThrow(StorageValidationError);
    // @ts-expect-error undefined is not a value
    await expect(storage.put("u", undefined)).rejects.toThrow(StorageValidationError);
  });

  it("generic code calls put: a wrapper over JsonValue or StorageValue compiles, on BaseStorage and on the Storage interface", async () => {
    const memory = new MemoryStorage();
    const storage: Storage = memory;
    // The wrappers users write around put: each failed with TS2345 ("T is not assignable to T & PutValue<T>").
    const save = <T extends JsonValue>(key: string, value: T) => storage.put(key, value);
    const saveOnClass = <T extends JsonValue>(key: string, value: T) => memory.put(key, value);
    async function saveAny<T extends StorageValue>(key: string, value: T) {
      return storage.put(key, value, { metadata: { by: "wrapper" } });
    }
    const saveChecked = <T>(key: string, value: T & PutValue<T>) => storage.put(key, value);
    const json: JsonValue = { a: [1, "x", null] };
    const any: StorageValue = "text";
    await save("json", json);
    await save("n", 42);
    await saveOnClass("obj", { nested: { ok: true } });
    await saveAny("bytes", new Uint8Array([1]));
    await saveAny("any", any);
    await saveChecked("user", ada);
    // A wrapper that passes an interface-typed value on keeps the property check.
    // @ts-expect-error a Date property is still refused through a checked wrapper
    await expect(saveChecked("d", { when: new Date() } as WithDate)).rejects.toThrow(/value\.when is a Date/);
    expect(await storage.get("json")).toStrictEqual(json);
    expect(await storage.get("n")).toBe(42);
    expect(await storage.get("obj")).toStrictEqual({ nested: { ok: true } });
    expect(await storage.get("user")).toStrictEqual(ada);
    expect((await storage.stat("any")).metadata).toStrictEqual({ by: "wrapper" });
  });

  it("through the Storage interface, interface-typed values compile and non-JSON properties do not", async () => {
    const storage: Storage = new MemoryStorage();
    const user: User = ada;
    await storage.put("users/ada", user);
    const dated: WithDate = { when: new Date() };
    // @ts-expect-error a Date is not JSON, on the interface as on the class
    await expect(storage.put("d", dated)).rejects.toThrow(/value\.when is a Date/);
    // @ts-expect-error an object literal with a function property is not JSON
    await expect(storage.put("f", { f: () => 1 })).rejects.toThrow(StorageValidationError);
    const unknownValue: unknown = { a: 1 };
    // @ts-expect-error an unknown value is not known to be JSON
    await storage.put("u", unknownValue);
    expect(await storage.get("users/ada")).toStrictEqual(ada);
  });

  it("Jsonable<T> maps a JSON interface to itself and marks the offending property never", () => {
    expectTypeOf<Jsonable<Address>>().toEqualTypeOf<{ city: string; zip?: string | undefined }>();
    expectTypeOf<Jsonable<WithDate>["when"]>().not.toEqualTypeOf<Date>();
    expectTypeOf<Jsonable<WithBigint>["n"]>().toEqualTypeOf<never>();
  });
});

describe("each error class has its literal code", () => {
  it("code narrows to the class's own code", () => {
    expectTypeOf(new StorageNotFoundError("x").code).toEqualTypeOf<"NOT_FOUND">();
    expectTypeOf(new StorageTimeoutError("x").code).toEqualTypeOf<"TIMEOUT">();
    expectTypeOf(new StorageValidationError("x").code).toEqualTypeOf<"VALIDATION">();
    expectTypeOf(new StorageOutcomeUnknownError("x").code).toEqualTypeOf<"OUTCOME_UNKNOWN">();
    const error: unknown = new StorageNotFoundError("x");
    if (error instanceof StorageNotFoundError) {
      const code: "NOT_FOUND" = error.code;
      expect(code).toBe("NOT_FOUND");
    }
    if (isStorageError(error)) expectTypeOf(error.code).toEqualTypeOf<StorageErrorCode>();
  });
});

describe("timeout errors state the limit", () => {
  it("a call cut off by the storage's timeout says after how many ms", async () => {
    const hang = new BaseStorage(
      {
        name: "hang",
        capabilities: { rangeRead: false, conditionalWrite: false, serverSideCopy: false, keyIsAlsoPrefix: true, durable: false, persistent: false },
        read: () => new Promise(() => undefined),
        stat: () => new Promise(() => undefined),
        write: () => new Promise(() => undefined),
        delete: () => new Promise(() => undefined),
        list: () => new Promise(() => undefined),
      },
      { timeout: 40 },
    );
    const error = await hang.delete("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageTimeoutError);
    expect((error as Error).message).toBe('Timed out after 40 ms [delete "k" on hang]');
    const perCall = await hang.get("k", { timeout: 25 }).catch((e: unknown) => e);
    expect((perCall as Error).message).toMatch(/^Timed out after 25 ms \[get "k" on hang\]$/);
  });
});

describe("put options are typed and the public Storage holds only what users call (issue 17)", () => {
  it("a misspelled or internal put option is a compile error; the known ones compile", async () => {
    const storage = new MemoryStorage();
    await storage.put("k", "v", { contentType: "text/x-note", metadata: { a: "1" }, ttl: 60_000, timeout: 1000 });
    // @ts-expect-error a misspelled option (contentTyp) is caught, as the index signature used to hide
    await storage.put("k2", "v", { contentTyp: "text/plain" });
    // @ts-expect-error valueType is how a layer forwards a value's type, not a user option
    await storage.put("k3", new Uint8Array([104, 105]), { valueType: "text" });
    expect((await storage.stat("k")).contentType).toBe("text/x-note");
    // The misspelled option was ignored at run time: the value got the default content type.
    expect((await storage.stat("k2")).contentType).toBe("text/plain; charset=utf-8");
    // And the internal one was not honoured from a user: bytes stay bytes.
    expect(await storage.get("k3")).toStrictEqual(Buffer.from("hi"));
  });

  it("Storage has no getEntry / getEntryStream; readEntry reads bytes and info in one call", async () => {
    expectTypeOf<Storage>().not.toHaveProperty("getEntry");
    expectTypeOf<Storage>().not.toHaveProperty("getEntryStream");
    const storage: Storage = new MemoryStorage();
    expect("getEntry" in storage).toBe(false);
    expect("getEntryStream" in storage).toBe(false);
    await storage.put("e", "hello", { metadata: { m: "1" } });
    const entry = await readEntry(storage, "e");
    expect(Buffer.from(entry.data).toString()).toBe("hello");
    expect(entry.info).toMatchObject({ key: "e", valueType: "text", metadata: { m: "1" } });
    const { info, stream } = await readEntryStream(storage, "e", { start: 1, end: 2 });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("el");
    expect(info.size).toBe(5);
    await expect(readEntry(storage, "missing")).rejects.toThrow(StorageNotFoundError);
  });

  it("a storage not built on BaseStorage cannot be read by entry: a clear StorageValidationError", async () => {
    const foreign = { name: "hand-made" } as unknown as Storage;
    const error = await readEntry(foreign, "k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageValidationError);
    expect((error as Error).message).toMatch(/hand-made cannot be wrapped: a layer, composite or mount needs a storage built on BaseStorage/);
    // A layer over it fails where the stack is built, not at its first read.
    expect(() => new LayerStorage(new ForwardingDriver(foreign, "pass"))).toThrow(StorageValidationError);
  });

  it("errors and events of a layer's read name the public operation the user called, once per call (the stack's, not the backend's)", async () => {
    const failing = new BaseStorage({
      name: "flaky",
      capabilities: { rangeRead: false, conditionalWrite: false, serverSideCopy: false, keyIsAlsoPrefix: true, durable: false, persistent: false },
      read: () => Promise.reject(new Error("disk on fire")),
      stat: () => undefined,
      write: () => Promise.reject(new Error("no")),
      delete: () => undefined,
      list: () => Promise.resolve({ items: [] }),
    });
    const seen: string[] = [];
    failing.on("storage.error", (e) => seen.push(`inner:${e.operation}`));
    const layered = new LayerStorage(new ForwardingDriver(failing, "pass"));
    layered.on("storage.error", (e) => seen.push(`outer:${e.operation}`));
    for (const [call, op] of [
      [() => layered.get("k"), "get"],
      [() => layered.getText("k"), "getText"],
      [() => layered.getStream("k"), "getStream"],
    ] as const) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageIOError);
      expect((error as StorageIOError).operation).toBe(op);
    }
    // The layer composes onto the backend's driver: one call, one event, on the storage the user called.
    expect(seen).toStrictEqual(["outer:get", "outer:getText", "outer:getStream"]);
  });
});
