import { describe, expect, it } from "vitest";

describe("config errors name fields as the YAML writes them", () => {
  it("snake_case in the known list, with a did-you-mean", async () => {
    const { parseConfig } = await import("../src/index.js");
    await import("@pepperpy/storage-cache").then(async (m) => (await import("../src/index.js")).registerLayer(m.layerPlugin));
    const error = await parseConfig("storage:\n  type: memory\n  options:\n    cache: { max_byte: 10 }\n").catch((e: unknown) => e as Error);
    expect(error.message).toMatch(/storage\.options\.cache\.max_byte: unknown field \(did you mean max_bytes\?\) \(known: cache_size, max_bytes, negative, size, ttl\)/);
  });
});
