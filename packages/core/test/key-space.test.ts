/**
 * Typed key spaces: `pnpm typecheck` compiles this file, so each `@ts-expect-error` fails the
 * check if its line compiles; the calls then run against a real storage.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { MemoryStorage } from "../../memory/src/index.js";
import { StorageNotFoundError, StorageValidationError, keySpace } from "../src/index.js";

interface User {
  name: string;
  age: number;
  nick?: string | undefined;
}

describe("keySpace<T>(storage, prefix)", () => {
  it("reads and writes T under the prefix, ids relative to it", async () => {
    const storage = new MemoryStorage();
    const users = keySpace<User>(storage, "users/");
    await users.put("ada", { name: "Ada", age: 36 });
    await users.put("alan", { name: "Alan", age: 41, nick: undefined });
    await storage.put("other/x", "not a user");
    const ada = await users.get("ada");
    expectTypeOf(ada).toEqualTypeOf<User>();
    expect(ada).toStrictEqual({ name: "Ada", age: 36 });
    // The same key through the storage: the space is a view, not a copy.
    expect(await storage.get("users/alan")).toStrictEqual({ name: "Alan", age: 41 });
    expect(await users.list()).toEqual(["ada", "alan"]);
    expect(await users.exists("ada")).toBe(true);
    await users.delete("ada");
    expect(await users.exists("ada")).toBe(false);
    await expect(users.get("ada")).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(users.get("ada")).rejects.toThrow(/users\/ada/);
  });

  it("the compiler refuses values that are not T", async () => {
    const users = keySpace<User>(new MemoryStorage(), "users/");
    // @ts-expect-error age is missing
    await users.put("bob", { name: "Bob" });
    // @ts-expect-error a string is not a User
    await users.put("bob", "Bob");
    expect(await users.list()).toEqual(["bob"]);
  });

  it("refuses a prefix that is not a string", () => {
    expect(() => keySpace(new MemoryStorage(), 42 as never)).toThrow(StorageValidationError);
  });
});
