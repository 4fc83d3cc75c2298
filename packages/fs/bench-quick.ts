/**
 * Quick side-by-side throughput of FileStorage against raw node:fs/promises doing the same
 * work, in one process, interleaved, so the ratios hold on a loaded machine:
 * - put (fsync): temp file + write + fsync + close + rename + directory fsync (equal durability);
 * - put (no fsync): temp file + write + close + rename, against `fsync: false`;
 * - get: `readFile`; exists: `access`.
 * Keys look like the bench harness's (`bench/small/k000123`), 1 KiB values, sequential
 * and with `--concurrency` calls in flight; the median ops/s of `--repeats` rounds. Within a
 * phase, ours and raw alternate in `--chunks` chunks so a change in machine load hits both.
 * Not a test. Run: npx tsx --conditions=source packages/fs/bench-quick.ts [--ops N] [--repeats N] [--concurrency N] [--only put,get,exists]
 */
import { randomBytes } from "node:crypto";
import { constants as C, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { access, open, readFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const OPS = flag("ops", 2000);
const REPEATS = flag("repeats", 3);
const CONCURRENCY = flag("concurrency", 64);
const onlyIdx = process.argv.indexOf("--only");
const ONLY = onlyIdx >= 0 ? new Set(process.argv[onlyIdx + 1]!.split(",")) : undefined;
const value = randomBytes(1024);
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-bench-"));
const prefix = "bench/small/";
const keys = Array.from({ length: OPS }, (_, i) => `${prefix}k${String(i).padStart(6, "0")}`);

let tmpCounter = 0;
async function rawPut(rootDir: string, key: string, data: Uint8Array, fsync: boolean): Promise<void> {
  const path = join(rootDir, key);
  const dir = join(path, "..");
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  const h = await open(tmp, "wx");
  try {
    await h.writeFile(data);
    if (fsync) await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, path);
  if (fsync) {
    const d = await open(dir, C.O_RDONLY | C.O_DIRECTORY);
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}

/** Chunks per phase: ours and raw alternate chunk by chunk, so load changes hit both sides alike. */
const CHUNKS = flag("chunks", 10);

async function seq(from: number, to: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = from; i < to; i++) await fn(i);
}
async function pool(from: number, to: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) await fn(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}
type Runner = (from: number, to: number, fn: (i: number) => Promise<unknown>) => Promise<void>;
/** ops/s of `ours` and `raw` over OPS operations each, interleaved in chunks. */
async function interleaved(run: Runner, ours: (i: number) => Promise<unknown>, raw: (i: number) => Promise<unknown>, oursFirst: boolean): Promise<[number, number]> {
  let oursMs = 0;
  let rawMs = 0;
  const chunk = Math.ceil(OPS / CHUNKS);
  for (let c = 0; c < CHUNKS; c++) {
    const from = c * chunk;
    const to = Math.min(OPS, from + chunk);
    for (const side of (c % 2 === 0) === oursFirst ? [0, 1] : [1, 0]) {
      const t = performance.now();
      await run(from, to, side === 0 ? ours : raw);
      if (side === 0) oursMs += performance.now() - t;
      else rawMs += performance.now() - t;
    }
  }
  return [(OPS * 1000) / oursMs, (OPS * 1000) / rawMs];
}
function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Pair {
  name: string;
  ours: number[];
  raw: number[];
}
const results = new Map<string, Pair>();
function record(name: string, ours: number, raw: number): void {
  let p = results.get(name);
  if (!p) {
    p = { name, ours: [], raw: [] };
    results.set(name, p);
  }
  p.ours.push(ours);
  p.raw.push(raw);
}

const want = (name: string) => !ONLY || ONLY.has(name);
for (let r = 0; r < REPEATS; r++) {
  for (const fsync of [true, false]) {
    const rawRoot = join(root, `raw-${fsync}-${r}`);
    mkdirSync(join(rawRoot, prefix), { recursive: true });
    const storage = new FileStorage({ basePath: join(root, `lib-${fsync}-${r}`), fsync });
    for (const [mode, run] of [
      ["seq", seq],
      [`c${CONCURRENCY}`, pool],
    ] as const) {
      const tag = `fsync=${fsync} ${mode}`;
      // Alternate which side goes first per repeat, so drift in machine load does not favour one.
      const oursFirst = r % 2 === 0;
      const both = async (name: string, ours: (i: number) => Promise<unknown>, raw: (i: number) => Promise<unknown>) => {
        const [o, w] = await interleaved(run, ours, raw, oursFirst);
        record(`${name} ${tag}`, o, w);
      };
      await both(
        "put",
        (i) => storage.put(keys[i]!, value),
        (i) => rawPut(rawRoot, keys[i]!, value, fsync),
      );
      // Reads do not depend on the fsync option: measured once, on the fsync: true storage.
      if (fsync) {
        if (want("get")) await both("get", (i) => storage.get(keys[i]!), (i) => readFile(join(rawRoot, keys[i]!)));
        if (want("exists")) await both("exists", (i) => storage.exists(keys[i]!), (i) => access(join(rawRoot, keys[i]!)));
      }
    }
    await storage.close();
    rmSync(rawRoot, { recursive: true, force: true });
  }
}
console.log(`1 KiB values, ${OPS} ops per side and phase (interleaved in ${CHUNKS} chunks), concurrency ${CONCURRENCY}, median of ${REPEATS}, ${tmpdir()}:`);
for (const p of results.values()) {
  const o = median(p.ours);
  const w = median(p.raw);
  const ratios = p.ours.map((x, i) => x / p.raw[i]!);
  // The ratio is the median of the per-repeat ratios (each measured side by side).
  console.log(
    `${p.name.padEnd(26)} ours ${o.toFixed(0).padStart(7)} ops/s  raw ${w.toFixed(0).padStart(7)} ops/s  ratio ${median(ratios).toFixed(2)}  (per repeat: ${ratios.map((r) => r.toFixed(2)).join(" ")})`,
  );
}
rmSync(root, { recursive: true, force: true });
