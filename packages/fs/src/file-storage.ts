import { BaseStorage, type BaseStorageOptions, checkOptionNames, StorageValidationError } from "@pepperpy/storage-core";
import { DEFAULT_ORPHAN_AGE_MS, FileDriver } from "./file-driver.js";
import { SIDECAR_PREFIX, TEMP_PREFIX } from "./sidecar.js";

/**
 * The facade of the package: `FileStorage` and its options. The work is done by
 * {@link FileDriver} (file-driver.ts) and the modules it dispatches to; see
 * docs/architecture.md for the map.
 */

/** Options of {@link FileStorage}. */
export interface FileStorageOptions extends BaseStorageOptions {
  /**
   * Directory holding the data; created when missing. Symlinks in it are resolved once, at
   * open. The same name as config's `path`. Required (or given as the first argument).
   */
  path?: string | undefined;
  /**
   * @deprecated The former name of {@link FileStorageOptions.path}; still accepted (refused
   * together with `path`), with one `DeprecationWarning` (code `PEPPERPY_DEP_FS_BASE_PATH`)
   * per process. Write `path`.
   */
  basePath?: string | undefined;
  /**
   * `true` (default): `put` resolves only after the file, its sidecar and the directory
   * entry are on disk (`fsync`), so a power loss keeps the value. `false`: writes are still
   * atomic against process crashes (temp file + rename) but the last writes may be lost,
   * or read back as an older value, after a power loss or kernel crash. Several times faster.
   */
  fsync?: boolean | undefined;
  /**
   * Age in ms after which a temp file or orphaned sidecar left by a crashed writer is
   * removed when `list` or {@link FileStorage.removeOrphans} meets it (default 10 minutes).
   * It must exceed the longest write, or a slow write in another process loses its temp file and fails.
   */
  orphanAge?: number | undefined;
}

/** The code of the warning for `FileStorage({ basePath })`, the deprecated name of `path`. */
const BASE_PATH_ALIAS_WARNING_CODE = "PEPPERPY_DEP_FS_BASE_PATH";

/** Warns once per process (across installed copies) that the option `basePath` is deprecated. */
function warnBasePathAlias(): void {
  const flag = Symbol.for(`@pepperpy/storage.warned.${BASE_PATH_ALIAS_WARNING_CODE}`);
  const seen = globalThis as Record<symbol, unknown>;
  if (seen[flag] === true) return;
  seen[flag] = true;
  process.emitWarning(
    'FileStorage option basePath is deprecated: write path (new FileStorage({ path }) or new FileStorage("./dir")). basePath still works and will be removed in the next major version.',
    "DeprecationWarning",
    BASE_PATH_ALIAS_WARNING_CODE,
  );
}

/** The options {@link FileStorage} reads besides the common ones of every storage. */
const OWN_OPTION_NAMES: readonly string[] = ["path", "basePath", "fsync", "orphanAge"];

/**
 * A storage in a directory of the local file system. Values are plain files (strings and
 * bytes raw, JSON values as JSON text), so other tools can read them, and files written by
 * other tools are readable. Writes are atomic (temp file, fsync, rename, directory fsync);
 * no key, symlink or rename race leads outside `basePath`. See the README for the layout.
 *
 * @example
 * const storage = new FileStorage("/data");
 * await storage.put("users/1.json", { name: "Ana" });
 */
export class FileStorage extends BaseStorage {
  protected declare readonly driver: FileDriver;
  /** The configured base directory (as given; symlinks in it are resolved once, at open). */
  readonly basePath: string;

  /**
   * @param options The base directory, or every option in one object with `path`.
   * @param more With a path first, the other options: `new FileStorage("/data", { fsync: false })`.
   */
  constructor(options: string | FileStorageOptions, more?: Omit<FileStorageOptions, "path" | "basePath">) {
    if (more !== undefined && (typeof options !== "string" || typeof more !== "object" || more === null)) {
      // A second argument that would be ignored is refused: options a caller believes in (fsync) must hold.
      throw new StorageValidationError("FileStorage takes a path and an options object, or one options object with path", { backend: "file" });
    }
    // A misspelt option (`{ fsnc: false }`) is refused, naming it, as config does: silently
    // ignored it would leave `fsync` on (or off) against the caller's belief.
    if (typeof options === "string") checkOptionNames(more, OWN_OPTION_NAMES.filter((n) => n !== "path" && n !== "basePath"), "FileStorage");
    else if (typeof options === "object" && options !== null) checkOptionNames(options, OWN_OPTION_NAMES, "FileStorage");
    const opts: FileStorageOptions = typeof options === "string" ? { ...more, path: options } : options;
    if (typeof opts === "object" && opts !== null && opts.path !== undefined && opts.basePath !== undefined) {
      throw new StorageValidationError("FileStorage options: give path or its former name basePath, not both", { backend: "file" });
    }
    if (typeof opts === "object" && opts !== null && opts.path === undefined && opts.basePath !== undefined) warnBasePathAlias();
    const basePath = typeof opts === "object" && opts !== null ? (opts.path ?? opts.basePath) : undefined;
    if (typeof basePath !== "string" || basePath.length === 0) {
      throw new StorageValidationError("FileStorage needs a path (a directory)", { backend: "file" });
    }
    if (basePath.includes("\u0000")) throw new StorageValidationError("Invalid path: NUL character", { backend: "file" });
    if (opts.fsync !== undefined && typeof opts.fsync !== "boolean") {
      throw new StorageValidationError("Invalid option fsync: expected true or false", { backend: "file" });
    }
    if (opts.orphanAge !== undefined && (typeof opts.orphanAge !== "number" || !(opts.orphanAge >= 0))) {
      throw new StorageValidationError("Invalid option orphanAge: expected a non-negative number of ms", { backend: "file" });
    }
    super(new FileDriver({ basePath, fsync: opts.fsync, orphanAge: opts.orphanAge, clock: opts.clock }), opts);
    this.basePath = basePath;
  }

  /** The base directory's real path (symlinks resolved), once the storage has opened it. */
  async realBasePath(): Promise<string> {
    return (await this.driver.base()).realPath;
  }

  /**
   * Removes temp files and orphaned sidecars left by crashed writers anywhere under the
   * base, when older than `olderThan` ms (default: the `orphanAge` option, 10 minutes).
   * `list` already does this for the directories it walks. Returns how many were removed.
   */
  async removeOrphans(opts: { olderThan?: number; signal?: AbortSignal } = {}): Promise<number> {
    try {
      return await this.driver.removeOrphans(opts.olderThan ?? this.driver.orphanAge, opts.signal);
    } catch (error) {
      throw this.toStorageError(error, "removeOrphans");
    }
  }
}

export { DEFAULT_ORPHAN_AGE_MS, FileDriver, SIDECAR_PREFIX, TEMP_PREFIX };
