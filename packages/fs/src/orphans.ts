import { promises as fsp } from "node:fs";
import { RESERVED_SEGMENT_PREFIX } from "@pepperpy/storage-core";
import { type BaseDir, type DirRef, dirIdentity, openChildDir } from "./contained-dir.js";
import { isStaleLock, LOCK_PREFIX } from "./key-lock.js";
import { sidecarOwner, TEMP_PREFIX } from "./sidecar.js";

/**
 * The orphan sweeper: removes what crashed writers leave behind — temp files, sidecars
 * whose content is gone, locks whose holder is dead — once older than the orphan age.
 * `list` sweeps the directories it reads; `FileStorage.removeOrphans` the whole tree.
 */

/** Removes reserved entries of `dir` left behind by crashed writers, older than `olderThan` ms. */
export async function sweepDir(dir: DirRef, reserved: string[], names: Set<string>, olderThan: number): Promise<number> {
  let removed = 0;
  const now = Date.now();
  for (const name of reserved) {
    if (name.startsWith(LOCK_PREFIX) || name.startsWith(`${LOCK_PREFIX.slice(0, -1)}#`)) {
      // A lock is removed only when its holder is dead (or it is very old), whatever `olderThan` says.
      if (await isStaleLock(`${dir.path}/${name}`)) {
        await fsp.unlink(`${dir.path}/${name}`).then(() => removed++, () => undefined);
      }
      continue;
    }
    const isTemp = name.startsWith(TEMP_PREFIX);
    const owner = sidecarOwner(name);
    const orphanSidecar = owner !== undefined && !names.has(owner);
    if (!isTemp && !orphanSidecar) continue;
    try {
      const st = await fsp.lstat(`${dir.path}/${name}`);
      if (!st.isFile() && !st.isSymbolicLink()) continue;
      if (now - st.mtimeMs < olderThan) continue;
      // Re-check: the content may have landed since readdir.
      if (orphanSidecar && (await fsp.lstat(`${dir.path}/${owner}`).then(() => true, () => false))) continue;
      await fsp.unlink(`${dir.path}/${name}`);
      removed++;
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}

/**
 * Walks the whole tree under `prefixDir` and removes temp files and orphaned sidecars
 * older than `olderThan` ms. Returns how many were removed.
 */
export async function removeOrphans(base: BaseDir, olderThan: number, signal?: AbortSignal): Promise<number> {
  let removed = 0;
  const visit = async (dir: DirRef, seen: Set<string>): Promise<void> => {
    signal?.throwIfAborted();
    const dirents = await fsp.readdir(dir.path, { withFileTypes: true });
    const reserved: string[] = [];
    const names = new Set<string>();
    for (const d of dirents) {
      if (d.name.startsWith(RESERVED_SEGMENT_PREFIX)) reserved.push(d.name);
      else names.add(d.name);
    }
    removed += await sweepDir(dir, reserved, names, olderThan);
    for (const d of dirents) {
      if (!d.isDirectory() || d.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
      let child: DirRef;
      try {
        child = await openChildDir(base, dir, d.name, false);
      } catch {
        continue;
      }
      try {
        const id = await dirIdentity(child);
        if (seen.has(id)) continue;
        seen.add(id);
        await visit(child, seen);
      } finally {
        await child.handle?.close().catch(() => undefined);
      }
    }
  };
  await visit(base.root, new Set([await dirIdentity(base.root)]));
  return removed;
}
