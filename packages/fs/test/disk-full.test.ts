/**
 * Proof: a full disk is a typed StorageQuotaError, the old value stays intact and no temp
 * file is left. Runs on a 1 MiB tmpfs the test mounts itself (root needed).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { StorageQuotaError } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, expect, it } from "vitest";

const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-full-"));
const mnt = join(root, "small");
let mounted = false;
let why = "";
try {
  if (process.getuid?.() !== 0) throw new Error("not running as root");
  execFileSync("mkdir", ["-p", mnt]);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], { stdio: "pipe" });
  mounted = true;
} catch (error) {
  why = (error as Error).message.split("\n")[0] ?? "mount failed";
}
afterAll(() => {
  // Lazy unmount: succeeds even if a failed assertion left a descriptor open.
  if (mounted) execFileSync("umount", ["-l", mnt]);
  rmSync(root, { recursive: true, force: true });
});

/** Temp files of writes (not the lock holder file, which calls in flight share and which goes once idle). */
function leftovers(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((n) => n.split("/").pop()!.startsWith(".pepperpy-tmp.") && !n.endsWith(".holder"));
}

const title = "disk full on a 1 MiB tmpfs: StorageQuotaError, old value intact, no temp file left";
it.skipIf(!mounted)(mounted ? title : `${title} [skipped because a tmpfs cannot be mounted here: ${why}]`, async () => {
  const storage = new FileStorage(mnt);
  await storage.put("doc/k", "old value", { metadata: { v: "1" } });
  const attempts: [string, () => Promise<unknown>][] = [
    ["2 MiB buffer", () => storage.put("doc/k", Buffer.alloc(2 * 1024 * 1024, 1))],
    ["2 MiB stream", () => storage.put("doc/k", Readable.from((function* () { for (let i = 0; i < 32; i++) yield Buffer.alloc(64 * 1024, 2); })()))],
    ["new key, 2 MiB", () => storage.put("doc/other", Buffer.alloc(2 * 1024 * 1024, 3))],
  ];
  const seen: string[] = [];
  for (const [label, attempt] of attempts) {
    const error = await attempt().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, label).toBeInstanceOf(StorageQuotaError);
    expect((error as StorageQuotaError).retryable).toBe(false);
    seen.push(`${label}: ${(error as Error).name}`);
    expect(await storage.get("doc/k")).toBe("old value");
    expect((await storage.stat("doc/k")).metadata).toEqual({ v: "1" });
    expect(leftovers(mnt)).toEqual([]);
  }
  // Fill the disk almost to the brim, then a small write whose sidecar cannot fit either.
  let filled = 0;
  for (let i = 0; ; i++) {
    try {
      await storage.put(`fill/${i}`, Buffer.alloc(64 * 1024, 4));
      filled++;
    } catch (error) {
      expect(error).toBeInstanceOf(StorageQuotaError);
      break;
    }
  }
  expect(await storage.get("doc/k")).toBe("old value");
  expect(await storage.exists("doc/other")).toBe(false);
  expect(leftovers(mnt)).toEqual([]);
  // Space freed: writing works again.
  await storage.deleteMany(await storage.list("fill/"));
  await storage.put("doc/k", "new value");
  expect(await storage.get("doc/k")).toBe("new value");
  console.log(`[fs disk-full proof] ${seen.join("; ")}; filled ${filled} x 64 KiB then StorageQuotaError; temp files left: 0; old value intact`);
  await storage.close();
});
