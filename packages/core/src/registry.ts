import { StorageConfigError } from "./errors.js";
import { didYouMean } from "./options.js";
import type { Secret } from "./secret.js";
import type { Storage } from "./types.js";

/**
 * The kind of a config field, which says how YAML text becomes a value:
 * - `size`: bytes, from a number or `"10MB"` / `"512KiB"`
 * - `duration`: milliseconds, from seconds in YAML (`30.0`, `"30s"`, `"500ms"`, `"5m"`) or milliseconds in code
 * - `secret`: a string (or a `Secret`) never printed in errors; the plugin gets it as a `Secret`
 * - `string-map`: an object of string values (`secret-map`: the same, never printed, each value a `Secret`)
 * - `storage-list`: a list of nested storage configs (composite)
 * - `storage-map`: a map of names to nested storage configs (mount points of `type: mount`)
 * - `{ enum: [...] }`: one of the strings listed
 * - `{ list: { name: kind, … } }`: a list of objects, each with exactly these fields, all
 *   required, each converted by its kind (`accept_scrypt: [{ log_n: 14, r: 8, p: 1 }]`);
 *   the plugin checks the values' ranges
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
  | { enum: readonly string[] }
  | { list: Readonly<Record<string, FieldKind>> };

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

/** The value a field of kind `K` has in a resolved config (sizes in bytes, durations in ms). */
export type FieldValue<K extends FieldKind> = K extends "string"
  ? string
  : K extends "number" | "integer" | "size" | "duration"
    ? number
    : K extends "boolean"
      ? boolean
      : K extends "secret"
        ? Secret
        : K extends "string-map"
          ? Record<string, string>
          : K extends "secret-map"
            ? Record<string, Secret>
            : K extends "storage-list"
              ? ResolvedStorageConfig[]
              : K extends "storage-map"
                ? Record<string, ResolvedStorageConfig>
                : K extends { enum: readonly (infer E)[] }
                  ? E
                  : K extends { list: infer L extends Readonly<Record<string, FieldKind>> }
                    ? { [P in keyof L]: FieldValue<L[P]> }[]
                    : unknown;

/**
 * The config a plugin defined with {@link definePlugin} gets: its `fields` typed by kind,
 * the `required` ones present, the others possibly `undefined`, beside the common fields.
 */
export type PluginConfig<F extends Record<string, FieldKind>, R extends string = never> = {
  /** The type the config named (the plugin's type or one of its aliases). */
  type: string;
  /** Default operation timeout in ms. */
  timeout?: number | undefined;
  /** Largest value in bytes. */
  maxSize?: number | undefined;
  /** Default TTL in ms of values put without one. */
  defaultTtl?: number | undefined;
  /** Layer options by layer name (layers are built by `createStorage`, not by the plugin). */
  options: Record<string, Record<string, unknown> | false>;
} & { [K in keyof F & R]: FieldValue<F[K]> } & { [K in Exclude<keyof F, R>]?: FieldValue<F[K]> | undefined };

/** What {@link definePlugin} takes: a {@link StoragePlugin} whose `create` gets a typed config. */
export interface TypedStoragePlugin<F extends Record<string, FieldKind>, R extends keyof F & string> {
  /** The config `type`. */
  type: string;
  /** Other names for the same type. */
  aliases?: readonly string[];
  /** Type-specific config fields and their kinds; `create`'s config is typed from them. */
  fields: F;
  /** Fields that must be present: typed as present in `create`'s config. */
  required?: readonly R[];
  /** Builds the storage from the validated config. */
  create(config: PluginConfig<F, R>, ctx: PluginContext): Storage | Promise<Storage>;
}

/**
 * A storage plugin whose `create` gets its config typed from `fields` (and `required`), so
 * it needs no casts: `definePlugin({ type: "file", fields: { path: "string" }, required:
 * ["path"], create: (config) => new FileStorage({ path: config.path }) })`. Returns the
 * plugin unchanged, as a {@link StoragePlugin} for `registerStorage` or a package export;
 * the run-time validation that makes the types true is the registry's, as for any plugin.
 */
export function definePlugin<const F extends Record<string, FieldKind>, const R extends keyof F & string = never>(
  plugin: TypedStoragePlugin<F, R>,
): StoragePlugin {
  return plugin as unknown as StoragePlugin;
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

/**
 * The scope and prefix of the package a type or layer name is loaded from when no plugin is
 * registered for it: `type: redis` loads `@pepperpy/storage-redis`.
 */
export const PLUGIN_PACKAGE_PREFIX = "@pepperpy/storage-";

/**
 * A name that may complete {@link PLUGIN_PACKAGE_PREFIX}: lowercase letters, digits and
 * inner hyphens (`azure-blob`), at most 100 characters. Nothing else reaches `import()`: no
 * `/`, `.`, `@`, space or uppercase.
 */
const PACKAGE_SEGMENT = /^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$/;

/**
 * The package a type or layer name is loaded from by convention (`redis` →
 * `@pepperpy/storage-redis`), or `undefined` when the name is not a plain package-name
 * segment (`../x`, `@evil/pkg`, `toString`, `a b`): such a name is never imported.
 */
export function pluginPackageName(name: string): string | undefined {
  return typeof name === "string" && PACKAGE_SEGMENT.test(name) ? `${PLUGIN_PACKAGE_PREFIX}${name}` : undefined;
}

/**
 * What a plugin package exports: `storagePlugin`, `storagePlugins` and / or `layerPlugin`.
 * Loading a package registers every plugin it exports.
 */
export interface PluginModule {
  /** A backend type. */
  storagePlugin?: StoragePlugin;
  /** Several backend types (`file` and `fs`). */
  storagePlugins?: readonly StoragePlugin[];
  /** A layer. */
  layerPlugin?: LayerPlugin;
}

/**
 * A backend type whose package loads on first use. It registers names the convention
 * (`@pepperpy/storage-<type>`) does not reach, such as `file` from `@pepperpy/storage-fs`.
 */
export interface LazyStoragePlugin {
  /** The config `type`. */
  type: string;
  /** Other names that load the same package. */
  aliases?: readonly string[];
  /** The package `load` imports, named in the "install it" error when it is missing. */
  package: string;
  /** Imports the package, e.g. `() => import("@pepperpy/storage-fs")`. */
  load(): Promise<PluginModule>;
}

/** A layer whose package loads on first use (`tracing` from `@pepperpy/storage-otel`). */
export interface LazyLayerPlugin {
  /** The key under `options`. */
  name: string;
  /** The package `load` imports, named in the "install it" error when it is missing. */
  package: string;
  /** Imports the package, e.g. `() => import("@pepperpy/storage-otel")`. */
  load(): Promise<PluginModule>;
}

// Maps, not objects: `constructor` or `__proto__` are names like any other, never Object's members.
const storages = new Map<string, StoragePlugin>();
const layers = new Map<string, LayerPlugin>();
const lazyStorages = new Map<string, LazyStoragePlugin>();
const lazyLayers = new Map<string, LazyLayerPlugin>();

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

/**
 * Registers a backend type to load on first use: `createStorage({ type })` calls `load()`
 * and registers the plugins the package exports. A plugin registered with
 * {@link registerStorage} wins over a lazy one of the same name.
 */
export function registerLazyStorage(plugin: LazyStoragePlugin): void {
  if (!plugin || typeof plugin.type !== "string" || !plugin.type || typeof plugin.package !== "string" || typeof plugin.load !== "function") {
    throw new StorageConfigError("registerLazyStorage needs { type, package, load }");
  }
  lazyStorages.set(plugin.type, plugin);
  for (const alias of plugin.aliases ?? []) lazyStorages.set(alias, plugin);
}

/**
 * Registers a layer to load on first use: a config that enables `options.<name>` calls
 * `load()` and registers the plugins the package exports. A plugin registered with
 * {@link registerLayer} wins over a lazy one of the same name.
 */
export function registerLazyLayer(plugin: LazyLayerPlugin): void {
  if (!plugin || typeof plugin.name !== "string" || !plugin.name || typeof plugin.package !== "string" || typeof plugin.load !== "function") {
    throw new StorageConfigError("registerLazyLayer needs { name, package, load }");
  }
  lazyLayers.set(plugin.name, plugin);
}

/** Types registered so far (loaded or lazy), sorted. */
export function registeredStorageTypes(): string[] {
  return [...new Set([...storages.keys(), ...lazyStorages.keys()])].sort();
}

/** Layers registered so far (loaded or lazy), sorted by name. */
export function registeredLayers(): string[] {
  return [...new Set([...layers.keys(), ...lazyLayers.keys()])].sort();
}

/**
 * Imports a plugin package; `undefined` when the package itself is not installed (a missing
 * dependency of an installed package is a load failure, not a missing package).
 */
async function importPackage(pkg: string, load: () => Promise<PluginModule>, shown = pkg): Promise<PluginModule | undefined> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    const missing = (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String(message).includes(`'${pkg}'`);
    if (missing) return undefined;
    // The loader's message names the package: when the name must not be printed, neither is the message.
    const detail = shown === pkg ? `: ${(error as Error).message}` : "";
    throw new StorageConfigError(`Loading ${shown} failed${detail}`, { cause: shown === pkg ? error : undefined, operation: "createStorage" });
  }
}

function registerModule(mod: PluginModule): void {
  if (mod.storagePlugin) registerStorage(mod.storagePlugin);
  for (const p of mod.storagePlugins ?? []) registerStorage(p);
  if (mod.layerPlugin) registerLayer(mod.layerPlugin);
}

/** How a name's package loads: registered lazily, else by convention, else not at all. */
function packageFor(name: string, lazy: LazyStoragePlugin | LazyLayerPlugin | undefined): { pkg: string; load: () => Promise<PluginModule> } | undefined {
  if (lazy) return { pkg: lazy.package, load: () => lazy.load() };
  const pkg = pluginPackageName(name);
  return pkg === undefined ? undefined : { pkg, load: () => import(/* @vite-ignore */ pkg) as Promise<PluginModule> };
}

/**
 * The plugin for a type: a registered one, else one registered lazily
 * ({@link registerLazyStorage}), else the package named by convention
 * (`@pepperpy/storage-<type>`, {@link pluginPackageName}), loaded on first use. Throws
 * `StorageConfigError` listing the registered types and saying what to install.
 *
 * `shown` is how an error shows the type when its value must not be printed (it came from
 * the environment: `(from ${STORAGE_TYPE})`); the name of the package derived from it is
 * then not printed either.
 */
export async function resolveStoragePlugin(type: string, field = "storage.type", shown?: string): Promise<StoragePlugin> {
  const found = storages.get(type);
  if (found) return found;
  const lazy = lazyStorages.get(type);
  const source = packageFor(type, lazy);
  const named = shown ?? `"${type}"`;
  // A package named by convention spells the type out; a lazily registered one does not.
  const hidePackage = shown !== undefined && !lazy;
  let missing: string | undefined;
  if (source) {
    const pkgName = hidePackage ? `${PLUGIN_PACKAGE_PREFIX}<type>` : source.pkg;
    const mod = await importPackage(source.pkg, source.load, pkgName);
    if (mod) {
      registerModule(mod);
      const plugin = storages.get(type);
      if (plugin) return plugin;
      throw new StorageConfigError(`${field}: the package ${pkgName} was loaded but exports no plugin for storage type ${named}`, {
        operation: "createStorage",
      });
    }
    missing = pkgName;
  }
  const known = registeredStorageTypes();
  const hint =
    missing === undefined
      ? `${named} is not a package name, so no package is loaded for it.`
      : hidePackage
        ? `No plugin is registered for it, and the package it would load from, ${missing}, is not installed.`
        : `No plugin is registered for it, and the package it would load from, ${missing}, is not installed; install it with: npm install ${missing}.`;
  throw new StorageConfigError(
    `${field}: unknown storage type ${named}${didYouMean(type, known)}. Known types: ${known.join(", ")}. ${hint} ` +
      "A third-party type is registered with registerStorage({ type, create }) before createStorage, usually by importing its package.",
    { operation: "createStorage" },
  );
}

/**
 * The plugin for a layer: a registered one, else one registered lazily
 * ({@link registerLazyLayer}), else the package named by convention
 * (`@pepperpy/storage-<name>`), loaded on first use. `undefined` when no package provides
 * it (a name that is not a package name is never imported).
 */
export async function resolveLayerPlugin(name: string, field = `storage.options.${name}`): Promise<LayerPlugin | undefined> {
  const found = layers.get(name);
  if (found) return found;
  const lazy = lazyLayers.get(name);
  const source = packageFor(name, lazy);
  if (!source) return undefined;
  const mod = await importPackage(source.pkg, source.load);
  if (!mod) {
    if (!lazy) return undefined;
    throw new StorageConfigError(`${field}: the ${name} layer needs the package ${source.pkg}; install it with: npm install ${source.pkg}`, {
      operation: "createStorage",
    });
  }
  registerModule(mod);
  return layers.get(name);
}

/** A registered layer, without loading anything. */
export function getLayerPlugin(name: string): LayerPlugin | undefined {
  return layers.get(name);
}

/** A registered storage type, without loading anything. */
export function getStoragePlugin(type: string): StoragePlugin | undefined {
  return storages.get(type);
}
