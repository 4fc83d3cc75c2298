// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are what these tests are about
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Secret,
  CompositeStorage,
  type ResolvedStorageConfig,
  StorageConfigError,
  type StorageError,
  createStorage,
  interpolateEnv,
  loadConfig,
  parseConfig,
  parseDuration,
  parseSize,
  registerLayer,
  registerStorage,
  resolveConfig,
  toCamelCase,
} from "@pepperpy/storage-core";
import { layerPlugin as compressionPlugin } from "@pepperpy/storage-compress";
import { layerPlugin as encryptionPlugin } from "@pepperpy/storage-crypto";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pepperpy-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Core alone loads a type or layer from @pepperpy/storage-<name>; a built-in named otherwise
// is registered as a core-only user does (the umbrella @pepperpy/storage registers them itself).
registerLayer(compressionPlugin);
registerLayer(encryptionPlugin);

// A third-party backend with one field of every kind, to test conversion and validation.
const created: ResolvedStorageConfig[] = [];
registerStorage({
  type: "kinds",
  fields: {
    path: "string",
    region: "string",
    secretKey: "secret",
    count: "integer",
    ratio: "number",
    verbose: "boolean",
    capacity: "size",
    ttl: "duration",
    mode: { enum: ["fast", "safe"] },
    headers: "string-map",
    tokens: "secret-map",
  },
  create(config) {
    created.push(config);
    return new MemoryStorage({ timeout: config.timeout, maxSize: config.maxSize });
  },
});

async function configError(input: Promise<unknown> | (() => Promise<unknown>)): Promise<StorageError> {
  try {
    await (typeof input === "function" ? input() : input);
  } catch (error) {
    expect(error).toBeInstanceOf(StorageConfigError);
    return error as StorageError;
  }
  throw new Error("expected a StorageConfigError, but it resolved");
}

describe("sizes and durations", () => {
  it.each([
    [1024, 1024],
    ["1024", 1024],
    ["10MB", 10_000_000],
    ["10 mb", 10_000_000],
    ["512KiB", 524_288],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["2k", 2048],
    ["1TB", 1e12],
  ])("parseSize(%j) = %d", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });
  it.each(["ten", "10XB", "-1", -5, Number.NaN, "", null, "1e3"])("parseSize(%j) is undefined", (input) => {
    expect(parseSize(input)).toBeUndefined();
  });
  it.each([
    [30, "seconds", 30_000],
    [1.5, "seconds", 1500],
    [250, "milliseconds", 250],
    ["500ms", "seconds", 500],
    ["30s", "seconds", 30_000],
    ["5m", "seconds", 300_000],
    ["2h", "milliseconds", 7_200_000],
    ["30d", "seconds", 2_592_000_000],
    ["15", "seconds", 15_000],
  ] as const)("parseDuration(%j, %s) = %d", (input, unit, ms) => {
    expect(parseDuration(input, unit)).toBe(ms);
  });
  it.each(["soon", "-1s", -1, "5 parsecs", Number.POSITIVE_INFINITY])("parseDuration(%j) is undefined", (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
  it("toCamelCase", () => {
    expect(toCamelCase("max_size")).toBe("maxSize");
    expect(toCamelCase("read-repair")).toBe("readRepair");
    expect(toCamelCase("maxSize")).toBe("maxSize");
  });
});

describe("loadConfig with a YAML file in the seed's format", () => {
  it("builds a working storage with every seed option", async () => {
    const file = join(dir, "storage.yaml");
    await writeFile(
      file,
      [
        "storage:",
        "  type: memory            # file | fs | memory | s3 | composite | any registered type",
        "  options:",
        "    compression: true",
        "    encryption: { key: ${TEST_STORAGE_KEY} }",
        "    cache: { enabled: true, size: 1000 }",
        "    retry: { max: 3, delay: 1.0 }   # seconds in YAML",
        "    timeout: 30.0",
        "    max_size: 10MB",
        "",
      ].join("\n"),
    );
    const config = await loadConfig(file, { env: { TEST_STORAGE_KEY: "correct horse battery staple" } });
    expect(config.type).toBe("memory");
    expect(config.timeout).toBe(30_000);
    expect(config.maxSize).toBe(10_000_000);
    expect(config.options.cache).toMatchObject({ size: 1000 });
    expect(config.options.retry).toMatchObject({ max: 3, delay: 1000 });
    const storage = await createStorage(config);
    await storage.put("users/1", { name: "Ada" });
    await storage.put("notes/a", "hello");
    expect(await storage.get("users/1")).toStrictEqual({ name: "Ada" });
    expect(await storage.list()).toStrictEqual(["notes/a", "users/1"]);
    // Layers from outermost in: cache, compression, encryption, retry, then the backend.
    expect(storage.name).toMatch(/cache.*compress.*(encrypt|crypt).*retry.*memory/);
    // max_size goes to the backend (it limits stored bytes, after compression and encryption).
    expect((storage as unknown as { backend?: unknown }).backend).toBeDefined();
    await storage.close();
  });

  it("a plain memory config without options works and defaults are applied", async () => {
    const file = join(dir, "plain.yaml");
    await writeFile(file, "storage:\n  type: memory\n");
    const storage = await createStorage(await loadConfig(file));
    expect(storage).toBeInstanceOf(MemoryStorage);
    await storage.put("k", "v");
    expect(await storage.get("k")).toBe("v");
  });

  it("createStorage() without a config is an in-memory storage", async () => {
    const storage = await createStorage();
    expect(storage.name).toBe("memory");
    await storage.put("k", 1);
    expect(await storage.get("k")).toBe(1);
  });

  it("a composite of memory storages from YAML", async () => {
    const config = await parseConfig("storage:\n  type: composite\n  read_repair: false\n  max_size: 1KB\n  backends:\n    - type: memory\n    - { type: memory, timeout: 5 }\n");
    const storage = await createStorage(config);
    expect(storage).toBeInstanceOf(CompositeStorage);
    await storage.put("k", "v");
    expect(await storage.get("k")).toBe("v");
    await expect(storage.put("big", "x".repeat(2000))).rejects.toMatchObject({ code: "VALIDATION" });
  });

  it("a missing file or broken YAML is a StorageConfigError naming the file", async () => {
    const missing = await configError(loadConfig(join(dir, "nope.yaml")));
    expect(missing.message).toContain("nope.yaml");
    expect(missing.message).toContain("ENOENT");
    const file = join(dir, "broken.yaml");
    await writeFile(file, "storage:\n  type: [memory\n");
    expect((await configError(loadConfig(file))).message).toMatch(/broken\.yaml: invalid YAML/);
    const noSection = join(dir, "nosection.yaml");
    await writeFile(noSection, "type: memory\n");
    expect((await configError(loadConfig(noSection))).message).toMatch(/storage:/);
  });
});

describe("interpolation", () => {
  it("replaces ${VAR} and ${VAR:-default} everywhere", () => {
    const out = interpolateEnv({ a: "${A}", b: ["x-${B:-dflt}-y"], c: { d: "${EMPTY:-fallback}" }, n: 3 }, { A: "1", EMPTY: "" });
    expect(out).toStrictEqual({ a: "1", b: ["x-dflt-y"], c: { d: "fallback" }, n: 3 });
  });

  it("an unset variable without a default names the variable and the field", async () => {
    const error = await configError(parseConfig("storage:\n  type: kinds\n  path: ${UNSET_FOR_TEST}\n", { env: {} }));
    expect(error.message).toContain("UNSET_FOR_TEST");
    expect(error.message).toContain("storage.path");
  });

  it("interpolated values are converted by their kind", async () => {
    const config = await parseConfig(
      "storage:\n  type: kinds\n  capacity: ${CAP}\n  ttl: ${TTL:-90}\n  count: ${COUNT:-3}\n  ratio: ${RATIO}\n  verbose: ${VERBOSE}\n",
      { env: { CAP: "512KiB", RATIO: "0.25", VERBOSE: "true" } },
    );
    expect(config).toMatchObject({ capacity: 524_288, ttl: 90_000, count: 3, ratio: 0.25, verbose: true });
  });

  it("works inside YAML flow maps and never parses a value as YAML", async () => {
    const config = await parseConfig("storage:\n  type: kinds\n  headers: { a: ${A}, b: \"x${B:-y}z\" }\n  path: ${P}\n", {
      env: { A: "{ not: yaml }", P: "#not a comment" },
    });
    expect(config.headers).toStrictEqual({ a: "{ not: yaml }", b: "xyz" });
    expect(config.path).toBe("#not a comment");
  });
});

describe("field names and kinds", () => {
  it("accepts snake_case and camelCase", async () => {
    const snake = await parseConfig("storage:\n  type: kinds\n  secret_key: s1\n  max_size: 1MiB\n");
    const camel = await parseConfig("storage:\n  type: kinds\n  secretKey: s1\n  maxSize: 1MiB\n");
    // Secret fields arrive as a Secret (never printed), the value behind reveal().
    expect(Secret.reveal(snake.secretKey)).toBe("s1");
    expect(String(snake.secretKey)).toBe("[redacted]");
    expect(snake.maxSize).toBe(1024 * 1024);
    expect(camel).toStrictEqual(snake);
  });

  it("rejects a field given in both spellings", async () => {
    const error = await configError(resolveConfig({ type: "kinds", max_size: 1, maxSize: 2 }));
    expect(error.message).toMatch(/given twice/);
  });

  it("converts every kind", async () => {
    const config = await parseConfig(
      [
        "storage:",
        "  type: kinds",
        "  path: /data",
        "  count: 3",
        "  ratio: 0.5",
        "  verbose: true",
        "  capacity: 10MB",
        "  ttl: 1.5",
        "  mode: safe",
        "  headers: { a: b }",
        "  options: { timeout: 2, max_size: 512KiB }",
      ].join("\n"),
    );
    expect(config).toMatchObject({
      type: "kinds",
      path: "/data",
      count: 3,
      ratio: 0.5,
      verbose: true,
      capacity: 10_000_000,
      ttl: 1500,
      mode: "safe",
      headers: { a: "b" },
      timeout: 2000,
      maxSize: 524_288,
    });
  });

  it("plain objects in code take milliseconds", async () => {
    const config = await resolveConfig({ type: "kinds", timeout: 250, ttl: "2s" });
    expect(config.timeout).toBe(250);
    expect(config.ttl).toBe(2000);
  });

  it.each([
    ["unknown top-level field", "  colour: blue", /storage\.colour: unknown field \(known: .*path/],
    ["wrong type for a string", "  path: [1, 2]", /storage\.path: expected a non-empty string/],
    ["wrong type for an integer", "  count: many", /storage\.count: expected a non-negative integer, got "many"/],
    ["negative integer", "  count: -1", /storage\.count/],
    ["wrong type for a boolean", "  verbose: yes please", /storage\.verbose: expected true or false/],
    ["bad size", "  capacity: 10 parsecs", /storage\.capacity: expected a size/],
    ["bad duration", "  ttl: soon", /storage\.ttl: expected a duration in seconds/],
    ["bad enum", "  mode: turbo", /storage\.mode: expected one of fast, safe/],
    ["bad map", "  headers: [a]", /storage\.headers: expected a map of strings/],
    ["bad max_size", "  max_size: lots", /storage\.max_size: expected a size/],
    ["bad timeout under options", "  options: { timeout: forever }", /storage\.options\.timeout: expected a duration/],
    ["unknown option", "  options: { turbo: true }", /storage\.options\.turbo: unknown option \(known: .*max_size.*\); .*npm install @pepperpy\/storage-turbo/],
    ["bad layer value", "  options: { cache: 3 }", /storage\.options\.cache: expected true, false or an object/],
    ["bad enabled", "  options: { cache: { enabled: maybe } }", /storage\.options\.cache\.enabled: expected true or false/],
    ["options not an object", "  options: [1]", /storage\.options: expected an object/],
  ])("rejects %s with a StorageConfigError naming the field", async (_, line, message) => {
    const error = await configError(parseConfig(`storage:\n  type: kinds\n${line}\n`, { source: "test.yaml" }));
    expect(error.message).toMatch(message);
    expect(error.message).toContain("test.yaml");
  });

  it("rejects a missing or non-string type", async () => {
    expect((await configError(parseConfig("storage:\n  path: /x\n"))).message).toMatch(/storage\.type/);
    expect((await configError(resolveConfig({ type: 3 }))).message).toMatch(/storage\.type/);
    expect((await configError(resolveConfig("memory"))).message).toMatch(/expected an object/);
  });

  it("never prints secrets in messages", async () => {
    const secret = "sup3r-s3cret-value";
    const bad = await configError(resolveConfig({ type: "kinds", secretKey: { nested: secret } }));
    expect(bad.message).toContain("storage.secretKey");
    expect(bad.message).not.toContain(secret);
    expect(bad.message).toContain("(hidden)");
    const badMap = await configError(resolveConfig({ type: "kinds", tokens: [secret] }));
    expect(badMap.message).not.toContain(secret);
    // A secret next to an unrelated error is not echoed either.
    const other = await configError(parseConfig(`storage:\n  type: kinds\n  secret_key: ${secret}\n  count: x\n`));
    expect(other.message).not.toContain(secret);
  });
});

describe("unknown types", () => {
  it("lists the registered types and says how to install or register", async () => {
    // @ts-expect-error an unknown type does not compile either
    const error = await configError(createStorage({ type: "dynamodb" }));
    expect(error.message).toContain('unknown storage type "dynamodb"');
    for (const known of ["composite", "kinds", "mount"]) expect(error.message).toContain(known);
    expect(error.message).toContain("registerStorage");
    expect(error.message).toContain("install it with: npm install @pepperpy/storage-dynamodb");
  });

  it("resolves config to a frozen marker so it is not converted twice", async () => {
    const once = await resolveConfig({ type: "kinds", ttl: 5 }, { durationUnit: "seconds" });
    expect(once.ttl).toBe(5000);
    const twice = await resolveConfig(once);
    expect(twice).toBe(once);
    const before = created.length;
    await createStorage(once);
    expect(created.length).toBe(before + 1);
    expect(created.at(-1)!.ttl).toBe(5000);
  });
});

describe("layer options", () => {
  it("passes converted options to a registered third-party layer", async () => {
    const seen: Record<string, unknown>[] = [];
    registerLayer({
      name: "audit",
      order: 5,
      fields: { sink: "string", flushEvery: "duration" },
      required: ["sink"],
      create(backend, options) {
        seen.push(options);
        return backend;
      },
    });
    await createStorage(await parseConfig("storage:\n  type: memory\n  options:\n    audit: { sink: stdout, flush_every: 2 }\n"));
    expect(seen).toStrictEqual([{ sink: "stdout", flushEvery: 2000 }]);
    const missing = await configError(parseConfig("storage:\n  type: memory\n  options:\n    audit: true\n"));
    expect(missing.message).toMatch(/storage\.options\.audit\.sink: required/);
    const unknown = await configError(parseConfig("storage:\n  type: memory\n  options:\n    audit: { colour: red, sink: x }\n"));
    expect(unknown.message).toMatch(/storage\.options\.audit\.colour: unknown field \(known: flush_every, sink\)/);
    // Disabled layers are not built and their options are not checked.
    seen.length = 0;
    await createStorage(await parseConfig("storage:\n  type: memory\n  options:\n    audit: false\n    cache: { enabled: false, nonsense: 1 }\n"));
    expect(seen).toStrictEqual([]);
  });
});
