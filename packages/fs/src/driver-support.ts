import { StorageConflictError, StorageValidationError } from "@pepperpy/storage-core";
import { errorCode } from "./fd-io.js";

/** Small helpers shared by the driver's modules: key paths, error mapping, settling promises. */

/** Waits for every promise (so nothing is left running), then throws the first failure or returns the values. */
export async function settled<T extends readonly unknown[]>(...promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "rejected") throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

export function splitKey(key: string): { parents: string[]; name: string } {
  const parents = key.split("/");
  const name = parents.pop()!;
  return { parents, name };
}

/** Maps file-system conditions that mean something specific for keys. */
export function keyError(error: unknown, key: string): unknown {
  const code = errorCode(error);
  if (code === "ENAMETOOLONG") {
    return new StorageValidationError("Key has a segment longer than the file system allows (255 bytes)", { key, cause: error });
  }
  if (code === "ENOTDIR" || code === "ELOOP") {
    return new StorageConflictError("A parent of the key is a file or a symlink (a key cannot also be a prefix here)", { key, cause: error });
  }
  return error;
}

/** The temp file could not be created because its directory was removed meanwhile. */
export class DirectoryVanished extends Error {
  constructor(override readonly cause: unknown) {
    super("Directory removed during the write");
  }
}

/** Marks a fast path that could not answer: the caller takes the ordinary path. */
export const FALL_BACK = Symbol("fall back");
