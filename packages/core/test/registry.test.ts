import {
  Secret,
  ForwardingDriver,
  LayerStorage,
  type Storage,
  StorageConfigError,
  createStorage,
  getLayerPlugin,
  getStoragePlugin,
  registerLayer,
  registerStorage,
  registeredLayers,
  registeredStorageTypes,
  resolveStoragePlugin,
} from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";

// Declaration merging, as a plugin package types its config (docs/configuration.md): the
// types and layers this file registers become checked members of StorageConfig.
declare module "@pepperpy/storage-core" {
  interface StorageConfigTypes {
    redisish: { url: string; password?: string };
    rish: { url: string; password?: string };
    "thirdparty-mem": {};
    replaced: {};
  }
  interface LayerConfigTypes {
    outer: {};
    inner: {};
  }
}

/** A third-party layer in a few lines: forwards everything, names itself. */
class TagStorage extends LayerStorage {
  constructor(backend: Storage, tag: string) {
    super(new ForwardingDriver(backend, tag));
  }
}

describe("registry", () => {
  it("a third-party backend is used by createStorage, by type and by alias", async () => {
    const made: unknown[] = [];
    registerStorage({
      type: "redisish",
      aliases: ["rish"],
      fields: { url: "string", password: "secret" },
      required: ["url"],
      create(config) {
        made.push(config);
        return new MemoryStorage();
      },
    });
    expect(registeredStorageTypes()).toEqual(expect.arrayContaining(["redisish", "rish"]));
    expect(getStoragePlugin("rish")?.type).toBe("redisish");
    const storage = await createStorage({ type: "rish", url: "redis://127.0.0.1", password: "pw" });
    await storage.put("k", "v");
    expect(await storage.get("k")).toBe("v");
    expect(made).toMatchObject([{ type: "rish", url: "redis://127.0.0.1" }]);
    // A secret field reaches the plugin in a Secret: printing the config shows no password.
    const password = (made[0] as { password: unknown }).password;
    expect(Secret.isSecret(password) && password.reveal()).toBe("pw");
    expect(JSON.stringify(made)).not.toContain("pw");
    // @ts-expect-error url is required, by the augmented type as by the plugin
    await expect(createStorage({ type: "redisish" })).rejects.toThrow(/storage\.url: required for type "redisish"/);
  });

  it("third-party backends nest inside a composite", async () => {
    registerStorage({ type: "thirdparty-mem", create: () => new MemoryStorage() });
    const storage = await createStorage({ type: "composite", backends: [{ type: "thirdparty-mem" }, { type: "memory" }] });
    await storage.put("k", { ok: true });
    expect(await storage.get("k")).toStrictEqual({ ok: true });
    expect(storage.name).toBe("composite(memory,memory)");
  });

  it("layers wrap in order, lowest order outermost", async () => {
    registerLayer({ name: "outer", order: 1, create: (b) => new TagStorage(b, "outer") });
    registerLayer({ name: "inner", order: 99, create: (b) => new TagStorage(b, "inner") });
    expect(registeredLayers()).toEqual(expect.arrayContaining(["inner", "outer"]));
    expect(getLayerPlugin("outer")?.order).toBe(1);
    const storage = await createStorage({ type: "memory", options: { inner: true, outer: {} } });
    expect(storage.name).toBe("outer(inner(memory))");
    await storage.put("k", "v");
    expect(await storage.get("k")).toBe("v");
  });

  it("a later registration replaces an earlier one", async () => {
    registerStorage({ type: "replaced", create: () => new MemoryStorage({ maxSize: 1 }) });
    registerStorage({ type: "replaced", create: () => new MemoryStorage() });
    const storage = await createStorage({ type: "replaced" });
    await storage.put("k", "longer than one byte");
  });

  it("built-in types load their package on demand", async () => {
    const plugin = await resolveStoragePlugin("memory");
    expect(plugin.type).toBe("memory");
    expect(getStoragePlugin("memory")).toBe(plugin);
  });

  it("rejects malformed plugins with StorageConfigError", () => {
    expect(() => registerStorage({ type: "", create: () => new MemoryStorage() })).toThrow(StorageConfigError);
    expect(() => registerStorage({ type: "x" } as never)).toThrow(/registerStorage needs/);
    expect(() => registerLayer({ name: "x", create: (b: Storage) => b } as never)).toThrow(/registerLayer needs/);
  });

  it("an unknown type lists what is registered and names the packages", async () => {
    // @ts-expect-error not a registered type: the compiler says so first
    const error = await createStorage({ type: "cassandra" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/Known types: .*composite.*memory/);
    expect(message).toContain("@pepperpy/storage-fs");
    expect(message).toContain("@pepperpy/storage-s3");
  });
});
