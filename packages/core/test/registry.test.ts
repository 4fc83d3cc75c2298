import {
  Secret,
  ForwardingDriver,
  LayerStorage,
  type Storage,
  StorageConfigError,
  createStorage,
  definePlugin,
  getLayerPlugin,
  getStoragePlugin,
  pluginPackageName,
  registerLayer,
  registerLazyLayer,
  registerLazyStorage,
  registerStorage,
  registeredLayers,
  registeredStorageTypes,
  resolveStoragePlugin,
} from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, expectTypeOf, it } from "vitest";

// Declaration merging, as a plugin package types its config (docs/configuration.md): the
// types and layers this file registers become checked members of StorageConfig.
declare module "@pepperpy/storage-core" {
  interface StorageConfigTypes {
    redisish: { url: string; password?: string };
    rish: { url: string; password?: string };
    "thirdparty-mem": {};
    replaced: {};
    "lazy-mem": {};
    "lazy-alias": {};
    "lazy-missing": {};
    "lazy-broken": {};
    typed: { name: string; size?: number | string; mode?: "a" | "b"; token?: string };
  }
  interface LayerConfigTypes {
    outer: {};
    inner: {};
    lazytag: {};
    lazymissing: {};
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
    // The package the convention names, not a table of built-ins.
    expect(message).toContain("install it with: npm install @pepperpy/storage-cassandra");
    expect(message).toContain("registerStorage({ type, create })");
  });

  it("names a package by convention only for a plain package-name segment", () => {
    expect(pluginPackageName("redis")).toBe("@pepperpy/storage-redis");
    expect(pluginPackageName("azure-blob")).toBe("@pepperpy/storage-azure-blob");
    for (const name of ["../x", "@evil/pkg", "a/b", "Memory", "a b", "", "-x", "x-", ".x", "__proto__", "toString", "x".repeat(101)]) {
      expect(pluginPackageName(name), JSON.stringify(name)).toBeUndefined();
    }
  });
});

describe("lazy plugins", () => {
  it("a lazy type loads its package on first use only, under its name and its aliases", async () => {
    let loads = 0;
    registerLazyStorage({
      type: "lazy-mem",
      aliases: ["lazy-alias"],
      package: "@example/lazy-mem",
      load: async () => {
        loads++;
        return { storagePlugins: [{ type: "lazy-mem", aliases: ["lazy-alias"], create: () => new MemoryStorage() }] };
      },
    });
    expect(loads).toBe(0);
    expect(registeredStorageTypes()).toEqual(expect.arrayContaining(["lazy-mem", "lazy-alias"]));
    expect(getStoragePlugin("lazy-mem")).toBeUndefined();
    const a = await createStorage({ type: "lazy-alias" });
    const b = await createStorage({ type: "lazy-mem" });
    expect([a.name, b.name]).toStrictEqual(["memory", "memory"]);
    expect(loads).toBe(1);
    expect(getStoragePlugin("lazy-mem")?.type).toBe("lazy-mem");
  });

  it("a lazy layer loads only when enabled, and a missing package says what to install", async () => {
    let loads = 0;
    registerLazyLayer({
      name: "lazytag",
      package: "@example/lazytag",
      load: async () => {
        loads++;
        return { layerPlugin: { name: "lazytag", order: 5, create: (b: Storage) => new TagStorage(b, "lazytag") } };
      },
    });
    expect(registeredLayers()).toContain("lazytag");
    const off = await createStorage({ type: "memory", options: { lazytag: false } });
    expect(off.name).toBe("memory");
    expect(loads).toBe(0);
    const on = await createStorage({ type: "memory", options: { lazytag: true } });
    expect(on.name).toBe("lazytag(memory)");
    expect(loads).toBe(1);

    const notFound = () => Promise.reject(Object.assign(new Error("Cannot find package '@example/lazymissing' imported from /app"), { code: "ERR_MODULE_NOT_FOUND" }));
    registerLazyLayer({ name: "lazymissing", package: "@example/lazymissing", load: notFound });
    registerLazyStorage({ type: "lazy-missing", package: "@example/lazymissing", load: notFound });
    const layerError = await createStorage({ type: "memory", options: { lazymissing: true } }).then(() => new Error("expected a StorageConfigError"), (e: unknown) => e as Error);
    expect(layerError).toBeInstanceOf(StorageConfigError);
    expect(layerError.message).toContain("storage.options.lazymissing: the lazymissing layer needs the package @example/lazymissing; install it with: npm install @example/lazymissing");
    const typeError = await createStorage({ type: "lazy-missing" }).then(() => new Error("expected a StorageConfigError"), (e: unknown) => e as Error);
    expect(typeError).toBeInstanceOf(StorageConfigError);
    expect(typeError.message).toContain("install it with: npm install @example/lazymissing");
  });

  it("a missing dependency of an installed package is a load failure, not a missing package", async () => {
    registerLazyStorage({
      type: "lazy-broken",
      package: "@example/lazy-broken",
      load: () => Promise.reject(Object.assign(new Error("Cannot find package 'left-pad' imported from /app/node_modules/@example/lazy-broken/index.js"), { code: "ERR_MODULE_NOT_FOUND" })),
    });
    const error = await createStorage({ type: "lazy-broken" }).then(() => new Error("expected a StorageConfigError"), (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(StorageConfigError);
    expect(error.message).toContain("Loading @example/lazy-broken failed: Cannot find package 'left-pad'");
    expect(error.message).not.toContain("npm install");
  });

  it("rejects malformed lazy plugins", () => {
    expect(() => registerLazyStorage({ type: "x", package: "p" } as never)).toThrow(/registerLazyStorage needs/);
    expect(() => registerLazyLayer({ name: "x", load: async () => ({}) } as never)).toThrow(/registerLazyLayer needs/);
  });
});

describe("definePlugin", () => {
  it("types create's config from fields and required, and validates it at run time as any plugin", async () => {
    const seen: unknown[] = [];
    registerStorage(
      definePlugin({
        type: "typed",
        fields: { name: "string", size: "size", mode: { enum: ["a", "b"] }, token: "secret" },
        required: ["name"],
        create(config) {
          expectTypeOf(config.name).toEqualTypeOf<string>();
          expectTypeOf(config.size).toEqualTypeOf<number | undefined>();
          expectTypeOf(config.mode).toEqualTypeOf<"a" | "b" | undefined>();
          expectTypeOf(config.token).toEqualTypeOf<Secret | undefined>();
          expectTypeOf(config.timeout).toEqualTypeOf<number | undefined>();
          // @ts-expect-error not a field of this plugin
          void config.nmae;
          seen.push({ name: config.name.toUpperCase(), size: config.size, mode: config.mode, token: Secret.isSecret(config.token) });
          return new MemoryStorage();
        },
      }),
    );
    await createStorage({ type: "typed", name: "x", size: "1KiB", mode: "b", token: "t" });
    expect(seen).toStrictEqual([{ name: "X", size: 1024, mode: "b", token: true }]);
    await expect(createStorage({ type: "typed", name: "x", mode: "c" } as never)).rejects.toThrow(/storage\.mode: expected one of a, b/);
  });
});
