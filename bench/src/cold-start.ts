/**
 * Cold start (issue 17, item 5): how long a fresh Node process takes to
 * `import("@pepperpy/storage")`, build a `FileStorage` and do one `put` and one `get`,
 * beside unstorage with its fs driver doing the same (`createStorage({ driver: fs(...) })`,
 * `setItem`, `getItem`). Median of 5 fresh processes each, alternating, after one
 * discarded warm-up process each (so both read their files from the page cache).
 *
 * Both are loaded as a user loads them: plain `node`, no loader, no `--conditions=source`,
 * bare specifiers resolved from this package's node_modules, so `@pepperpy/storage`
 * resolves through its `exports` to the built `dist/index.js` (ESM) and unstorage to its
 * published build. Build first:
 *
 *   pnpm --filter "@pepperpy/storage..." run build
 *   cd bench && node --import ./src/register.mjs src/cold-start.ts [runs]
 *
 * Two figures per run: `in-process` is from the script's first line to the `get`'s answer
 * (import + construct + put + get); `process` is the whole process, spawn to exit,
 * including Node's own start-up (the same for both).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const runs = Number(process.argv[2] ?? 5);

const ours = (dir: string) => `
const t0 = performance.now();
const { FileStorage } = await import("@pepperpy/storage");
const t1 = performance.now();
const s = new FileStorage(${JSON.stringify(dir)});
await s.put("k", "hello");
if ((await s.get("k")) !== "hello") throw new Error("wrong value");
const t2 = performance.now();
await s.close();
console.log(JSON.stringify({ importMs: t1 - t0, totalMs: t2 - t0 }));`;

const unstorage = (dir: string) => `
const t0 = performance.now();
const { createStorage } = await import("unstorage");
const { default: fsDriver } = await import("unstorage/drivers/fs");
const t1 = performance.now();
const s = createStorage({ driver: fsDriver({ base: ${JSON.stringify(dir)} }) });
await s.setItem("k", "hello");
if ((await s.getItem("k")) !== "hello") throw new Error("wrong value");
const t2 = performance.now();
await s.dispose();
console.log(JSON.stringify({ importMs: t1 - t0, totalMs: t2 - t0 }));`;

interface Sample {
  importMs: number;
  totalMs: number;
  processMs: number;
}

function runOnce(script: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: benchDir, env: { ...process.env, NODE_OPTIONS: "" } }, (error, stdout, stderr) => {
      const processMs = performance.now() - start;
      if (error) return reject(new Error(`${error.message}\n${stderr}`));
      const line = stdout.trim().split("\n").at(-1)!;
      resolve({ ...(JSON.parse(line) as { importMs: number; totalMs: number }), processMs });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const storageEntry = createRequire(join(benchDir, "package.json")).resolve("@pepperpy/storage/package.json");
if (!existsSync(join(storageEntry, "..", "dist", "index.js"))) {
  console.error('@pepperpy/storage is not built: run `pnpm --filter "@pepperpy/storage..." run build` first');
  process.exit(1);
}

const dir = await mkdtemp(join(tmpdir(), "pp-cold-start-"));
try {
  const systems = [
    { name: "@pepperpy/storage FileStorage", script: ours(join(dir, "ours")) },
    { name: "unstorage + fs driver", script: unstorage(join(dir, "unstorage")) },
  ];
  const samples = new Map<string, Sample[]>(systems.map((s) => [s.name, []]));
  for (const s of systems) await runOnce(s.script); // warm-up: page cache, not measured
  for (let i = 0; i < runs; i++) {
    for (const s of i % 2 ? [...systems].reverse() : systems) samples.get(s.name)!.push(await runOnce(s.script));
  }
  console.log(`node ${process.version}, ${runs} fresh processes each (median; all runs in brackets)`);
  const result: Record<string, { importMs: number; totalMs: number; processMs: number }> = {};
  for (const [name, xs] of samples) {
    const m = { importMs: median(xs.map((x) => x.importMs)), totalMs: median(xs.map((x) => x.totalMs)), processMs: median(xs.map((x) => x.processMs)) };
    result[name] = m;
    const all = xs.map((x) => x.totalMs.toFixed(0)).join(", ");
    console.log(`${name.padEnd(32)} import ${m.importMs.toFixed(1)} ms, import+new+put+get ${m.totalMs.toFixed(1)} ms [${all}], whole process ${m.processMs.toFixed(1)} ms`);
  }
  const [a, b] = systems.map((s) => result[s.name]!);
  console.log(`ratio ours / unstorage: import+new+put+get ${(a!.totalMs / b!.totalMs).toFixed(2)}x, import ${(a!.importMs / b!.importMs).toFixed(2)}x, whole process ${(a!.processMs / b!.processMs).toFixed(2)}x (target: within 2x)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
