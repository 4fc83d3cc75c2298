import { randomUUID } from "node:crypto";
import { open } from "node:fs/promises";
import { StorageConfigError, isStorageError } from "./errors.js";
import { didYouMean, toSnakeCase } from "./options.js";
import {
  type FieldKind,
  type ResolvedStorageConfig,
  resolveLayerPlugin,
  resolveStoragePlugin,
  getLayerPlugin,
  pluginPackageName,
  registeredLayers,
  registerStorage,
  type StoragePlugin,
  type LayerPlugin,
} from "./registry.js";
import { CompositeStorage } from "./composite.js";
import { mountPlugin } from "./mount.js";
import { BaseStorage, SET_DEFAULT_TTL } from "./storage.js";
import { Secret } from "./secret.js";
import type { Storage } from "./types.js";
import type { StorageConfig } from "./config-types.js";

/**
 * The untyped shape of a storage config (before validation), as parsed from JSON or YAML
 * text. Code gets {@link StorageConfig}, checked by the compiler; `resolveConfig` takes
 * anything and checks it at run time.
 */
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
  const name = (m[2] || "b").toLowerCase();
  // An own-property lookup: "1constructor" is not a size.
  const unit = Object.hasOwn(SIZE_UNITS, name) ? SIZE_UNITS[name] : undefined;
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
      const v = Object.hasOwn(env, name) ? env[name] : undefined;
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

/**
 * The field validator (zod) and the YAML parser load when a config is first read, not with
 * the package: a program that builds its storages in code never pays for them at start-up.
 * `resolveConfig` (every config passes through it) loads the validator before converting
 * any field, so `convertField` can stay synchronous.
 */
type Zod = typeof import("zod");
let zod: Zod | undefined;
let stringMap: ReturnType<Zod["z"]["record"]> | undefined;
let zodLoading: Promise<Zod> | undefined;

async function loadValidator(): Promise<void> {
  if (zod) return;
  zodLoading ??= import("zod").catch((error: unknown) => {
    zodLoading = undefined;
    throw error;
  });
  const loaded = await zodLoading;
  stringMap ??= loaded.z.record(loaded.z.string(), loaded.z.string());
  zod = loaded;
}

/** The loaded validator; `resolveConfig` loaded it before any field is converted. */
function validator(): { z: Zod["z"]; stringMap: NonNullable<typeof stringMap> } {
  if (!zod || !stringMap) throw new StorageConfigError("internal error: the config validator was not loaded", { operation: "createStorage" });
  return { z: zod.z, stringMap };
}

/**
 * Where interpolated strings came from, by field path (`storage.options.cache.size`): the
 * scalar's text as written, with its `${VAR}` references. Errors show that text instead of
 * the value, so a value taken from the environment is never printed.
 */
export type ConfigOrigins = ReadonlyMap<string, string>;

/** How an error shows the value of `field`: its origin when it came from the environment. */
function describeField(value: unknown, secret: boolean, field: string, origins: ConfigOrigins | undefined): string {
  if (secret) return "(hidden)";
  if (origins && origins.size > 0) {
    const origin = origins.get(field);
    if (origin !== undefined) return showOrigin(origin);
    // A map or list holding interpolated strings: name the references, not the values.
    const nested = [...origins].filter(([path]) => path.startsWith(`${field}.`) || path.startsWith(`${field}[`));
    if (nested.length > 0) return `(a value with ${nested.map(([, text]) => text).join(", ")} from the environment)`;
  }
  return describe(value, secret);
}

/** `(from ${VAR})` for a value that is one reference, `(from "text ${VAR}")` for one made of text and references. */
function showOrigin(origin: string): string {
  return /^\$\{[^}]*\}$/.test(origin) ? `(from ${origin})` : `(from ${JSON.stringify(origin)})`;
}

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
function convertField(kind: FieldKind, value: unknown, field: string, unit: DurationUnit, origins?: ConfigOrigins): unknown {
  const bad = (expected: string, secret = false): never => {
    throw new StorageConfigError(`${field}: expected ${expected}, got ${describeField(value, secret, field, origins)}`, { operation: "createStorage" });
  };
  if (typeof kind === "object") {
    if ("list" in kind) return convertList(kind.list, value, field, unit, origins);
    if (typeof value !== "string" || !kind.enum.includes(value)) bad(`one of ${kind.enum.join(", ")}`);
    return value;
  }
  const { z, stringMap } = validator();
  switch (kind) {
    case "string":
      return z.string().min(1).safeParse(value).success ? value : bad("a non-empty string");
    case "secret":
      // Held in a Secret: the resolved config never prints it (inspect, JSON.stringify).
      if (Secret.isSecret(value) && typeof value.reveal() === "string" && (value.reveal() as string).length > 0) return value;
      return z.string().min(1).safeParse(value).success ? new Secret(value as string) : bad("a non-empty string", true);
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
      return stringMap.safeParse(value).success
        ? Object.fromEntries(Object.entries(value as Record<string, string>).map(([k, v]) => [k, new Secret(v)]))
        : bad("a map of strings", true);
    case "storage-list":
      return Array.isArray(value) && value.length > 0 ? value : bad("a non-empty list of storage configs");
    case "storage-map":
      return isPlainObject(value) && Object.keys(value).length > 0 ? value : bad("a non-empty map of names to storage configs");
  }
}

/** Converts a `{ list: fields }` field: a list of objects, each with exactly `fields`, all required. */
function convertList(fields: Readonly<Record<string, FieldKind>>, value: unknown, field: string, unit: DurationUnit, origins?: ConfigOrigins): unknown[] {
  // Named as the docs and the YAML write them (snake_case); a code config in camelCase.
  const names = Object.keys(fields).map((k) => (unit === "seconds" ? toSnakeCase(k) : k));
  const shape = `{ ${names.join(", ")} }`;
  if (!Array.isArray(value)) {
    throw new StorageConfigError(`${field}: expected a list of ${shape}, got ${describeField(value, false, field, origins)}`, { operation: "createStorage" });
  }
  return value.map((entry, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(entry)) {
      throw new StorageConfigError(`${at}: expected ${shape}, got ${describeField(entry, false, at, origins)}`, { operation: "createStorage" });
    }
    const converted = convertFields(entry, { ...fields }, at, unit, new Set(), origins);
    Object.keys(fields).forEach((name, n) => {
      if (converted[name] === undefined) throw new StorageConfigError(`${at}.${names[n]}: required (expected ${shape})`, { operation: "createStorage" });
    });
    return converted;
  });
}

/** Validates an object against field kinds; unknown fields are rejected. */
function convertFields(
  raw: Record<string, unknown>,
  kinds: Record<string, FieldKind>,
  path: string,
  unit: DurationUnit,
  skip: ReadonlySet<string> = new Set(),
  origins?: ConfigOrigins,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    const camel = toCamelCase(name);
    if (skip.has(camel)) continue;
    // Own properties only: `constructor`, `toString` or `__proto__` are unknown fields, not Object's members.
    const kind = Object.hasOwn(kinds, camel) ? kinds[camel] : undefined;
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
    if (Object.hasOwn(out, camel)) throw new StorageConfigError(`${path}.${name}: given twice (snake_case and camelCase)`, { operation: "createStorage" });
    if (value === null || value === undefined) continue;
    out[camel] = convertField(kind, value, `${path}.${name}`, unit, origins);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const COMMON_FIELDS: Record<string, FieldKind> = { timeout: "duration", maxSize: "size", defaultTtl: "duration" };

/**
 * Validates a storage config and returns it resolved: camelCase, sizes in bytes,
 * durations in milliseconds, each layer's options checked against its plugin.
 * Loads built-in plugin packages on demand. Throws `StorageConfigError` naming the field.
 *
 * `timeout`, `max_size` and `default_ttl` are accepted both at the top level and under `options`.
 */
export async function resolveConfig(
  input: unknown,
  opts: { durationUnit?: DurationUnit; path?: string; origins?: ConfigOrigins } = {},
): Promise<ResolvedStorageConfig> {
  if (isPlainObject(input) && (input as { [RESOLVED]?: boolean })[RESOLVED]) return input as ResolvedStorageConfig;
  await loadValidator();
  const unit = opts.durationUnit ?? "milliseconds";
  const path = opts.path ?? "storage";
  const origins = opts.origins;
  if (!isPlainObject(input)) throw new StorageConfigError(`${path}: expected an object with a "type"`, { operation: "createStorage" });
  const type = Object.hasOwn(input, "type") ? input.type : undefined;
  if (typeof type !== "string" || type.length === 0) {
    throw new StorageConfigError(`${path}.type: expected a storage type such as "file", "memory" or "s3"`, { operation: "createStorage" });
  }
  // A type from the environment is shown as its reference, never as the value.
  const typeShown = origins?.has(`${path}.type`) ? describeField(type, false, `${path}.type`, origins) : undefined;
  const plugin = await resolveStoragePlugin(type, `${path}.type`, typeShown);
  const rawOptions = (Object.hasOwn(input, "options") ? input.options : undefined) ?? {};
  if (!isPlainObject(rawOptions)) throw new StorageConfigError(`${path}.options: expected an object`, { operation: "createStorage" });

  const fields = convertFields(input, { ...COMMON_FIELDS, ...(plugin.fields ?? {}) }, path, unit, new Set(["type", "options"]), origins);
  for (const req of plugin.required ?? []) {
    if (fields[req] === undefined) throw new StorageConfigError(`${path}.${req}: required for type ${typeShown ?? `"${type}"`}`, { operation: "createStorage" });
  }
  if (Array.isArray(fields.backends)) {
    fields.backends = await Promise.all(
      (fields.backends as unknown[]).map((b, i) => resolveConfig(b, { durationUnit: unit, path: `${path}.backends[${i}]`, origins })),
    );
  }

  await resolveStorageMaps(fields, plugin, unit, path, origins);

  const layerOptions: Record<string, Record<string, unknown> | false> = {};
  for (const [rawName, rawValue] of Object.entries(rawOptions)) {
    const name = toCamelCase(rawName);
    const field = `${path}.options.${rawName}`;
    if (Object.hasOwn(COMMON_FIELDS, name)) {
      if (rawValue !== null && rawValue !== undefined) fields[name] = convertField(COMMON_FIELDS[name]!, rawValue, field, unit, origins);
      continue;
    }
    // A name is known when a layer is registered (or registered lazily) under it, or when
    // the package named by convention provides it; that package loads here, even for a
    // layer set to false, so a misspelt name is an error either way.
    if (!getLayerPlugin(name) && !registeredLayers().includes(name) && !(await resolveLayerPlugin(name, field))) {
      const known = [...new Set([...registeredLayers(), "timeout", "max_size", "default_ttl"])].sort();
      const pkg = pluginPackageName(name);
      const install = pkg ? `; no installed ${pkg} provides a layer "${name}" (install it with: npm install ${pkg})` : "";
      throw new StorageConfigError(`${field}: unknown option${didYouMean(name, known)} (known: ${known.join(", ")})${install}`, { operation: "createStorage" });
    }
    let value: Record<string, unknown> | false;
    if (rawValue === false || rawValue === null || rawValue === undefined) value = false;
    else if (rawValue === true) value = {};
    else if (isPlainObject(rawValue)) {
      if (rawValue.enabled === false) value = false;
      else {
        if (rawValue.enabled !== undefined && rawValue.enabled !== true) {
          throw new StorageConfigError(`${field}.enabled: expected true or false, got ${describeField(rawValue.enabled, false, `${field}.enabled`, origins)}`, { operation: "createStorage" });
        }
        value = rawValue;
      }
    } else {
      throw new StorageConfigError(`${field}: expected true, false or an object, got ${describeField(rawValue, false, field, origins)}`, { operation: "createStorage" });
    }
    if (value === false) {
      layerOptions[name] = false;
      continue;
    }
    const layer = await resolveLayerPlugin(name, field);
    if (!layer) throw new StorageConfigError(`${field}: unknown layer "${name}"`, { operation: "createStorage" });
    const converted = convertFields(value, { ...(layer.fields ?? {}) }, field, unit, new Set(["enabled"]), origins);
    for (const req of layer.required ?? []) {
      if (converted[req] === undefined) throw new StorageConfigError(`${field}.${req}: required when ${name} is enabled`, { operation: "createStorage" });
    }
    layerOptions[name] = converted;
  }

  // The brand is the compiler's only (see ResolvedStorageConfig); at run time the RESOLVED symbol marks it.
  const resolved = { ...fields, type, options: layerOptions } as unknown as ResolvedStorageConfig;
  Object.defineProperty(resolved, RESOLVED, { value: true, enumerable: false });
  return resolved;
}

/** Largest config text {@link loadConfig} and {@link parseConfig} accept by default: 1 MiB. */
export const DEFAULT_MAX_CONFIG_BYTES = 1024 * 1024;

/** Options of {@link loadConfig} and {@link parseConfig}. */
export interface LoadConfigOptions {
  /** Variables for `${VAR}` references (default `process.env`). */
  env?: NodeJS.ProcessEnv | undefined;
  /**
   * Largest config accepted, in bytes (default {@link DEFAULT_MAX_CONFIG_BYTES}, 1 MiB). A
   * larger file is refused before it is read, so a huge or hostile file cannot cost
   * seconds and gigabytes.
   */
  maxBytes?: number | undefined;
}

function tooLarge(source: string, bytes: number, limit: number): StorageConfigError {
  return new StorageConfigError(
    `${source}: config is ${bytes} bytes, more than the limit of ${limit} bytes (raise it with the maxBytes option if this file is really meant to be that large)`,
    { operation: "loadConfig" },
  );
}

function maxBytesOf(opts: LoadConfigOptions): number {
  const limit = opts.maxBytes ?? DEFAULT_MAX_CONFIG_BYTES;
  if (typeof limit !== "number" || !(limit > 0)) throw new StorageConfigError("maxBytes: expected a positive number of bytes", { operation: "loadConfig" });
  return limit;
}

/**
 * Reads a YAML config file and returns its `storage:` section resolved (see
 * {@link resolveConfig}): `${ENV}` variables interpolated, snake_case or camelCase,
 * durations in seconds, sizes like `10MB`. Throws `StorageConfigError` naming the file
 * and field; a file over `maxBytes` (1 MiB) is refused before it is read.
 */
export async function loadConfig(file: string, opts: LoadConfigOptions = {}): Promise<ResolvedStorageConfig> {
  const limit = maxBytesOf(opts);
  let text: string;
  try {
    const handle = await open(file, "r");
    try {
      const { size } = await handle.stat();
      if (size > limit) throw tooLarge(file, size, limit);
      // Read at most one byte past the limit: a file that grew since the stat is still refused.
      const buffer = Buffer.alloc(Math.min(limit + 1, size + 1));
      let length = 0;
      while (length < buffer.byteLength) {
        const { bytesRead } = await handle.read(buffer, length, buffer.byteLength - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      if (length > limit) throw tooLarge(file, length, limit);
      text = buffer.toString("utf8", 0, length);
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if (isStorageError(cause)) throw cause;
    throw new StorageConfigError(`Cannot read config file ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, {
      cause,
      operation: "loadConfig",
    });
  }
  return parseConfig(text, { ...opts, source: file });
}

/** `${VAR}` or `${VAR:-default}`, as written in config text. */
const ENV_REF_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\n]*))?\}/g;

/** The value of one `${VAR}` / `${VAR:-default}` reference, and whether it came from the environment (not the default). */
function envValue(ref: string, env: NodeJS.ProcessEnv, path: string): { value: string; fromEnv: boolean } {
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\n]*))?\}$/.exec(ref)!;
  const name = m[1]!;
  const v = Object.hasOwn(env, name) ? env[name] : undefined;
  if (v !== undefined && v !== "") return { value: v, fromEnv: true };
  if (m[2] !== undefined) return { value: m[2], fromEnv: false };
  throw new StorageConfigError(`${path}: environment variable ${name} is not set`, { operation: "loadConfig" });
}

/**
 * The strings a config took from the environment, each with how errors show it instead
 * (`(from ${VAR})`). Kept in {@link ENV_VALUES} beside the config, never in it: printing
 * or serializing a config, or the error of a plugin built from it, never reaches them.
 */
class EnvValues {
  /** Value → how it is shown; in a private field, which neither inspection nor enumeration reaches. */
  readonly #shown: ReadonlyMap<string, string>;
  #pattern: RegExp | undefined;
  #lookup: ReadonlyMap<string, string> = new Map();

  constructor(shown: ReadonlyMap<string, string>) {
    this.#shown = shown;
  }

  get size(): number {
    return this.#shown.size;
  }

  /**
   * `text` with each value replaced by how it is shown: quoted (`"value"`, quotes included),
   * JSON-escaped, or as is. A value that starts or ends with a letter or digit is replaced
   * only as a whole word there, so a short value ("3") leaves longer numbers and words
   * ("30", "v3") alone. References already shown (`${VAR}`, `(from "…")`) are kept as they are.
   */
  redact(text: string): string {
    if (this.#pattern === undefined) {
      const variants = new Map<string, string>();
      for (const [value, shown] of this.#shown) {
        const json = JSON.stringify(value);
        for (const variant of [json, json.slice(1, -1), value]) if (!variants.has(variant)) variants.set(variant, shown);
      }
      const word = /[\p{L}\p{N}_]/u;
      const alternatives = [...variants.keys()]
        .sort((a, b) => b.length - a.length)
        .map((v) => `${word.test(v[0]!) ? "(?<![\\p{L}\\p{N}_])" : ""}${v.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&")}${word.test(v.at(-1)!) ? "(?![\\p{L}\\p{N}_])" : ""}`);
      const ref = String.raw`\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}\n]*)?\}`;
      const kept = String.raw`\(from (?:${ref}|"(?:[^"\\]|\\.)*")\)|${ref}`;
      this.#pattern = new RegExp(`(${kept})|${alternatives.join("|")}`, "gu");
      this.#lookup = variants;
    }
    return text.replace(this.#pattern, (match: string, keep: string | undefined) => keep ?? this.#lookup.get(match) ?? match);
  }
}

/**
 * The values from the environment that are text in `resolved`, whole or part of a string
 * field: those a plugin may quote. One read as a number, size, duration or boolean
 * (`retries: ${N}`) is left out, so "3" is not looked for in every message.
 */
function textFromEnv(fromEnv: ReadonlyMap<string, string>, resolved: unknown): Map<string, string> {
  const texts: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === "string") texts.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    // Plain objects only: a Secret holds no text a message may show.
    else if (isPlainObject(value) && Object.getPrototypeOf(value) === Object.prototype) Object.values(value).forEach(walk);
  };
  if (fromEnv.size > 0) walk(resolved);
  return new Map([...fromEnv].filter(([value]) => texts.some((text) => text.includes(value))));
}

/** The environment values of each config {@link parseConfig} returned, and of the configs nested in it. */
const ENV_VALUES = new WeakMap<object, EnvValues>();

/** Records `values` for `config` and every storage config nested in it (composite backends, mounts). */
function rememberEnvValues(config: unknown, values: EnvValues): void {
  if (!isPlainObject(config) || !(config as { [RESOLVED]?: boolean })[RESOLVED] || ENV_VALUES.has(config)) return;
  ENV_VALUES.set(config, values);
  for (const field of Object.values(config)) {
    if (Array.isArray(field)) for (const item of field) rememberEnvValues(item, values);
    else if (isPlainObject(field)) for (const item of Object.values(field)) rememberEnvValues(item, values);
  }
}

/** Errors already redacted: a nested build's error passes through the outer build's redaction too. */
const REDACTED_ERRORS = new WeakSet<object>();

/**
 * Replaces, in place, every value from the environment in the messages of `error` and of
 * its causes: a plugin's constructor that quotes an option (`activeKeyId "…" is not in
 * keys`) then shows `(from ${VAR})` instead. Every string property but `name` and `code`
 * is rewritten (`message`, `stack`, `detail`, Node's `input`). An error that cannot be
 * rewritten is replaced by a `StorageConfigError` carrying the rewritten message only.
 */
function redactError(error: unknown, values: EnvValues): unknown {
  if (typeof error === "string") return values.redact(error);
  if (typeof error !== "object" || error === null || REDACTED_ERRORS.has(error)) return error;
  REDACTED_ERRORS.add(error);
  let rewritten = true;
  for (const name of Object.getOwnPropertyNames(error)) {
    if (name === "name" || name === "code") continue;
    const value = (error as Record<string, unknown>)[name];
    if (name === "errors" && Array.isArray(value)) {
      // AggregateError: each error in it.
      for (let i = 0; i < value.length; i++) {
        const redacted = redactError(value[i], values);
        if (redacted !== value[i] && !Reflect.set(value, i, redacted)) rewritten = false;
      }
      continue;
    }
    if (name === "cause") {
      const redacted = redactError(value, values);
      if (redacted !== value && !Reflect.set(error, name, redacted)) rewritten = false;
      continue;
    }
    if (typeof value !== "string") continue;
    const redacted = values.redact(value);
    if (redacted !== value && !Reflect.set(error, name, redacted)) rewritten = false;
  }
  if (rewritten) return error;
  const message = values.redact(String((error as { message?: unknown }).message ?? error));
  const replacement = new StorageConfigError(message, { operation: "createStorage" });
  REDACTED_ERRORS.add(replacement);
  return replacement;
}

/**
 * Interpolates the references hidden behind `marker` placeholders in every scalar of the
 * parsed tree, recording each interpolated string's text as written in `origins`. Only
 * placeholders this call made are replaced: their marker holds a random nonce absent
 * from the config text, so no literal text can be mistaken for one.
 */
function interpolateTree(
  value: unknown,
  marker: RegExp,
  refs: readonly string[],
  env: NodeJS.ProcessEnv,
  path: string,
  origins: Map<string, string>,
  fromEnv: Map<string, string>,
): unknown {
  if (typeof value === "string") {
    marker.lastIndex = 0;
    if (!marker.test(value)) return value;
    const origin = value.replace(marker, (_, i: string) => refs[Number(i)]!);
    origins.set(path, origin);
    let any = false;
    const result = value.replace(marker, (_, i: string) => {
      const ref = refs[Number(i)]!;
      const found = envValue(ref, env, path);
      // Only values with a letter or digit are worth hiding: replacing "/" or " " everywhere would garble every message.
      if (found.fromEnv && /[\p{L}\p{N}]/u.test(found.value)) {
        any = true;
        if (!fromEnv.has(found.value)) fromEnv.set(found.value, showOrigin(ref));
      }
      return found.value;
    });
    if (any && !fromEnv.has(result)) fromEnv.set(result, showOrigin(origin));
    return result;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, marker, refs, env, `${path}[${i}]`, origins, fromEnv));
  if (value && typeof value === "object") {
    // Keys are names, not values: a reference in a key is restored as written, never interpolated.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const key = k.replace(marker, (_, i: string) => refs[Number(i)]!);
        return [key, interpolateTree(v, marker, refs, env, `${path}.${key}`, origins, fromEnv)];
      }),
    );
  }
  return value;
}

/** Parses YAML text as {@link loadConfig} does a file. Text over `maxBytes` (1 MiB) is refused. */
export async function parseConfig(text: string, opts: LoadConfigOptions & { source?: string } = {}): Promise<ResolvedStorageConfig> {
  const source = opts.source ?? "config";
  const limit = maxBytesOf(opts);
  // `length` counts UTF-16 units, never more than the UTF-8 bytes: a cheap first check.
  if (text.length > limit) throw tooLarge(source, Buffer.byteLength(text, "utf8"), limit);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > limit) throw tooLarge(source, bytes, limit);
  // `${VAR}` references are swapped for placeholders while the YAML is parsed, so they work
  // inside flow maps (`encryption: { key: ${STORAGE_KEY} }`, where `{` and `}` would
  // otherwise be YAML syntax) and values from the environment are never parsed as YAML.
  // Each placeholder carries a random nonce the text does not contain, and interpolation
  // then runs on the parsed scalars: literal text (even `__pepperpy_env_0__`, or a `${…}`
  // spelled with YAML escapes) is never taken for a reference.
  let nonce: string;
  do nonce = randomUUID().replaceAll("-", "");
  while (text.includes(nonce));
  const refs: string[] = [];
  const protectedText = text.replace(ENV_REF_RE, (ref) => `__pepperpy_env_${nonce}_${refs.push(ref) - 1}__`);
  const marker = new RegExp(`__pepperpy_env_${nonce}_(\\d+)__`, "g");
  let doc: unknown;
  const { parse: parseYaml } = await import("yaml");
  try {
    doc = parseYaml(protectedText);
  } catch (cause) {
    // The parser's message may quote the text: put the references back, never values.
    const detail = (cause as Error).message.split("\n")[0]!.replace(marker, (_, i: string) => refs[Number(i)]!);
    throw new StorageConfigError(`${source}: invalid YAML: ${detail}`, { cause, operation: "loadConfig" });
  }
  if (!isPlainObject(doc) || !Object.hasOwn(doc, "storage") || !isPlainObject(doc.storage)) {
    throw new StorageConfigError(`${source}: expected a top-level "storage:" section`, { operation: "loadConfig" });
  }
  try {
    const origins = new Map<string, string>();
    const fromEnv = new Map<string, string>();
    const section = interpolateTree(doc.storage, marker, refs, opts.env ?? process.env, "storage", origins, fromEnv);
    // Errors of resolveConfig show a value from the environment as its reference already.
    const resolved = await resolveConfig(section, { durationUnit: "seconds", path: "storage", origins });
    // createStorage looks them up to keep them out of the errors of the plugins it builds.
    const values = textFromEnv(fromEnv, resolved);
    if (values.size > 0) rememberEnvValues(resolved, new EnvValues(values));
    return resolved;
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
 * already resolved. In code the config is a {@link StorageConfig}: the compiler checks
 * `type` and each field (`{ type: "fiel" }` does not compile); a config of unknown shape
 * (parsed JSON) goes through {@link resolveConfig} first, which checks it at run time.
 *
 * @example
 * const storage = await createStorage(await loadConfig("storage.yaml"));
 */
export async function createStorage(config?: StorageConfig): Promise<Storage>;
/** Builds the storage of a config resolved by {@link loadConfig}, {@link parseConfig} or {@link resolveConfig}. */
export async function createStorage(config: ResolvedStorageConfig): Promise<Storage>;
// Two signatures, not one union: a resolved config accepts any field, and in a union it
// would switch off the compiler's check of misspelt fields in object literals.
export async function createStorage(config?: StorageConfig | ResolvedStorageConfig): Promise<Storage> {
  const values = config === undefined ? undefined : ENV_VALUES.get(config);
  if (values === undefined) return buildStorage(config);
  try {
    return await buildStorage(config);
  } catch (error) {
    // A plugin's error may quote an option that came from `${VAR}`: show the reference instead.
    throw redactError(error, values);
  }
}

async function buildStorage(config: StorageConfig | ResolvedStorageConfig | undefined): Promise<Storage> {
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
  // `default_ttl` (SPEC §11) belongs to the outermost storage too: it resolves the deadline
  // of every write and hands it down to the layers and the backend.
  if (resolved.defaultTtl !== undefined) {
    if (!(storage instanceof BaseStorage)) {
      throw new StorageConfigError(`storage.default_ttl: not supported by ${storage.name} (it does not extend BaseStorage)`, { operation: "createStorage" });
    }
    if (!(resolved.defaultTtl as number > 0)) {
      throw new StorageConfigError("storage.default_ttl: expected a positive duration", { operation: "createStorage" });
    }
    storage[SET_DEFAULT_TTL](resolved.defaultTtl as number);
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

/** Resolves every `storage-map` field (the `mounts` of `type: mount`): each entry is a nested storage config. */
async function resolveStorageMaps(fields: Record<string, unknown>, plugin: StoragePlugin, unit: DurationUnit, path: string, origins?: ConfigOrigins): Promise<void> {
  for (const [name, kind] of Object.entries(plugin.fields ?? {})) {
    const map = fields[name];
    if (kind !== "storage-map" || !isPlainObject(map)) continue;
    const resolved = await Promise.all(
      Object.entries(map).map(async ([entry, nested]) => {
        // Errors name an entry quoted (`storage.mounts."a/".type`); the origins name it as written.
        const entryPath = `${path}.${name}.${JSON.stringify(entry)}`;
        const entryOrigins = origins && rebase(origins, `${path}.${name}.${entry}`, entryPath);
        return [entry, await resolveConfig(nested, { durationUnit: unit, path: entryPath, origins: entryOrigins })] as const;
      }),
    );
    fields[name] = Object.fromEntries(resolved);
  }
}

/** The origins under `from` (that path and the fields in it), renamed to lie under `to`. */
function rebase(origins: ConfigOrigins, from: string, to: string): ConfigOrigins {
  const out = new Map<string, string>();
  for (const [path, text] of origins) {
    if (path === from || path.startsWith(`${from}.`) || path.startsWith(`${from}[`)) out.set(`${to}${path.slice(from.length)}`, text);
  }
  return out;
}

registerStorage(mountPlugin);
