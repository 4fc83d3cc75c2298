// `pnpm bench`: runs every system in a child process of its own and writes the report.
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Job, type JobResult, type PhaseResult, RSS_WORKLOADS, type RunOptions, type WorkloadId, WORKLOADS, parseArgs } from "./config.js";
import { type MachineInfo, type RunResults, chartSvg, computeTargets, consoleSummary, markdown } from "./report.js";
// The server helpers straight from source: the testing package's index also loads vitest.
import { type PostgresServer, type RedisServer, startPostgresServer, startRedisServer } from "@pepperpy/storage-testing";
import { type AzuriteServer, startAzurite } from "./azurite-server.js";
import { type S3Server, startS3rver } from "./s3-server.js";
import { SYSTEMS, type SystemDef } from "./systems.js";
import { median } from "./workloads.js";

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = resolve(here, "..");
const repoRoot = resolve(benchDir, "..");

function machineInfo(dir: string): MachineInfo {
  let disk = "unknown";
  try {
    const out = execFileSync("findmnt", ["-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--target", dir], { encoding: "utf8" }).trim();
    const [source, fstype, options] = out.split(/\s+/);
    let rotational = "";
    const dev = source?.replace(/^\/dev\//, "").replace(/\d+$/, "");
    try {
      rotational = execFileSync("cat", [`/sys/block/${dev}/queue/rotational`], { encoding: "utf8" }).trim() === "1" ? ", rotational" : ", non-rotational";
    } catch {
      // not a block device we can see
    }
    disk = `${fstype} on ${source}${rotational} (${options?.split(",").slice(0, 3).join(",")}), temp dir ${dir}`;
  } catch {
    // findmnt missing
  }
  const cpus = os.cpus();
  let nproc = cpus.length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    // keep os.cpus()
  }
  return {
    cpus: nproc,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    disk,
    loadAverage: { start: os.loadavg()[0]!, end: os.loadavg()[0]! },
  };
}

/** Adds a child's phases to what earlier rounds measured; the value is the median of all samples. */
function mergeWorkloads(into: Record<string, Record<string, PhaseResult>>, from: Record<string, Record<string, PhaseResult>>): void {
  for (const [w, phases] of Object.entries(from)) {
    const target = into[w] ?? {};
    into[w] = target;
    for (const [p, r] of Object.entries(phases)) {
      const prev = target[p];
      if (!prev) target[p] = r;
      else {
        prev.samples.push(...r.samples);
        prev.verified += r.verified;
        prev.value = median(prev.samples);
      }
    }
  }
}

/** Jobs of one system: one process for the plain workloads, one per RSS-measuring workload. */
function jobsOf(system: SystemDef, selected: readonly WorkloadId[], quick = false): WorkloadId[][] {
  const mine = WORKLOADS.filter((w) => system.workloads.includes(w) && selected.includes(w));
  // A smoke run measures nothing, so it saves the extra process starts.
  if (quick) return mine.length ? [mine] : [];
  const plain = mine.filter((w) => !RSS_WORKLOADS.includes(w));
  const groups: WorkloadId[][] = [];
  if (plain.length) groups.push(plain);
  for (const w of mine) if (RSS_WORKLOADS.includes(w)) groups.push([w]);
  return groups;
}

async function runChild(job: Job, jobFile: string, opts: RunOptions): Promise<JobResult> {
  await writeFile(jobFile, JSON.stringify(job));
  // The child runs with this process's flags (--conditions=source, the TypeScript hook),
  // with relative paths made absolute.
  const args = [...process.execArgv.filter((a) => !a.startsWith("--cpu-prof")).map((a) => (a.startsWith("./") ? resolve(a) : a)), "--expose-gc"];
  // One directory per job: the main thread and tsx's loader thread each write a profile.
  if (opts.profileDir) args.push("--cpu-prof", `--cpu-prof-dir=${join(resolve(opts.profileDir), `${job.system}-${job.workloads.join("+")}`)}`);
  args.push(join(here, "worker.ts"), jobFile);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: "1" } });
  const code = await new Promise<number | null>((res) => child.once("exit", (c) => res(c)));
  try {
    return JSON.parse(await readFile(job.out, "utf8")) as JobResult;
  } catch {
    return { system: job.system, status: "failed", reason: `child process exited with code ${code} without a result`, workloads: {}, skipped: {}, notes: [], durationMs: 0 };
  }
}

/** Writes docs/benchmarks.md (with the hand-written findings of bench/findings.md) and the chart. */
async function writeDocs(results: RunResults, docsDir: string): Promise<void> {
  const chartName = "benchmarks-chart.svg";
  const findings = await readFile(join(benchDir, "findings.md"), "utf8").catch(() => "");
  await mkdir(docsDir, { recursive: true });
  await writeFile(join(docsDir, chartName), chartSvg(results));
  await writeFile(join(docsDir, "benchmarks.md"), markdown(results, results, chartName, findings));
  console.log(`docs: ${join(docsDir, "benchmarks.md")}, ${join(docsDir, chartName)}`);
}

async function main(): Promise<void> {
  // `--report FILE`: render the docs again from a results file, without measuring.
  const reportAt = process.argv.indexOf("--report");
  if (reportAt >= 0) {
    const file = process.argv[reportAt + 1] ?? join(benchDir, "results", "latest.json");
    const results = JSON.parse(await readFile(file, "utf8")) as RunResults;
    results.targets = computeTargets(results);
    console.log(consoleSummary(results));
    await writeDocs(results, join(repoRoot, "docs"));
    return;
  }
  const opts = parseArgs(process.argv.slice(2), {
    resultsFile: join(benchDir, "results", "latest.json"),
    docsDir: join(repoRoot, "docs"),
  });
  const started = new Date();
  const tmp = await mkdtemp(join(opts.tmpRoot ?? os.tmpdir(), "pepperpy-bench-"));
  const selectedWorkloads = (opts.workloads ?? WORKLOADS) as readonly WorkloadId[];
  const systems = SYSTEMS.filter((s) => !opts.systems || opts.systems.includes(s.id));
  if (opts.systems) for (const id of opts.systems) if (!SYSTEMS.some((s) => s.id === id)) throw new Error(`Unknown system ${id}`);
  if (opts.profileDir) await mkdir(opts.profileDir, { recursive: true });

  let s3: S3Server | undefined;
  let s3Error: string | undefined;
  const needsS3 = systems.some((s) => (s.id === "s3" || s.id === "raw-s3") && jobsOf(s, selectedWorkloads).length > 0);
  if (needsS3) {
    try {
      s3 = await startS3rver(join(tmp, "s3rver"));
      console.error(`s3rver listening on ${s3.endpoint}`);
    } catch (error) {
      s3Error = (error as Error).message;
      console.error(`s3rver did not start: ${s3Error}`);
    }
  }

  // Real redis-server and PostgreSQL on loopback for the redis and postgres rows.
  const wants = (word: string) => systems.some((s) => s.id.includes(word) && jobsOf(s, selectedWorkloads).length > 0);
  let redis: RedisServer | undefined;
  let postgres: PostgresServer | undefined;
  let azurite: AzuriteServer | undefined;
  const serverErrors: Record<string, string> = {};
  if (wants("redis")) {
    try {
      redis = await startRedisServer();
      console.error(`redis-server listening on ${redis.url}`);
    } catch (error) {
      serverErrors.redis = (error as Error).message;
    }
  }
  if (wants("postgres")) {
    try {
      postgres = await startPostgresServer();
      console.error(`PostgreSQL listening on ${postgres.url}`);
    } catch (error) {
      serverErrors.postgres = (error as Error).message;
    }
  }
  if (wants("azure")) {
    try {
      azurite = await startAzurite(join(tmp, "azurite"));
      console.error(`Azurite listening on ${azurite.url}`);
    } catch (error) {
      serverErrors.azure = (error as Error).message;
    }
  }

  const results: RunResults = {
    startedAt: started.toISOString(),
    finishedAt: "",
    command: `pnpm bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    quick: opts.quick,
    repeats: opts.repeats,
    sizes: opts.sizes,
    machine: machineInfo(tmp),
    systems: {},
    targets: [],
    ok: true,
  };

  let n = 0;
  // Repeats are interleaved: round r runs every system once, so a change of load on the
  // machine during the run hits every system alike instead of a few of them.
  const rounds = opts.quick ? 1 : opts.repeats;
  const repeatsPerChild = opts.quick ? opts.repeats : 1;
  const runSystem = async (system: SystemDef, round: number) => {
    const groups = jobsOf(system, selectedWorkloads, opts.quick);
    if (groups.length === 0) return;
    let merged = results.systems[system.id];
    if (!merged) {
      merged = {
        kind: system.kind,
        label: system.label,
        durability: system.durability,
        baseline: system.baseline,
        versus: system.versus,
        status: "ok",
        workloads: {},
        skipped: {},
        notes: [],
        durationMs: 0,
      };
      results.systems[system.id] = merged;
    }
    if (merged.status !== "ok") return;
    for (const workloads of groups) {
      const id = `${++n}-${system.id}`;
      const job: Job = {
        system: system.id,
        workloads,
        sizes: opts.sizes,
        repeats: repeatsPerChild,
        dir: join(tmp, id),
        s3Endpoint: s3?.endpoint,
        redisUrl: redis?.url,
        postgresUrl: postgres?.url,
        azureConnectionString: azurite?.connectionString,
        out: join(tmp, `${id}.out.json`),
      };
      console.error(`▶ ${system.id}: ${workloads.join(", ")}${rounds > 1 ? ` (round ${round + 1}/${rounds})` : ""}`);
      const r = await runChild(job, join(tmp, `${id}.job.json`), opts);
      mergeWorkloads(merged.workloads, r.workloads);
      Object.assign(merged.skipped, r.skipped);
      merged.notes.push(...r.notes);
      merged.durationMs += r.durationMs;
      if (r.status !== "ok") {
        merged.status = r.status;
        const serverError = Object.entries(serverErrors).find(([word]) => system.id.includes(word));
        merged.reason =
          r.status === "unavailable" && s3Error && system.id.includes("s3")
            ? `s3rver did not start: ${s3Error}`
            : r.status === "unavailable" && serverError
              ? `${serverError[0]} did not start: ${serverError[1]}`
              : r.reason;
        console.error(`  ${system.id} ${r.status === "unavailable" ? "not available" : "FAILED"}: ${merged.reason}`);
        // A verification failure or a crash fails the run — except a peer that cannot run here.
        if (r.status === "failed" && (system.kind !== "peer" || /VERIFICATION/.test(r.reason ?? ""))) results.ok = false;
        return;
      }
      console.error(`  ${system.id} ${workloads.join(", ")} done in ${(r.durationMs / 1000).toFixed(1)} s`);
    }
  };

  try {
    // Keep the table in the order of SYSTEMS whatever order children finish in.
    for (const system of systems) if (jobsOf(system, selectedWorkloads).length) results.systems[system.id] = undefined as never;
    for (let round = 0; round < rounds; round++) {
      // One child at a time, so systems never compete for CPUs; --jobs > 1 only for smoke runs.
      const queue = [...systems];
      await Promise.all(
        Array.from({ length: Math.max(1, opts.jobs) }, async () => {
          for (let system = queue.shift(); system; system = queue.shift()) await runSystem(system, round);
        }),
      );
    }
  } finally {
    await s3?.stop();
    await redis?.stop();
    await postgres?.stop();
    await azurite?.stop();
    await rm(tmp, { recursive: true, force: true });
  }

  results.finishedAt = new Date().toISOString();
  if (results.machine.loadAverage) results.machine.loadAverage.end = os.loadavg()[0]!;
  results.targets = computeTargets(results);
  await mkdir(dirname(opts.resultsFile), { recursive: true });
  await writeFile(opts.resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  console.log(consoleSummary(results));
  console.log(`\nresults: ${relative(process.cwd(), opts.resultsFile) || opts.resultsFile}`);
  if (opts.docsDir) await writeDocs(results, opts.docsDir);
  if (!results.ok) {
    console.error("\n✖ BENCHMARK RUN FAILED: a system returned wrong results or crashed (see above).");
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
