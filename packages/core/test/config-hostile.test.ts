// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are what these tests are about
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { type ResolvedStorageConfig, Secret, type StorageConfig, StorageConfigError, type StorageError, createStorage, loadConfig, parseConfig, parseSize, registerLayer, registerStorage, resolveConfig } from "@pepperpy/storage-core";
import { layerPlugin as encryptionPlugin } from "@pepperpy/storage-crypto";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Issue 15 items 9, 10 and 11: config text and names that try to take the loader over.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pepperpy-config-hostile-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const created: ResolvedStorageConfig[] = [];
registerStorage({
  type: "hostile-kinds",
  fields: { path: "string", secretKey: "secret", count: "integer", capacity: "size" },
  create(config) {
    created.push(config);
    return new MemoryStorage();
  },
});

registerLayer(encryptionPlugin);
registerStorage({
  type: "hostile-throws",
  fields: { label: "string", count: "integer", enabled: "boolean" },
  create(config) {
    let cause: unknown;
    try {
      new URL(`http://[${config.label as string}]/`);
    } catch (error) {
      cause = error;
    }
    throw new StorageConfigError(`label ${config.label as string} refused: 3 of 10 failed`, { cause });
  },
});

async function configError(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StorageConfigError);
    return error as StorageError;
  }
  throw new Error("expected a StorageConfigError");
}

describe("placeholder injection (issue 15 item 9)", () => {
  it("literal text shaped like the loader's placeholder stays literal and never receives another variable's value", async () => {
    const config = await parseConfig("storage:\n  type: hostile-kinds\n  secret_key: ${KEY}\n  path: /srv/__pepperpy_env_0__/data\n", {
      env: { KEY: "SUPERSECRET-key-material" },
    });
    expect(config.path).toBe("/srv/__pepperpy_env_0__/data");
    expect(Secret.reveal(config.secretKey)).toBe("SUPERSECRET-key-material");
  });

  it("a placeholder-shaped literal with an index past the references is kept, not dropped", async () => {
    const config = await parseConfig("storage:\n  type: hostile-kinds\n  path: a__pepperpy_env_7__b\n", { env: {} });
    expect(config.path).toBe("a__pepperpy_env_7__b");
  });

  it("text that YAML escapes turn into ${VAR} is literal: only references written as such are interpolated", async () => {
    const config = await parseConfig('storage:\n  type: hostile-kinds\n  path: "/x/\\x24{KEY}"\n', { env: { KEY: "SUPERSECRET" } });
    expect(config.path).toBe("/x/${KEY}");
  });

  it("a value from ${VAR} that fails validation is shown as (from ${VAR}), never the value", async () => {
    const secret = "SUPERSECRET-0123456789";
    const error = await configError(parseConfig("storage:\n  type: hostile-kinds\n  count: ${STORAGE_KEY}\n", { env: { STORAGE_KEY: secret } }));
    expect(error.message).toContain("storage.count");
    expect(error.message).toContain("(from ${STORAGE_KEY})");
    expect(error.message).not.toContain("SUPERSECRET");
    const mixed = await configError(parseConfig('storage:\n  type: hostile-kinds\n  capacity: "x${A}y"\n', { env: { A: secret } }));
    expect(mixed.message).toContain('(from "x${A}y")');
    expect(mixed.message).not.toContain("SUPERSECRET");
    // In a layer's options too.
    const layer = await configError(parseConfig("storage:\n  type: memory\n  options:\n    cache: ${CACHE}\n", { env: { CACHE: secret } }));
    expect(layer.message).toContain("(from ${CACHE})");
    expect(layer.message).not.toContain("SUPERSECRET");
  });
});

describe("values from ${VAR} in errors (issue 15 item 9, audit G3)", () => {
  // Lowercase, so it is also a valid package-name segment: the "install @pepperpy/storage-…"
  // hint would print it too.
  const secret = "supersecret-123";
  const env = { X: secret, KEY: "correct horse battery staple" };

  function expectHidden(error: Error): void {
    expect(error.message).toContain("(from ${X})");
    for (const text of [error.message, error.stack ?? "", inspect(error, { depth: 10 }), JSON.stringify(error)]) {
      expect(text.toLowerCase()).not.toContain("supersecret");
    }
  }

  it("an unknown type from ${VAR} is shown as (from ${VAR}), at the top level", async () => {
    const error = await configError(parseConfig("storage:\n  type: ${X}\n", { env }));
    expect(error.message).toContain("storage.type: unknown storage type (from ${X})");
    expectHidden(error);
    // A value that is not a package name, too.
    const upper = await configError(parseConfig("storage:\n  type: ${X}\n", { env: { X: "SUPERSECRET-123" } }));
    expectHidden(upper);
  });

  it("an unknown type from ${VAR} is shown as (from ${VAR}), in a composite backend", async () => {
    const error = await configError(parseConfig("storage:\n  type: composite\n  backends:\n    - type: memory\n    - type: ${X}\n", { env }));
    expect(error.message).toContain("storage.backends[1].type: unknown storage type (from ${X})");
    expectHidden(error);
  });

  it("an unknown type from ${VAR} is shown as (from ${VAR}), in a mount", async () => {
    const error = await configError(parseConfig('storage:\n  type: mount\n  mounts:\n    "": { type: memory }\n    a/: { type: ${X} }\n', { env }));
    expect(error.message).toContain('storage.mounts."a/".type: unknown storage type (from ${X})');
    expectHidden(error);
  });

  it("a layer constructor's error quoting a value from ${VAR} shows (from ${VAR}) instead", async () => {
    // EncryptedStorage says `activeKeyId "<value>" is not in keys`: the value came from X.
    const config = await parseConfig("storage:\n  type: memory\n  options:\n    encryption: { keys: { a: ${KEY} }, active_key_id: ${X} }\n", { env });
    const error = await configError(createStorage(config));
    expect(error.message).toContain("activeKeyId (from ${X}) is not in keys");
    expectHidden(error);
    // In a nested backend of a composite too, and also when the value is part of a longer one.
    const nested = await parseConfig(
      'storage:\n  type: composite\n  backends:\n    - type: memory\n    - type: memory\n      options:\n        encryption: { keys: { a: ${KEY} }, active_key_id: "id-${X}" }\n',
      { env },
    );
    const nestedError = await configError(createStorage(nested));
    expect(nestedError.message).toContain('activeKeyId (from "id-${X}") is not in keys');
    for (const text of [nestedError.message, inspect(nestedError, { depth: 10 })]) expect(text).not.toContain("supersecret");
  });

  it("the values are kept where printing the config cannot reach them", async () => {
    const config = await parseConfig("storage:\n  type: memory\n  options:\n    encryption: { key: ${KEY} }\n", { env });
    expect(inspect(config, { depth: 10, showHidden: true })).not.toContain("correct horse");
    expect(JSON.stringify(config)).not.toContain("correct horse");
  });

  it("a value from ${VAR} in a backend constructor's error, or in the error it caused, is replaced", async () => {
    const config = await parseConfig("storage:\n  type: hostile-throws\n  label: ${X}\n", { env });
    const error = await configError(createStorage(config));
    expect(error.message).toBe("label (from ${X}) refused: 3 of 10 failed");
    expectHidden(error);
    expect(inspect(error.cause)).toContain("Invalid URL");
  });

  it("a short value is replaced as a whole word only, so the rest of the message stays readable", async () => {
    const config = await parseConfig("storage:\n  type: hostile-throws\n  label: ${ONE}\n", { env: { ONE: "3" } });
    const error = await configError(createStorage(config));
    expect(error.message).toBe("label (from ${ONE}) refused: (from ${ONE}) of 10 failed");
    // Values read as numbers or booleans are not text of the config: never looked for.
    const numbers = await parseConfig("storage:\n  type: hostile-throws\n  label: x\n  count: ${ONE}\n  enabled: ${YES}\n", { env: { ONE: "3", YES: "true" } });
    expect((await configError(createStorage(numbers))).message).toBe("label x refused: 3 of 10 failed");
  });
});

describe("prototype names (issue 15 item 10)", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    it(`type: ${name} is an unknown type, not an inherited member`, async () => {
      const error = await configError(parseConfig(`storage:\n  type: ${name}\n`));
      expect(error.message).toContain(`unknown storage type "${name}"`);
      expect(error.message).not.toContain("native code");
      const fromCode = await configError(createStorage({ type: name } as unknown as StorageConfig));
      expect(fromCode.message).toContain(`unknown storage type "${name}"`);
    });

    it(`options: { ${name}: true } is an unknown option`, async () => {
      const error = await configError(parseConfig(`storage:\n  type: memory\n  options:\n    ${name}: true\n`));
      expect(error.message).toContain(`storage.options.${name}: unknown option`);
      expect(error.message).not.toContain("native code");
    });

    it(`a top-level field ${name} is an unknown field, not "given twice"`, async () => {
      const error = await configError(parseConfig(`storage:\n  type: memory\n  ${name}: 1\n`));
      expect(error.message).toContain(`storage.${name}: unknown field`);
      expect(error.message).not.toContain("given twice");
    });

    it(`a layer option field ${name} is an unknown field`, async () => {
      const error = await configError(parseConfig(`storage:\n  type: memory\n  options:\n    retry: { ${name}: 1 }\n`));
      expect(error.message).toContain(`storage.options.retry.${name}: unknown field`);
    });
  }

  it("a size unit named after an Object member is not a size", async () => {
    expect(parseSize("1constructor")).toBeUndefined();
    expect(parseSize("2toString")).toBeUndefined();
    const error = await configError(resolveConfig({ type: "hostile-kinds", capacity: "3constructor" }));
    expect(error.message).toContain("storage.capacity");
  });

  it("__proto__ in a config object never changes the prototype of what is returned", async () => {
    const input = JSON.parse('{"type":"memory","__proto__":{"polluted":true}}');
    const error = await configError(resolveConfig(input));
    expect(error.message).toContain("storage.__proto__: unknown field");
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe("config size (issue 15 item 11)", () => {
  it("a config over 1 MiB is refused with a StorageConfigError before it is parsed", async () => {
    const text = `storage:\n  type: memory\n# ${"x".repeat(1024 * 1024)}\n`;
    const error = await configError(parseConfig(text));
    expect(error.message).toMatch(/config is \d+ bytes, more than the limit of 1048576 bytes/);
    // The limit can be raised by the caller.
    const config = await parseConfig(text, { maxBytes: 2 * 1024 * 1024 });
    expect(config.type).toBe("memory");
  });

  it("a 50 MB config file fails fast, without reading it all", async () => {
    const file = join(dir, "huge.yaml");
    const handle = await open(file, "w");
    const line = `    k${"v".repeat(60)}: ${"y".repeat(60)}\n`;
    const chunk = Buffer.from(line.repeat(Math.ceil((1024 * 1024) / line.length)));
    await handle.write("storage:\n  type: memory\n  headers:\n");
    for (let written = 0; written < 50 * 1024 * 1024; written += chunk.byteLength) await handle.write(chunk);
    await handle.close();
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const error = await configError(loadConfig(file));
    const elapsed = performance.now() - started;
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/more than the limit of 1048576 bytes/);
    expect(elapsed).toBeLessThan(500);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it("a config just under the limit still loads", async () => {
    const file = join(dir, "big-ok.yaml");
    await writeFile(file, `storage:\n  type: memory\n# ${"x".repeat(1000 * 1000)}\n`);
    expect((await loadConfig(file)).type).toBe("memory");
  });
});
