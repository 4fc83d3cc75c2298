/**
 * @packageDocumentation
 * `FileStorage`: the local file-system backend of @pepperpy/storage — atomic, crash-safe
 * writes, containment inside the base directory (symlinks included), raw content files
 * with metadata in reserved sidecars.
 *
 * @module @pepperpy/storage-fs
 */
export { DEFAULT_ORPHAN_AGE_MS, FileDriver, FileStorage, type FileStorageOptions, SIDECAR_PREFIX, TEMP_PREFIX } from "./file-storage.js";
export type { SidecarRecord } from "./sidecar.js";

import { type StoragePlugin, definePlugin } from "@pepperpy/storage-core";
import { FileStorage } from "./file-storage.js";

/** One plugin per name: `definePlugin` types `create`'s config from `fields`, so no casts. */
function plugin(type: "file" | "fs"): StoragePlugin {
  return definePlugin({
    type,
    fields: { path: "string", fsync: "boolean", orphanAge: "duration" },
    required: ["path"],
    create: (config) =>
      new FileStorage({ path: config.path, fsync: config.fsync, orphanAge: config.orphanAge, timeout: config.timeout, maxSize: config.maxSize }),
  });
}

/**
 * Registry plugins for config `type: file` and its alias `type: fs`
 * (`path` required; `fsync` true or false; `orphan_age` a duration).
 */
export const storagePlugins: StoragePlugin[] = [plugin("file"), plugin("fs")];
