import { CompositeStorage, createStorage, parseConfig, StorageConfigError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";

function clock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms: number) => {
      offset += ms;
    },
  };
}

describe("expiry in the core", () => {
  it("defaultTtl applies to writes without ttl; ttl: Infinity opts out", async () => {
    const c = clock();
    const s = new MemoryStorage({ defaultTtl: 1000, clock: c.now });
    await s.put("a", "1");
    await s.put("b", "2", { ttl: Number.POSITIVE_INFINITY });
    await s.put("c", "3", { ttl: 5000 });
    expect((await s.stat("a")).expiresAt).toBeInstanceOf(Date);
    expect((await s.stat("b")).expiresAt).toBeUndefined();
    c.advance(1000);
    expect(await s.list()).toStrictEqual(["b", "c"]);
    c.advance(4000);
    expect(await s.list()).toStrictEqual(["b"]);
  });

  it("rejects a bad defaultTtl or clock at construction", () => {
    expect(() => new MemoryStorage({ defaultTtl: 0 })).toThrow(/defaultTtl/);
    expect(() => new MemoryStorage({ clock: 5 as unknown as () => number })).toThrow(/clock/);
  });

  it("a composite purge counts each key once, not once per backend", async () => {
    const c = clock();
    const s = new CompositeStorage([new MemoryStorage({ clock: c.now }), new MemoryStorage({ clock: c.now })], { clock: c.now });
    await s.putMany([["p/a", "1"], ["p/b", "2"], ["p/c", "3"]], { ttl: 1000 });
    c.advance(1000);
    expect(await s.purgeExpired("p/")).toBe(3);
    expect(await s.backends[1]!.purgeExpired()).toBe(0);
  });

  it("config default_ttl takes durations (\"1h\", seconds in YAML) and applies to the outermost storage", async () => {
    const cfg = await parseConfig("storage:\n  type: memory\n  default_ttl: 1h\n");
    expect(cfg.defaultTtl).toBe(3_600_000);
    const secs = await parseConfig("storage:\n  type: memory\n  options:\n    default_ttl: 30\n");
    expect(secs.defaultTtl).toBe(30_000);
    const s = await createStorage(cfg);
    const before = Date.now();
    const info = await s.put("k", "v");
    expect(info.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
    expect((await s.stat("k")).expiresAt!.getTime()).toBe(info.expiresAt!.getTime());
    const inCode = await createStorage({ type: "memory", defaultTtl: 500 });
    expect((await inCode.put("k", "v")).expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 500);
  });

  it("config rejects a bad default_ttl naming the field", async () => {
    await expect(parseConfig("storage:\n  type: memory\n  default_ttl: soon\n")).rejects.toThrow(/default_ttl/);
    await expect(createStorage({ type: "memory", defaultTtl: 0 })).rejects.toBeInstanceOf(StorageConfigError);
  });
});
