/**
 * The tour: every example of the storage guide, run end to end — first on files under
 * ./data (the embedded default), then on a local S3 server (s3rver) that the tour starts
 * and stops — printing what happens and, at the end, the metrics of both runs.
 * Exits 1 if any example fails.
 *
 *   node --conditions=source --import tsx examples/tour.ts     (or: pnpm tour)
 */
import { relative, resolve } from "node:path";
import { FileStorage, MetricsStorage, S3Storage } from "@pepperpy/storage";
import { startS3Server } from "@pepperpy/storage-testing";
import { EXAMPLES } from "./index.js";
import type { ExampleContext } from "./support.js";

const started = performance.now();
const failures: string[] = [];
let passed = 0;
const print = (line = "") => console.log(line);

async function runPart(ctx: Omit<ExampleContext, "log">): Promise<void> {
  for (const example of EXAMPLES) {
    if (example.kinds && !example.kinds.includes(ctx.kind)) continue;
    print(`\n  ${example.title}  (${example.file})`);
    const t0 = performance.now();
    try {
      await example.run({ ...ctx, log: (line) => print(`    ${line}`) });
      passed++;
      print(`    ok (${Math.round(performance.now() - t0)} ms)`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push(`${example.title} on ${ctx.kind}: ${message}`);
      print(`    FAILED: ${message}`);
    }
  }
}

function describeMetrics(label: string, storage: MetricsStorage): void {
  const m = storage.getMetrics();
  const errors = Object.entries(m.errors).map(([code, n]) => `${n} ${code}`).join(", ");
  print(
    `  ${label}: ${m.operationsCount} operations, ${m.totalBytes.toLocaleString("en-US")} bytes moved, average latency ${m.averageLatency.toFixed(2)} ms` +
      (m.errorsCount ? `, ${m.errorsCount} errors provoked on purpose (${errors})` : ""),
  );
}

print("@pepperpy/storage tour: every example of the storage guide, run for real.");
print("Each example is also a file in examples/ you can run or copy.");

// PEPPERPY_TOUR_DATA: where the files go (default ./data); the test suite points it at a temp directory.
// biome-ignore lint/suspicious/noUndeclaredEnvVars: read only by the tour, not a build input
const dataDir = resolve(process.env.PEPPERPY_TOUR_DATA || "data");
const shown = relative(process.cwd(), dataDir);
print(`\nPart 1 of 2: files under ${shown && !shown.startsWith("..") ? `./${shown}` : dataDir} (FileStorage, the embedded default)`);
const files = new MetricsStorage({ backend: new FileStorage({ path: dataDir }) });
await runPart({ backend: files, kind: "files", dataDir });

let s3: MetricsStorage | undefined;
let server: Awaited<ReturnType<typeof startS3Server>> | undefined;
try {
  server = await startS3Server({ bucket: "tour" });
  print(`\nPart 2 of 2: a local S3 server (s3rver at ${server.endpoint}, bucket "tour"), started by the tour`);
  s3 = new MetricsStorage({ backend: new S3Storage({ bucket: "tour", clientConfig: server.clientConfig }) });
  await runPart({ backend: s3, kind: "s3", dataDir, s3: { server, bucket: "tour" } });
} catch (error) {
  failures.push(`starting the S3 server: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  const closing: Promise<unknown>[] = [files.close()];
  if (s3) closing.push(s3.close());
  await Promise.allSettled(closing);
  if (server) await server.stop();
}

print("\nMetrics (a MetricsStorage wrapped each part's backend):");
describeMetrics("files", files);
if (s3) describeMetrics("s3   ", s3);

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failures.length === 0) {
  print(`\nAll ${passed} examples passed in ${seconds} s. Files are in ./data; the S3 server has been stopped.`);
} else {
  print(`\n${failures.length} example(s) failed (${passed} passed) in ${seconds} s:`);
  for (const f of failures) print(`  - ${f}`);
  process.exitCode = 1;
}

