/**
 * Proof: symlinks planted inside basePath that point outside it (to a file, to a
 * directory, in a cycle; planted before an operation or swapped in while operations run)
 * never lead a read, write, delete or list outside basePath.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageConflictError, StorageNotFoundError, isStorageError } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, beforeEach, expect, it } from "vitest";

const root = realpathSync(mkdtempSync(join(tmpdir(), "pepperpy-fs-links-")));
const base = join(root, "data");
const outside = join(root, "outside");
afterAll(() => rmSync(root, { recursive: true, force: true }));

function outsideState(): string {
  const parts: string[] = [];
  const visit = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        parts.push(`${p}/`);
        visit(p);
      } else parts.push(`${p}:${createHash("sha1").update(readFileSync(p)).digest("hex")}:${st.mtimeMs}`);
    }
  };
  visit(outside);
  return parts.join("\n");
}

beforeEach(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
  mkdirSync(join(outside, "dir"), { recursive: true });
  writeFileSync(join(outside, "secret.txt"), "OUTSIDE SECRET");
  writeFileSync(join(outside, "dir", "file"), "OUTSIDE FILE");
  mkdirSync(join(base, "sub"), { recursive: true });
  writeFileSync(join(base, "sub", "inside"), "inside");
  symlinkSync(join(outside, "secret.txt"), join(base, "lf")); // file link
  symlinkSync(join(outside, "dir"), join(base, "ld")); // directory link
  symlinkSync("../../outside", join(base, "sub", "up")); // relative directory link
  symlinkSync(".", join(base, "loop")); // cycle
  symlinkSync("..", join(base, "sub", "loop2")); // cycle
  symlinkSync(join(outside, "secret.txt"), join(base, ".pepperpy-meta.k")); // planted sidecar
});

async function typed(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (error) {
    if (!isStorageError(error)) throw error;
    return error.code;
  }
}

it("symlinks planted before operations: nothing outside is read, written, deleted or listed", async () => {
  const storage = new FileStorage(base);
  const before = outsideState();
  const outcomes: Record<string, string> = {};
  const record = async (name: string, p: Promise<unknown>) => {
    outcomes[name] = await typed(p);
  };
  // Reads through links find nothing.
  await expect(storage.get("lf")).rejects.toBeInstanceOf(StorageNotFoundError);
  await expect(storage.getStream("lf")).rejects.toBeInstanceOf(StorageNotFoundError);
  await expect(storage.get("ld/file")).rejects.toBeInstanceOf(StorageNotFoundError);
  await expect(storage.get("sub/up/secret.txt")).rejects.toBeInstanceOf(StorageNotFoundError);
  await expect(storage.stat("ld/file")).rejects.toBeInstanceOf(StorageNotFoundError);
  expect(await storage.exists("lf")).toBe(false);
  expect(await storage.exists("loop/sub/inside")).toBe(false);
  await expect(storage.copy("ld/file", "copied")).rejects.toBeInstanceOf(StorageNotFoundError);
  await expect(storage.move("sub/up/secret.txt", "moved")).rejects.toBeInstanceOf(StorageNotFoundError);
  // Writes under a linked directory are conflicts; nothing appears outside.
  await expect(storage.put("ld/new", "x")).rejects.toBeInstanceOf(StorageConflictError);
  await expect(storage.put("sub/up/dir/new", "x")).rejects.toBeInstanceOf(StorageConflictError);
  await expect(storage.put("loop/sub/x", "x")).rejects.toBeInstanceOf(StorageConflictError);
  await record("copy to ld/c", storage.copy("sub/inside", "ld/c"));
  await record("move to ld/m", storage.move("sub/inside", "ld/m"));
  // Deleting through a link never deletes the target.
  await record("delete ld/file", storage.delete("ld/file"));
  await record("delete sub/up/secret.txt", storage.delete("sub/up/secret.txt"));
  // The sidecar link is never read (k has no metadata) and is replaced, not followed, by a put.
  writeFileSync(join(base, "k"), "plain");
  expect((await storage.stat("k")).metadata).toEqual({});
  await storage.put("k", "mine", { metadata: { a: "1" } });
  expect(lstatSync(join(base, ".pepperpy-meta.k")).isSymbolicLink()).toBe(false);
  // list terminates on cycles and lists only real files inside.
  expect(await storage.list("")).toEqual(["k", "sub/inside"]);
  expect(await storage.list("ld/")).toEqual([]);
  expect(await storage.list("sub/up")).toEqual([]);
  // A put on a file link replaces the link itself; the target keeps its content.
  await storage.put("lf", "replaced");
  expect(lstatSync(join(base, "lf")).isSymbolicLink()).toBe(false);
  expect(await storage.get("lf")).toBe("replaced");
  expect(outsideState()).toEqual(before);
  expect(outcomes).toEqual({
    "copy to ld/c": "CONFLICT",
    "move to ld/m": "CONFLICT",
    "delete ld/file": "ok",
    "delete sub/up/secret.txt": "ok",
  });
  console.log(`[fs symlink proof] planted before: file link, dir link, relative dir link, 2 cycles, sidecar link — outside reads=0 writes=0 deletes=0 listed=0`);
  await storage.close();
});

it("symlinks swapped in while operations run: nothing outside is read, written, deleted or listed", async () => {
  const storage = new FileStorage({ path: base, fsync: false });
  const before = outsideState();
  const until = Date.now() + 2500;
  let swaps = 0;
  // The attacker: flips base/race between a real directory and a link to the outside directory.
  const attacker = (async () => {
    const real = join(base, "race");
    const parked = join(base, "race-parked");
    mkdirSync(real, { recursive: true });
    writeFileSync(join(real, "file"), "inside");
    const link = join(root, "race-link");
    while (Date.now() < until) {
      try {
        renameSync(real, parked);
        symlinkSync(join(outside, "dir"), link);
        renameSync(link, real); // base/race is now a link to outside/dir
        await new Promise((r) => setImmediate(r));
        rmSync(real);
        renameSync(parked, real); // and a real directory again
        swaps++;
      } catch {
        // The storage may have removed or created entries meanwhile; keep flipping.
        rmSync(link, { force: true });
        try {
          if (lstatSync(real).isSymbolicLink()) rmSync(real);
        } catch {}
        try {
          renameSync(parked, real);
        } catch {}
        mkdirSync(real, { recursive: true });
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  let reads = 0;
  let escapes = 0;
  let ops = 0;
  const worker = async () => {
    while (Date.now() < until) {
      ops += 5;
      await typed(storage.put("race/new", "written by storage"));
      await typed(storage.put("race/file", "inside"));
      const v = await storage.getText("race/file").catch(() => undefined);
      if (v !== undefined) {
        reads++;
        if (v !== "inside") escapes++;
      }
      const listed = await storage.listPage("race/").catch(() => ({ items: [] }));
      for (const item of listed.items) {
        const value = await storage.getText(item.key).catch(() => undefined);
        if (value !== undefined && value !== "inside" && value !== "written by storage") escapes++;
      }
      await typed(storage.delete("race/file"));
      writeFileSync(join(base, "race-parked-marker"), ""); // keep the base busy
    }
  };
  await Promise.all([attacker, worker(), worker()]);
  expect(swaps).toBeGreaterThan(0);
  expect(escapes).toBe(0);
  expect(outsideState()).toEqual(before);
  expect(readdirSync(join(outside, "dir"))).toEqual(["file"]);
  console.log(`[fs symlink race proof] ${swaps} dir↔symlink swaps during ${ops} operations (${reads} successful reads): outside reads=${escapes} writes=0 deletes=0`);
  await storage.close();
});

it("a cached directory moved outside the base while reads are in flight: calls that start after the move never follow it", async () => {
  const storage = new FileStorage({ path: base, fsync: false });
  for (let i = 0; i < 8; i++) await storage.put(`m/k${i}`, "inside");
  for (let i = 0; i < 8; i++) expect(await storage.getText(`m/k${i}`)).toBe("inside"); // cached directory and records
  const moved = join(outside, "m");
  let followed = 0;
  for (let round = 0; round < 20; round++) {
    // In flight (they hold the cached directory), then the move, then more calls: those share a check that starts after the move.
    const early = Array.from({ length: 32 }, (_, i) => (i % 2 ? storage.exists(`m/k${i % 8}`) : storage.getText(`m/k${i % 8}`).catch(() => undefined)));
    renameSync(join(base, "m"), moved);
    const late = await Promise.all(Array.from({ length: 32 }, (_, i) => (i % 2 ? storage.exists(`m/k${i % 8}`) : storage.getText(`m/k${i % 8}`).catch(() => undefined))));
    followed += late.filter((v) => v !== false && v !== undefined).length;
    await Promise.all(early);
    // Back inside, cached again.
    renameSync(moved, join(base, "m"));
    for (let i = 0; i < 8; i++) expect(await storage.getText(`m/k${i}`)).toBe("inside");
  }
  expect(followed).toBe(0);
  console.log("[fs moved-dir proof] 20 rounds × 32 calls started after a cached directory moved out of the base: 0 followed it");
  await storage.close();
});
