import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Bundles `fixtures/child.ts` (SqliteStorage from source) into one ESM file under this
 * package's node_modules, so the child finds better-sqlite3 (kept external: it is native)
 * the way an installed application does.
 */
export async function bundleChild(): Promise<string> {
  const dir = join(here, "..", "node_modules", ".pepperpy-test");
  mkdirSync(dir, { recursive: true });
  const script = join(dir, `child-${process.pid}.mjs`);
  await build({
    entryPoints: [join(here, "fixtures/child.ts")],
    outfile: script,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["source"],
    external: ["better-sqlite3"],
    logLevel: "error",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return script;
}

/** Spawns `node script ...args` with piped stdout/stderr. */
export function spawnChild(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

/** Everything a child printed, and how it ended. */
export function runChild(script: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(script, args);
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child did not exit within ${timeoutMs} ms: ${stdout} ${stderr}`));
    }, timeoutMs);
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}
