/**
 * Proof: permission denied is a typed StoragePermissionError with retryable = false.
 * As root the operations run in a child process as the unprivileged user `nobody`
 * (setpriv); as a non-root user they run in this process against read-only files.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoragePermissionError } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, expect, it } from "vitest";
import { bundleChild, runChild } from "./helpers.js";

const isRoot = process.getuid?.() === 0;
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-perm-"));
chmodSync(root, 0o755);
let childDir: string | undefined;
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  if (childDir) rmSync(childDir, { recursive: true, force: true });
});

/** A base where a non-root user may read the directory but not the secret or write anything. */
async function prepare(): Promise<string> {
  const base = join(root, "data");
  const owner = new FileStorage(base);
  await owner.put("secret", "root only");
  await owner.put("ro/existing", "keep");
  await owner.put("closed/file", "x");
  await owner.close();
  chmodSync(join(base, "secret"), 0o600);
  chmodSync(join(base, "ro"), 0o555);
  chmodSync(base, 0o555);
  chmodSync(join(base, "closed"), 0o000);
  return base;
}

let setprivWorks = false;
if (isRoot) {
  try {
    execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "true"], { stdio: "pipe" });
    setprivWorks = true;
  } catch {
    setprivWorks = false;
  }
}
const canRun = !isRoot || setprivWorks;
const title = "permission denied (non-root user): StoragePermissionError, retryable = false";

it.skipIf(!canRun)(canRun ? title : `${title} [skipped because setpriv cannot switch to user nobody here]`, async () => {
  const base = await prepare();
  let results: { op: string; code?: string; name?: string; retryable?: boolean; ok?: boolean }[];
  if (isRoot) {
    const child = await bundleChild();
    childDir = child.dir;
    const r = await runChild(child.script, ["permission", base], ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    expect(r.code, r.stderr).toBe(0);
    results = JSON.parse(r.stdout);
  } else {
    const storage = new FileStorage(base);
    results = [];
    const attempt = async (op: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
        results.push({ op, ok: true });
      } catch (error) {
        const e = error as StoragePermissionError;
        results.push({ op, code: e.code, name: e.name, retryable: e.retryable });
      }
    };
    await attempt("get root-only file", () => storage.get("secret"));
    await attempt("getStream root-only file", () => storage.getStream("secret"));
    await attempt("put over root-owned key", () => storage.put("secret", "overwrite"));
    await attempt("put into read-only directory", () => storage.put("ro/new", "x"));
    await attempt("delete in read-only directory", () => storage.delete("ro/existing"));
    await attempt("list unreadable directory", () => storage.list("closed/"));
  }
  console.log(`[fs permission proof] ran as ${isRoot ? "nobody (uid 65534) via setpriv" : `uid ${process.getuid?.()}`}: ${results.map((r) => `${r.op} → ${r.name ?? "ok"} retryable=${r.retryable}`).join("; ")}`);
  expect(results).toHaveLength(6);
  for (const r of results) {
    expect(r.code, r.op).toBe("PERMISSION");
    expect(r.name, r.op).toBe("StoragePermissionError");
    expect(r.retryable, r.op).toBe(false);
  }
  // Nothing changed.
  chmodSync(join(base, "closed"), 0o755);
  const owner = new FileStorage(base);
  expect(await owner.get("secret")).toBe("root only");
  expect(await owner.get("ro/existing")).toBe("keep");
  expect(await owner.exists("ro/new")).toBe(false);
  await owner.close();
  chmodSync(base, 0o755);
  chmodSync(join(base, "ro"), 0o755);
  mkdirSync(join(base, "unused"), { recursive: true });
  writeFileSync(join(base, "unused", "f"), "");
});
