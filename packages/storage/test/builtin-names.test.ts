/**
 * Issue 17 item 4: core names no package, so the built-in names that do not follow its
 * `@pepperpy/storage-<name>` convention (`file` → -fs, `compression` → -compress,
 * `encryption` → -crypto, `tracing` → -otel, `postgresql` → -postgres) are the umbrella's to
 * register. Importing `@pepperpy/storage` alone must make each of them work from config.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageConfigError, createStorage, getLayerPlugin, getStoragePlugin, parseConfig, registeredLayers, registeredStorageTypes, resolveStoragePlugin } from "@pepperpy/storage";
import { afterAll, describe, expect, it } from "vitest";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("built-in names outside the convention, through the umbrella", () => {
  it("type: file, with compression and encryption, builds from config", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-builtin-"));
    dirs.push(dir);
    const storage = await createStorage(
      await parseConfig(`storage:\n  type: file\n  path: ${dir}\n  options:\n    compression: true\n    encryption: { key: correct-horse-battery-staple }\n`),
    );
    expect(storage.name).toBe("compress(crypto(file))");
    await storage.put("k", { ok: true });
    expect(await storage.get("k")).toStrictEqual({ ok: true });
    await storage.close();
  });

  it("tracing is registered lazily: listed at once, its package loaded on first use", async () => {
    expect(registeredLayers()).toContain("tracing");
    expect(getLayerPlugin("tracing")).toBeUndefined();
    // Disabled: nothing loads.
    const off = await createStorage({ type: "memory", options: { tracing: false } });
    expect(off.name).toBe("memory");
    expect(getLayerPlugin("tracing")).toBeUndefined();
    const on = await createStorage({ type: "memory", options: { tracing: { record_keys: false } } });
    expect(on.name).toBe("tracing(memory)");
    expect(getLayerPlugin("tracing")?.order).toBe(5);
    await on.put("k", "v");
    expect(await on.get("k")).toBe("v");
  });

  it("postgresql is registered lazily as the postgres package's alias", async () => {
    expect(registeredStorageTypes()).toContain("postgresql");
    expect(getStoragePlugin("postgresql")).toBeUndefined();
    const plugin = await resolveStoragePlugin("postgresql");
    expect(plugin.type).toBe("postgres");
    expect(getStoragePlugin("postgresql")).toBe(plugin);
  });

  it("a misspelt built-in layer is refused with the known names and a did-you-mean", async () => {
    const error = await createStorage({ type: "memory", options: { compresion: true } as never }).then(() => new Error("expected a StorageConfigError"), (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(StorageConfigError);
    expect(error.message).toMatch(/storage\.options\.compresion: unknown option \(did you mean compression\?\) \(known: cache, compression, default_ttl, encryption, max_size, metrics, retry, timeout, tracing\)/);
  });
});
