// Merges the systems of one or more results files into results/latest.json (or `--into FILE`):
// a system of the same id is replaced, a new one appended; the command of every merged run is
// appended to `command`, naming the rows it produced, so the page says how each row was made;
// the targets are computed again. Docs are not rewritten: run `pnpm bench -- --report` after.
//   node --conditions=source --import ./src/register.mjs src/merge-results.ts [--into FILE] RUN.json [RUN2.json …]
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Sizes } from "./config.js";
import { computeTargets, type RunResults } from "./report.js";

const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The sizes each workload reads (S3 systems read the s3 counts instead of the small and list ones). */
const SIZES_OF: Record<string, (keyof Sizes)[]> = {
  small: ["smallCount", "smallSize", "concurrency", "warmupMs", "minPhaseMs"],
  medium: ["mediumCount", "mediumSize"],
  large: ["largeCount", "largeSize"],
  list: ["listKeys"],
  stream: ["streamSize"],
  upload: ["uploadSize"],
  overhead: ["smallCount", "smallSize", "minPhaseMs"],
};

/**
 * Sizes and repeats where `run` differs from `base`, among those its systems' workloads
 * read: its rows then measured other amounts than the page states, which the note says.
 */
function differences(base: RunResults, run: RunResults): string[] {
  const out: string[] = [];
  if (run.repeats !== base.repeats) out.push(`repeats ${run.repeats} (page: ${base.repeats})`);
  const read = new Set<keyof Sizes>();
  for (const [id, s] of Object.entries(run.systems)) {
    for (const w of Object.keys(s.workloads)) for (const k of SIZES_OF[w] ?? []) read.add(k);
    if (id.includes("s3")) for (const k of ["s3SmallCount", "s3ListKeys"] as const) read.add(k);
  }
  for (const k of Object.keys(run.sizes) as (keyof Sizes)[]) {
    if (read.has(k) && run.sizes[k] !== base.sizes[k]) out.push(`${k} ${run.sizes[k]} (page: ${base.sizes[k]})`);
  }
  if (run.quick) out.push("a --quick run (its numbers are not meaningful)");
  return out;
}

/**
 * `base` with the systems of each run in `runs` merged in (`names[i]` names run i in the
 * note). Returns a new object; `base` is not changed. Rows measured with other sizes or
 * repeats than the page's are merged too, and the note says how they differ.
 */
export function mergeResults(base: RunResults, runs: readonly RunResults[], names: readonly string[] = []): RunResults {
  const out: RunResults = structuredClone(base);
  runs.forEach((run, i) => {
    const ids = Object.keys(run.systems);
    if (ids.length === 0) return;
    for (const id of ids) out.systems[id] = structuredClone(run.systems[id]!);
    const load = run.machine.loadAverage ? `, load ${run.machine.loadAverage.start.toFixed(1)}→${run.machine.loadAverage.end.toFixed(1)}` : "";
    const diff = differences(base, run);
    const from = names[i] ? ` (${names[i]})` : "";
    out.command += ` ; rows ${ids.join(", ")} from a run of ${run.startedAt.slice(0, 16).replace("T", " ")} UTC${load}${from}${diff.length > 0 ? `, with ${diff.join(", ")}` : ""}: ${run.command}`;
    if (run.finishedAt > out.finishedAt) out.finishedAt = run.finishedAt;
  });
  // A system that failed is still one (a merged run may also have replaced the failed row).
  out.ok = runs.every((r) => r.ok) && (base.ok || Object.values(out.systems).every((s) => s.status !== "failed"));
  out.targets = computeTargets(out);
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  let into = join(benchDir, "results", "latest.json");
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--into") into = args[++i] ?? "";
    else if (args[i] === "--help" || args[i] === "-h") {
      console.log("merge-results.ts [--into FILE] RUN.json [RUN2.json …]: merges the systems of each run into FILE (default results/latest.json)");
      return;
    } else files.push(args[i]!);
  }
  if (files.length === 0 || !into) throw new Error("merge-results: name at least one results file to merge (and --into FILE, if not results/latest.json)");
  const read = async (f: string): Promise<RunResults> => JSON.parse(await readFile(f, "utf8")) as RunResults;
  const base = await read(into);
  const runs = await Promise.all(files.map(read));
  for (const [i, run] of runs.entries()) {
    const diff = differences(base, run);
    if (diff.length > 0) console.error(`note: ${files[i]} differs from the page: ${diff.join(", ")} (said in the command note)`);
  }
  const merged = mergeResults(base, runs);
  await writeFile(into, `${JSON.stringify(merged, null, 2)}\n`);
  for (const [i, run] of runs.entries()) console.log(`${files[i]}: ${Object.keys(run.systems).join(", ")} merged into ${into}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
