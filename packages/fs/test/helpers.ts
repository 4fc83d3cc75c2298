import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Bundles `fixtures/child.ts` (with FileStorage from source) into one ESM file in a
 * world-readable temp directory, so children start as plain `node` processes — also as
 * the unprivileged user of the permission proof.
 */
export async function bundleChild(): Promise<{ dir: string; script: string }> {
  const dir = mkdtempSync(join(tmpdir(), "pepperpy-fs-child-"));
  chmodSync(dir, 0o755);
  const script = join(dir, "child.mjs");
  await build({
    entryPoints: [join(here, "fixtures/child.ts")],
    outfile: script,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["source"],
    logLevel: "error",
    // zod and friends are CommonJS-free ESM; a require shim covers any CJS dependency.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  chmodSync(script, 0o644);
  return { dir, script };
}

/** Spawns `node script ...args` (optionally through a wrapper such as setpriv). */
export function spawnChild(script: string, args: string[], wrapper: string[] = []): ChildProcess {
  const argv = [...wrapper, process.execPath, script, ...args];
  return spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
}

/** Output and exit of a child run to completion. */
export function runChild(script: string, args: string[], wrapper: string[] = []): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(script, args, wrapper);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout, stderr, code }));
  });
}

/** Resolves once the child printed `line` on stdout; rejects if it exits first. */
export function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = "";
    let stderr = "";
    const onData = (d: Buffer) => {
      buf += d;
      if (buf.includes(`${line}\n`)) {
        child.stdout!.off("data", onData);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before "${line}": ${stderr}`)));
  });
}
