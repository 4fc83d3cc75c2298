// One child process: runs the given workloads of one system and writes a JobResult.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UnavailableError, VerificationError } from "./adapter.js";
import type { Job, JobResult } from "./config.js";
import { systemById } from "./systems.js";
import { RUNNERS } from "./workloads.js";

async function main(): Promise<void> {
  const jobFile = process.argv[2];
  if (!jobFile) throw new Error("usage: worker.ts JOB.json");
  const job = JSON.parse(await readFile(jobFile, "utf8")) as Job;
  const system = systemById(job.system);
  const started = performance.now();
  const result: JobResult = {
    system: job.system,
    status: "ok",
    workloads: {},
    skipped: {},
    notes: [],
    durationMs: 0,
  };
  const log = (m: string) => process.stderr.write(`[${job.system}] ${m}\n`);
  let exitCode = 0;
  // A library failing outside the awaited call (a stray rejection) still ends in a result.
  const stray = async (error: unknown) => {
    log(`uncaught: ${(error as Error)?.stack ?? String(error)}`);
    result.status = "failed";
    result.reason = `uncaught ${(error as Error)?.name ?? "error"}: ${(error as Error)?.message ?? String(error)}`;
    result.durationMs = performance.now() - started;
    await writeFile(job.out, JSON.stringify(result, null, 2));
    process.exit(2);
  };
  process.on("unhandledRejection", stray);
  process.on("uncaughtException", stray);
  try {
    for (const workload of job.workloads) {
      const dir = join(job.dir, workload);
      await mkdir(dir, { recursive: true });
      // A bucket of its own per job (the pid): repeats run in separate jobs against one server.
      const bucket = `b-${process.pid}-${job.system}-${workload}`.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63);
      const adapter = await system.create({
        dir,
        s3Endpoint: job.s3Endpoint,
        redisUrl: job.redisUrl,
        postgresUrl: job.postgresUrl,
        azureConnectionString: job.azureConnectionString,
        bucket,
        smallCount: job.sizes.smallCount,
      });
      const runner = RUNNERS[workload];
      if ((workload === "stream" && !adapter.putStream) || (workload === "overhead" && !adapter.paired) || !runner) {
        result.skipped[workload] = workload === "overhead" ? "the system is not a layer with a paired bare backend" : "the system has no streaming API in this harness";
        await adapter.close();
        continue;
      }
      log(`${workload}…`);
      try {
        result.workloads[workload] = await runner({ system, adapter, sizes: job.sizes, repeats: job.repeats, log });
      } finally {
        await adapter.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
  } catch (error) {
    const e = error as Error;
    if (error instanceof UnavailableError) {
      result.status = "unavailable";
      result.reason = e.message;
    } else {
      result.status = "failed";
      result.reason = `${e.name}: ${e.message}`;
      log(e.stack ?? String(e));
      exitCode = error instanceof VerificationError ? 3 : 2;
    }
  }
  result.durationMs = performance.now() - started;
  await writeFile(job.out, JSON.stringify(result, null, 2));
  // Some libraries keep handles open (sockets, timers); the result is written, so leave.
  process.exit(exitCode);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
