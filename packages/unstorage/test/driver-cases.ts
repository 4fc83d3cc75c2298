// unstorage's shared driver cases (test/drivers/utils.ts in unjs/unstorage), rewritten for
// this package: unstorage does not ship them in its npm package. Same case names and intent.
import type { Driver, Storage } from "unstorage";
import { createStorage, restoreSnapshot } from "unstorage";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";

export interface DriverCaseContext {
  storage: Storage;
  driver: Driver;
}

/** Registers unstorage's driver cases for the driver `create` returns (call inside a describe). */
export function unstorageDriverCases(create: () => Driver | Promise<Driver>): DriverCaseContext {
  const ctx = {} as DriverCaseContext;
  beforeAll(async () => {
    ctx.driver = await create();
    ctx.storage = createStorage({ driver: ctx.driver });
  });
  afterAll(async () => {
    await ctx.driver?.dispose?.();
    await ctx.storage?.dispose?.();
  });
  afterEach(async () => {
    await ctx.storage.clear();
  });

  it("init", async () => {
    await restoreSnapshot(ctx.storage, { initial: "works" });
    expect(await ctx.storage.getItem("initial")).toBe("works");
    await ctx.storage.clear();
  });

  it("initial state", async () => {
    expect(await ctx.storage.hasItem("s1:a")).toBe(false);
    expect(await ctx.storage.getItem("s2:a")).toBe(null);
    expect(await ctx.storage.getKeys()).toStrictEqual([]);
  });

  it("setItem", async () => {
    await ctx.storage.setItem("s1:a", "test_data");
    await ctx.storage.setItem("s2:a", "test_data");
    await ctx.storage.setItem("s3:a?q=1", "test_data");
    expect(await ctx.storage.hasItem("s1:a")).toBe(true);
    expect(await ctx.storage.getItem("s1:a")).toBe("test_data");
    // The query string is not part of the key.
    expect(await ctx.storage.getItem("s3:a?q=2")).toBe("test_data");
  });

  it("getKeys", async () => {
    for (const key of ["s1:a", "s2:a", "s3:a?q=1"]) await ctx.storage.setItem(key, "test_data");
    expect((await ctx.storage.getKeys()).sort()).toStrictEqual(["s1:a", "s2:a", "s3:a"]);
    expect(await ctx.storage.getKeys("s1")).toStrictEqual(["s1:a"]);
  });

  it("getKeys with depth", async () => {
    for (const key of ["depth0_0", "depth0:depth1:depth2_0", "depth0:depth1:depth2_1", "depth0:depth1_0", "depth0:depth1_1"]) {
      await ctx.storage.setItem(key, "test_data");
    }
    expect(await ctx.storage.getKeys(undefined, { maxDepth: 0 })).toStrictEqual(["depth0_0"]);
    expect((await ctx.storage.getKeys(undefined, { maxDepth: 1 })).sort()).toStrictEqual(["depth0:depth1_0", "depth0:depth1_1", "depth0_0"]);
    expect((await ctx.storage.getKeys(undefined, { maxDepth: 2 })).sort()).toStrictEqual([
      "depth0:depth1:depth2_0",
      "depth0:depth1:depth2_1",
      "depth0:depth1_0",
      "depth0:depth1_1",
      "depth0_0",
    ]);
  });

  it("serialize (object)", async () => {
    await ctx.storage.setItem("/data/test.json", { json: "works" });
    expect(await ctx.storage.getItem("/data/test.json")).toStrictEqual({ json: "works" });
  });

  it("serialize (primitive)", async () => {
    await ctx.storage.setItem("/data/true.json", true);
    expect(await ctx.storage.getItem("/data/true.json")).toBe(true);
  });

  it("serialize (lossy object with toJSON())", async () => {
    await ctx.storage.setItem("/data/serialized1.json", { toJSON: () => "SERIALIZED" });
    expect(await ctx.storage.getItem("/data/serialized1.json")).toBe("SERIALIZED");
    await ctx.storage.setItem("/data/serialized2.json", { toJSON: () => ({ serializedObj: "works" }) });
    expect(await ctx.storage.getItem("/data/serialized2.json")).toStrictEqual({ serializedObj: "works" });
  });

  it("serialize (error for non primitives)", async () => {
    class NotSerializable {}
    await expect(ctx.storage.setItem("/data/badvalue.json", new NotSerializable())).rejects.toThrow("[unstorage] Cannot stringify value!");
  });

  it("raw support", async () => {
    const value = new Uint8Array([1, 2, 3]);
    await ctx.storage.setItemRaw("/data/raw.bin", value);
    const raw = (await ctx.storage.getItemRaw("/data/raw.bin")) as Uint8Array;
    expect(raw.byteLength).toBe(value.byteLength);
    expect(Buffer.from(raw).toString("base64")).toBe(Buffer.from(value).toString("base64"));
  });

  it("setItems", async () => {
    await ctx.storage.setItems([
      { key: "t:1", value: "test_data_t1" },
      { key: "t:2", value: "test_data_t2" },
      { key: "t:3", value: "test_data_t3" },
    ]);
    expect(await ctx.storage.getItem("t:1")).toBe("test_data_t1");
    expect(await ctx.storage.getItem("t:2")).toBe("test_data_t2");
    expect(await ctx.storage.getItem("t:3")).toBe("test_data_t3");
  });

  it("getItems", async () => {
    await ctx.storage.setItem("v3:a?q=1", "test_data_v3:a?q=1");
    await ctx.storage.setItem("v2:a", "test_data_v2:a");
    await ctx.storage.setItem("v1:a", "test_data_v1:a");
    expect(await ctx.storage.getItems([{ key: "v1:a" }, "v2:a", { key: "v3:a?q=1" }, "v4:undefined"])).toStrictEqual([
      { key: "v1:a", value: "test_data_v1:a" },
      { key: "v2:a", value: "test_data_v2:a" },
      { key: "v3:a", value: "test_data_v3:a?q=1" },
      { key: "v4:undefined", value: null },
    ]);
  });

  it("getItem - return falsy values when set in storage", async () => {
    await ctx.storage.setItem("zero", 0);
    expect(await ctx.storage.getItem("zero")).toBe(0);
    await ctx.storage.setItem("my-false-flag", false);
    expect(await ctx.storage.getItem("my-false-flag")).toBe(false);
  });

  it("removeItem", async () => {
    await ctx.storage.setItem("s1:a", "test_data");
    await ctx.storage.removeItem("s1:a", false);
    expect(await ctx.storage.hasItem("s1:a")).toBe(false);
    expect(await ctx.storage.getItem("s1:a")).toBe(null);
  });

  it("clear", async () => {
    await ctx.storage.setItem("s1:a", "test_data");
    await ctx.storage.clear();
    expect(await ctx.storage.getKeys()).toStrictEqual([]);
    // Clearing an empty storage works too (unstorage #162).
    await ctx.storage.clear();
    expect(await ctx.storage.getKeys()).toStrictEqual([]);
  });

  return ctx;
}
