import { StorageConfigError } from "./errors.js";
import type { Storage } from "./types.js";

/**
 * The kind of a config field, which says how YAML text becomes a value:
 * - `size`: bytes, from a number or `"10MB"` / `"512KiB"`
 * - `duration`: milliseconds, from seconds in YAML (`30.0`, `"30s"`, `"500ms"`, `"5m"`) or milliseconds in code
 * - `secret`: a string (or a `Secret`) never printed in errors; the plugin gets it as a `Secret`
 * - `string-map`: an object of string values (`secret-map`: the same, never printed, each value a `Secret`)
 * - `storage-list`: a list of nested storage configs (composite)
 * - `storage-map`: a map of names to nested storage configs (mount points of `type: mount`)
 */
export type FieldKind =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "size"
  | "duration"
  | "secret"
  | "string-map"
  | "secret-map"
  | "storage-list"
  | "storage-map"
  | { enum: readonly string[] };

/**
 * Marks a {@link ResolvedStorageConfig} for the compiler (it exists only in the types): an
 * object literal is never taken for a resolved config, so `createStorage` checks it as a
 * `StorageConfig`.
 */
declare const resolvedConfigBrand: unique symbol;

/**
 * A storage config after validation: camelCase names, sizes in bytes, durations in ms.
 * Only `resolveConfig`, `loadConfig` and `parseConfig` make one.
 */
export interface ResolvedStorageConfig {
  /** A mark for the compiler only, absent at run time: an object literal is not a resolved config. */
  readonly [resolvedConfigBrand]: true;
  /** The registered type. */
  type: string;
  /** Default operation timeout in ms. */
  timeout?: number | undefined;
  /** Largest value in bytes. */
  maxSize?: number | undefined;
  /** Layer options by layer name; absent or `false` layers are not built. */
  options: Record<string, Record<string, unknown> | false>;
  /** Type-specific fields (`path`, `bucket`, `backends`, …). */
  [field: string]: unknown;
}

/** What a plugin's `create` gets besides its config. */
export interface PluginContext {
  /** Builds a nested storage (composite backends). */
  createStorage(config: ResolvedStorageConfig): Promise<Storage>;
}

/** A backend type for `createStorage`: `type` in config selects it. */
export interface StoragePlugin {
  /** The config `type`. */
  type: string;
  /** Other names for the same type (`fs` for `file`). */
  aliases?: readonly string[];
  /** Type-specific config fields and their kinds (camelCase names; snake_case is accepted too). */
  fields?: Record<string, FieldKind>;
  /** Fields that must be present. */
  required?: readonly string[];
  /** A field a single string shorthand maps to, e.g. `path` for `file`. */
  create(config: ResolvedStorageConfig, ctx: PluginContext): Storage | Promise<Storage>;
}

/** A layer for `options.<name>` in config. */
export interface LayerPlugin {
  /** The key under `options` (`cache`, `compression`, …). */
  name: string;
  /**
   * Position in the stack; lower is further out. Built-ins: metrics 10, cache 20,
   * compression 30, encryption 40, retry 50 (the order of SPEC §5).
   */
  order: number;
  /** Option fields and their kinds (`enabled` is always accepted). */
  fields?: Record<string, FieldKind>;
  /** Fields that must be present when the layer is enabled. */
  required?: readonly string[];
  /**
   * Wraps `backend`. `options` holds the layer's fields, plus `timeout` (ms) when the
   * config sets one: pass it to the layer's storage so the whole call is bounded.
   */
  create(backend: Storage, options: Record<string, unknown>): Storage | Promise<Storage>;
}

/** Built-in types and layers, loaded on demand from their packages. */
export const BUILTIN_STORAGE_PACKAGES: Readonly<Record<string, string>> = {
  memory: "@pepperpy/storage-memory",
  file: "@pepperpy/storage-fs",
  fs: "@pepperpy/storage-fs",
  s3: "@pepperpy/storage-s3",
  redis: "@pepperpy/storage-redis",
  postgres: "@pepperpy/storage-postgres",
  sqlite: "@pepperpy/storage-sqlite",
  "azure-blob": "@pepperpy/storage-azure-blob",
};

/** Built-in layers and their packages. */
export const BUILTIN_LAYER_PACKAGES: Readonly<Record<string, string>> = {
  tracing: "@pepperpy/storage-otel",
  metrics: "@pepperpy/storage-metrics",
  cache: "@pepperpy/storage-cache",
  compression: "@pepperpy/storage-compress",
  encryption: "@pepperpy/storage-crypto",
  retry: "@pepperpy/storage-retry",
};

const storages = new Map<string, StoragePlugin>();
const layers = new Map<string, LayerPlugin>();

/** Registers a backend type. A later registration of the same type replaces the earlier one. */
export function registerStorage(plugin: StoragePlugin): void {
  if (!plugin || typeof plugin.type !== "string" || !plugin.type || typeof plugin.create !== "function") {
    throw new StorageConfigError("registerStorage needs { type, create }");
  }
  storages.set(plugin.type, plugin);
  for (const alias of plugin.aliases ?? []) storages.set(alias, plugin);
}

/** Registers a layer. A later registration of the same name replaces the earlier one. */
export function registerLayer(plugin: LayerPlugin): void {
  if (!plugin || typeof plugin.name !== "string" || !plugin.name || typeof plugin.create !== "function" || typeof plugin.order !== "number") {
    throw new StorageConfigError("registerLayer needs { name, order, create }");
  }
  layers.set(plugin.name, plugin);
}

/** Types registered so far, sorted. */
export function registeredStorageTypes(): string[] {
  return [...storages.keys()].sort();
}

/** Layers registered so far, sorted by name. */
export function registeredLayers(): string[] {
  return [...layers.keys()].sort();
}

/** Exports a plugin package may have. */
interface PluginModule {
  storagePlugin?: StoragePlugin;
  storagePlugins?: StoragePlugin[];
  layerPlugin?: LayerPlugin;
}

async function importPackage(name: string): Promise<PluginModule | undefined> {
  try {
    return (await import(name)) as PluginModule;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return undefined;
    throw new StorageConfigError(`Loading ${name} failed: ${(error as Error).message}`, { cause: error, operation: "createStorage" });
  }
}

function registerModule(mod: PluginModule): void {
  if (mod.storagePlugin) registerStorage(mod.storagePlugin);
  for (const p of mod.storagePlugins ?? []) registerStorage(p);
  if (mod.layerPlugin) registerLayer(mod.layerPlugin);
}

/**
 * The plugin for a type, loading a built-in package on first use.
 * Throws `StorageConfigError` listing the registered types and the package to install.
 */
export async function resolveStoragePlugin(type: string, field = "storage.type"): Promise<StoragePlugin> {
  let plugin = storages.get(type);
  if (plugin) return plugin;
  // Own properties only: `constructor` or `toString` are unknown types, not Object's members.
  const pkg = Object.hasOwn(BUILTIN_STORAGE_PACKAGES, type) ? BUILTIN_STORAGE_PACKAGES[type] : undefined;
  if (pkg) {
    const mod = await importPackage(pkg);
    if (!mod) {
      throw new StorageConfigError(`${field}: storage type "${type}" needs the package ${pkg}; install it with: npm install ${pkg}`, {
        operation: "createStorage",
      });
    }
    registerModule(mod);
    plugin = storages.get(type);
    if (plugin) return plugin;
  }
  const known = [...new Set([...registeredStorageTypes(), ...Object.keys(BUILTIN_STORAGE_PACKAGES)])].sort();
  throw new StorageConfigError(
    `${field}: unknown storage type "${type}". Known types: ${known.join(", ")}. ` +
      "A third-party type must be registered with registerStorage({ type, create }) before createStorage, " +
      `usually by importing its package; built-in types come from ${[...new Set(Object.values(BUILTIN_STORAGE_PACKAGES))].join(", ")}.`,
    { operation: "createStorage" },
  );
}

/** The plugin for a layer, loading a built-in package on first use. */
export async function resolveLayerPlugin(name: string, field = `storage.options.${name}`): Promise<LayerPlugin | undefined> {
  let plugin = layers.get(name);
  if (plugin) return plugin;
  const pkg = Object.hasOwn(BUILTIN_LAYER_PACKAGES, name) ? BUILTIN_LAYER_PACKAGES[name] : undefined;
  if (!pkg) return undefined;
  const mod = await importPackage(pkg);
  if (!mod) {
    throw new StorageConfigError(`${field}: the ${name} layer needs the package ${pkg}; install it with: npm install ${pkg}`, {
      operation: "createStorage",
    });
  }
  registerModule(mod);
  plugin = layers.get(name);
  return plugin;
}

/** A registered layer, without loading anything. */
export function getLayerPlugin(name: string): LayerPlugin | undefined {
  return layers.get(name);
}

/** A registered storage type, without loading anything. */
export function getStoragePlugin(type: string): StoragePlugin | undefined {
  return storages.get(type);
}
