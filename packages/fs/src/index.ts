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

import type { ResolvedStorageConfig, StoragePlugin } from "@pepperpy/storage-core";
import { FileStorage } from "./file-storage.js";

function create(config: ResolvedStorageConfig): FileStorage {
  return new FileStorage({
    path: config.path as string,
    fsync: config.fsync as boolean | undefined,
    orphanAge: config.orphanAge as number | undefined,
    timeout: config.timeout,
    maxSize: config.maxSize,
  });
}

const fields = { path: "string", fsync: "boolean", orphanAge: "duration" } as const;

/**
 * Registry plugins for config `type: file` and its alias `type: fs`
 * (`path` required; `fsync` true or false; `orphan_age` a duration).
 */
export const storagePlugins: StoragePlugin[] = [
  { type: "file", fields, required: ["path"], create },
  { type: "fs", fields, required: ["path"], create },
];
