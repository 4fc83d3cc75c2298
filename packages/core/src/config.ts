import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { StorageConfigError, isStorageError } from "./errors.js";
import { didYouMean, toSnakeCase } from "./options.js";
import {
  type FieldKind,
  type ResolvedStorageConfig,
  resolveLayerPlugin,
  resolveStoragePlugin,
  getLayerPlugin,
  BUILTIN_LAYER_PACKAGES,
  registeredLayers,
  registerStorage,
  type StoragePlugin,
  type LayerPlugin,
} from "./registry.js";
import { CompositeStorage } from "./composite.js";
import type { Storage } from "./types.js";

/** The input shape of a storage config, as written in YAML or code (before validation). */
export interface StorageConfigInput {
  type: string;
  options?: Record<string, unknown>;
  [field: string]: unknown;
}

/** How bare numbers in `duration` fields are read. */
export type DurationUnit = "seconds" | "milliseconds";

const RESOLVED = Symbol.for("@pepperpy/storage.resolved-config");

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * Parses a size: a number of bytes, or a string like `"10MB"` (decimal: 10 000 000) or
 * `"10MiB"` (binary: 10 485 760). Returns `undefined` when it is not a size.
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] || "b").toLowerCase()];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a duration to milliseconds: a bare number in `unit` (seconds in YAML), or a
 * string like `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"30d"`. Returns `undefined` when invalid.
 */
export function parseDuration(value: unknown, unit: DurationUnit = "seconds"): number | undefined {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) return undefined;
    return unit === "seconds" ? Math.round(value * 1000) : value;
  }
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] ? Math.round(n * DURATION_UNITS[m[2]]!) : unit === "seconds" ? Math.round(n * 1000) : n;
}

/** `max_size` → `maxSize`. */
export function toCamelCase(name: string): string {
  return name.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed document. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv = process.env, path = "storage"): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (fallback !== undefined) return fallback;
      throw new StorageConfigError(`${path}: environment variable ${name} is not set`, { operation: "loadConfig" });
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env, `${path}.${k}`)]));
  }
  return value;
}

const stringMap = z.record(z.string(), z.string());

function describe(value: unknown, secret: boolean): string {
  if (secret) return "(hidden)";
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** A number written as text (`${RETRIES}` interpolates to a string), else the value unchanged. */
function fromNumericString(value: unknown): unknown {
  return typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
}

/** Converts one field by its kind or throws a `StorageConfigError` naming the field. */
function convertField(kind: FieldKind, value: unknown, field: string, unit: DurationUnit): unknown {
  const bad = (expected: string, secret = false): never => {
    throw new StorageConfigError(`${field}: expected ${expected}, got ${describe(value, secret)}`, { operation: "createStorage" });
  };
  if (typeof kind === "object") {
    if (typeof value !== "string" || !kind.enum.includes(value)) bad(`one of ${kind.enum.join(", ")}`);
    return value;
  }
  switch (kind) {
    case "string":
      return z.string().min(1).safeParse(value).success ? value : bad("a non-empty string");
    case "secret":
      return z.string().min(1).safeParse(value).success ? value : bad("a non-empty string", true);
    case "number": {
      const n = fromNumericString(value);
      return z.number().finite().safeParse(n).success ? n : bad("a number");
    }
    case "integer": {
      const n = fromNumericString(value);
      return z.number().int().nonnegative().safeParse(n).success ? n : bad("a non-negative integer");
    }
    case "boolean": {
      // Strings come from `${VAR}` interpolation, which always yields text.
      const b = value === "true" ? true : value === "false" ? false : value;
      return typeof b === "boolean" ? b : bad("true or false");
    }
    case "size": {
      const n = parseSize(value);
      return n === undefined ? bad('a size such as 1048576, "10MB" or "512KiB"') : n;
    }
    case "duration": {
      const n = parseDuration(value, unit);
      return n === undefined ? bad(unit === "seconds" ? 'a duration in seconds, or "500ms", "30s", "5m"' : 'a duration in milliseconds, or "30s"') : n;
    }
    case "string-map":
      return stringMap.safeParse(value).success ? value : bad("a map of strings");
    case "secret-map":
      return stringMap.safeParse(value).success ? value : bad("a map of strings", true);
    case "storage-list":
      return Array.isArray(value) && value.length > 0 ? value : bad("a non-empty list of storage configs");
  }
}

/** Validates an object against field kinds; unknown fields are rejected. */
function convertFields(
  raw: Record<string, unknown>,
  kinds: Record<string, FieldKind>,
  path: string,
  unit: DurationUnit,
  skip: ReadonlySet<string> = new Set(),
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    const camel = toCamelCase(name);
    if (skip.has(camel)) continue;
    const kind = kinds[camel];
    if (kind === undefined) {
      // Named as the docs and the YAML write them (snake_case); a code config in camelCase.
      const known = Object.keys(kinds)
        .map((k) => (unit === "seconds" ? toSnakeCase(k) : k))
        .sort();
      const hint = didYouMean(name, known);
      throw new StorageConfigError(`${path}.${name}: unknown field${hint}${known.length ? ` (known: ${known.join(", ")})` : ""}`, {
        operation: "createStorage",
      });
    }
    if (camel in out) throw new StorageConfigError(`${path}.${name}: given twice (snake_case and camelCase)`, { operation: "createStorage" });
    if (value === null || value === undefined) continue;
    out[camel] = convertField(kind, value, `${path}.${name}`, unit);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const COMMON_FIELDS: Record<string, FieldKind> = { timeout: "duration", maxSize: "size" };

/**
 * Validates a storage config and returns it resolved: camelCase, sizes in bytes,
 * durations in milliseconds, each layer's options checked against its plugin.
 * Loads built-in plugin packages on demand. Throws `StorageConfigError` naming the field.
 *
 * `timeout` and `max_size` are accepted both at the top level and under `options`.
 */
export async function resolveConfig(
  input: unknown,
  opts: { durationUnit?: DurationUnit; path?: string } = {},
): Promise<ResolvedStorageConfig> {
  if (isPlainObject(input) && (input as { [RESOLVED]?: boolean })[RESOLVED]) return input as ResolvedStorageConfig;
  const unit = opts.durationUnit ?? "milliseconds";
  const path = opts.path ?? "storage";
  if (!isPlainObject(input)) throw new StorageConfigError(`${path}: expected an object with a "type"`, { operation: "createStorage" });
  const type = input.type;
  if (typeof type !== "string" || type.length === 0) {
    throw new StorageConfigError(`${path}.type: expected a storage type such as "file", "memory" or "s3"`, { operation: "createStorage" });
  }
  const plugin = await resolveStoragePlugin(type, `${path}.type`);
  const rawOptions = input.options ?? {};
  if (!isPlainObject(rawOptions)) throw new StorageConfigError(`${path}.options: expected an object`, { operation: "createStorage" });

  const fields = convertFields(input, { ...COMMON_FIELDS, ...(plugin.fields ?? {}) }, path, unit, new Set(["type", "options"]));
  for (const req of plugin.required ?? []) {
    if (fields[req] === undefined) throw new StorageConfigError(`${path}.${req}: required for type "${type}"`, { operation: "createStorage" });
  }
  if (Array.isArray(fields.backends)) {
    fields.backends = await Promise.all(
      (fields.backends as unknown[]).map((b, i) => resolveConfig(b, { durationUnit: unit, path: `${path}.backends[${i}]` })),
    );
  }

  const layerOptions: Record<string, Record<string, unknown> | false> = {};
  for (const [rawName, rawValue] of Object.entries(rawOptions)) {
    const name = toCamelCase(rawName);
    const field = `${path}.options.${rawName}`;
    if (name in COMMON_FIELDS) {
      if (rawValue !== null && rawValue !== undefined) fields[name] = convertField(COMMON_FIELDS[name]!, rawValue, field, unit);
      continue;
    }
    if (!(name in BUILTIN_LAYER_PACKAGES) && !getLayerPlugin(name)) {
      const known = [...new Set([...Object.keys(BUILTIN_LAYER_PACKAGES), ...registeredLayers(), "timeout", "max_size"])].sort();
      throw new StorageConfigError(`${field}: unknown option (known: ${known.join(", ")})`, { operation: "createStorage" });
    }
    let value: Record<string, unknown> | false;
    if (rawValue === false || rawValue === null || rawValue === undefined) value = false;
    else if (rawValue === true) value = {};
    else if (isPlainObject(rawValue)) {
      if (rawValue.enabled === false) value = false;
      else {
        if (rawValue.enabled !== undefined && rawValue.enabled !== true) {
          throw new StorageConfigError(`${field}.enabled: expected true or false, got ${describe(rawValue.enabled, false)}`, { operation: "createStorage" });
        }
        value = rawValue;
      }
    } else {
      throw new StorageConfigError(`${field}: expected true, false or an object, got ${describe(rawValue, false)}`, { operation: "createStorage" });
    }
    if (value === false) {
      layerOptions[name] = false;
      continue;
    }
    const layer = await resolveLayerPlugin(name, field);
    if (!layer) throw new StorageConfigError(`${field}: unknown layer "${name}"`, { operation: "createStorage" });
    const converted = convertFields(value, { ...(layer.fields ?? {}) }, field, unit, new Set(["enabled"]));
    for (const req of layer.required ?? []) {
      if (converted[req] === undefined) throw new StorageConfigError(`${field}.${req}: required when ${name} is enabled`, { operation: "createStorage" });
    }
    layerOptions[name] = converted;
  }

  const resolved: ResolvedStorageConfig = { ...fields, type, options: layerOptions };
  Object.defineProperty(resolved, RESOLVED, { value: true, enumerable: false });
  return resolved;
}

/**
 * Reads a YAML config file and returns its `storage:` section resolved (see
 * {@link resolveConfig}): `${ENV}` variables interpolated, snake_case or camelCase,
 * durations in seconds, sizes like `10MB`. Throws `StorageConfigError` naming the file
 * and field.
 */
export async function loadConfig(file: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ResolvedStorageConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new StorageConfigError(`Cannot read config file ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, {
      cause,
      operation: "loadConfig",
    });
  }
  return parseConfig(text, { ...opts, source: file });
}

const ENV_PLACEHOLDER = "__pepperpy_env_";
const PLACEHOLDER_RE = /__pepperpy_env_(\d+)__/g;

/** Puts the `${VAR}` references hidden by `parseConfig` back into every string of the document. */
function restoreEnvRefs(value: unknown, refs: readonly string[]): unknown {
  const restore = (s: string) => s.replace(PLACEHOLDER_RE, (_, i: string) => refs[Number(i)] ?? "");
  if (typeof value === "string") return restore(value);
  if (Array.isArray(value)) return value.map((v) => restoreEnvRefs(v, refs));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [restore(k), restoreEnvRefs(v, refs)]));
  }
  return value;
}

/** Parses YAML text as {@link loadConfig} does a file. */
export async function parseConfig(text: string, opts: { env?: NodeJS.ProcessEnv; source?: string } = {}): Promise<ResolvedStorageConfig> {
  const source = opts.source ?? "config";
  let doc: unknown;
  // `${VAR}` references are swapped for plain placeholders while the YAML is parsed, so
  // they work inside flow maps (`encryption: { key: ${STORAGE_KEY} }`, where `{` and `}`
  // would otherwise be YAML syntax) and values from the environment are never parsed as YAML.
  const refs: string[] = [];
  const protectedText = text.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}\n]*)?\}/g, (ref) => `${ENV_PLACEHOLDER}${refs.push(ref) - 1}__`);
  try {
    doc = restoreEnvRefs(parseYaml(protectedText), refs);
  } catch (cause) {
    throw new StorageConfigError(`${source}: invalid YAML: ${(cause as Error).message.split("\n")[0]}`, { cause, operation: "loadConfig" });
  }
  if (!isPlainObject(doc) || !isPlainObject(doc.storage)) {
    throw new StorageConfigError(`${source}: expected a top-level "storage:" section`, { operation: "loadConfig" });
  }
  try {
    const section = interpolateEnv(doc.storage, opts.env ?? process.env, "storage");
    return await resolveConfig(section, { durationUnit: "seconds", path: "storage" });
  } catch (error) {
    if (isStorageError(error, "CONFIG")) {
      throw new StorageConfigError(`${source}: ${error.detail}`, { cause: error.cause, operation: "loadConfig" });
    }
    throw error;
  }
}

/**
 * Builds a storage from a config: the backend of `type`, wrapped in the layers named
 * under `options` in the order of SPEC §5 (outermost first: metrics, cache, compression,
 * encryption, retry). Without a config: an in-memory storage.
 *
 * Plain objects use milliseconds for durations; configs from {@link loadConfig} are
 * already resolved.
 *
 * @example
 * const storage = await createStorage(await loadConfig("storage.yaml"));
 */
export async function createStorage(config?: StorageConfigInput | ResolvedStorageConfig): Promise<Storage> {
  const resolved = await resolveConfig(config ?? { type: "memory" });
  const plugin = await resolveStoragePlugin(resolved.type);
  const enabled: { order: number; layer: LayerPlugin; options: Record<string, unknown> }[] = [];
  for (const [name, options] of Object.entries(resolved.options)) {
    if (options === false) continue;
    const layer = await resolveLayerPlugin(name);
    if (!layer) throw new StorageConfigError(`storage.options.${name}: unknown layer`, { operation: "createStorage" });
    enabled.push({ order: layer.order, layer, options });
  }
  // `max_size` limits the values users store, so it belongs to the outermost storage: on
  // the backend it would count compressed or encrypted bytes instead.
  const backendConfig = enabled.length > 0 ? { ...resolved, maxSize: undefined } : resolved;
  let storage: Storage = await plugin.create(backendConfig, { createStorage });
  // Innermost (highest order) first.
  enabled.sort((a, b) => b.order - a.order);
  for (let i = 0; i < enabled.length; i++) {
    const { layer, options } = enabled[i]!;
    const outermost = i === enabled.length - 1;
    // The config's timeout is the default of a whole call, so layers get it too (the
    // outermost one then bounds the call, retries and sleeps included); a layer's own
    // `timeout` field, if it has one, wins.
    const inherited: Record<string, unknown> = {};
    if (resolved.timeout !== undefined) inherited.timeout = resolved.timeout;
    if (outermost && resolved.maxSize !== undefined) inherited.maxSize = resolved.maxSize;
    storage = await layer.create(storage, { ...inherited, ...options });
  }
  return storage;
}

/** Config `type: composite`: `backends` is a list of storage configs; `read_repair` defaults to true. */
export const compositePlugin: StoragePlugin = {
  type: "composite",
  fields: { backends: "storage-list", readRepair: "boolean" },
  required: ["backends"],
  async create(config, ctx) {
    const backends = await Promise.all((config.backends as ResolvedStorageConfig[]).map((c) => ctx.createStorage(c)));
    return new CompositeStorage(backends, {
      readRepair: config.readRepair as boolean | undefined,
      timeout: config.timeout,
      maxSize: config.maxSize,
    });
  },
};
registerStorage(compositePlugin);
