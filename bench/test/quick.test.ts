// Smoke test of the benchmark harness: `pnpm bench --quick` runs every system on tiny
// sizes and checks every result. No timing is asserted — only that the run completed and
// that what it measured was verified.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunResults } from "../src/report.js";
import { OBJECT_STORE_SYSTEMS } from "../src/workloads.js";

const benchDir = resolve(import.meta.dirname, "..");

describe("pnpm bench --quick", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("completes with every result verified", { timeout: 170_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), "pepperpy-bench-test-"));
    const out = join(dir, "quick.json");
    const child = spawn(process.execPath, ["--conditions=source", "--import", "./src/register.mjs", "src/run.ts", "--quick", "--out", out, "--no-docs"], {
      cwd: benchDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (c: Buffer) => {
      log += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      log += c.toString();
    });
    const code = await new Promise<number | null>((res) => child.once("exit", res));
    expect(code, log.slice(-4000)).toBe(0);

    const results = JSON.parse(await readFile(out, "utf8")) as RunResults;
    expect(results.ok).toBe(true);
    expect(results.quick).toBe(true);

    // Our backends and the raw baselines always run; a peer may be "unavailable" with a reason.
    // Azurite is an npm dependency of the harness, so the Azure Blob rows run wherever it does.
    for (const id of ["memory", "file", "map", "raw-fs", "raw-fs-durable", "lru", "raw-zlib", "raw-crypto", "azure-blob", "raw-azure-blob"]) {
      expect(results.systems[id]?.status, `${id}: ${results.systems[id]?.reason}`).toBe("ok");
    }
    for (const [id, s] of Object.entries(results.systems)) {
      if (s.status === "unavailable") expect(s.reason, id).toBeTruthy();
      else expect(s.status, `${id}: ${s.reason}`).toBe("ok");
    }

    // Every read phase checked every value it read.
    const c = `c${results.sizes.concurrency}`;
    for (const id of ["memory", "file", "map", "raw-fs", "azure-blob", "raw-azure-blob"]) {
      // The object stores (S3, Azure Blob) run the small workload with their own count.
      const n = OBJECT_STORE_SYSTEMS.has(id) ? results.sizes.s3SmallCount : results.sizes.smallCount;
      const small = results.systems[id]!.workloads.small!;
      for (const p of ["get-seq", `get-${c}`, "exists-seq", `exists-${c}`, "list", "delete-seq", `delete-${c}`]) {
        expect(small[p]?.verified, `${id} ${p}`).toBe(n * results.repeats);
        expect(small[p]!.value).toBeGreaterThan(0);
      }
      expect(results.systems[id]!.workloads.list!["list-prefix"]!.verified).toBeGreaterThan(0);
      expect(results.systems[id]!.workloads.large!.get!.verified).toBe(results.sizes.largeCount * results.repeats);
    }
    // The ratio targets were computed from the same run.
    expect(results.targets.length).toBeGreaterThan(10);
    expect(results.targets.find((t) => t.name.startsWith("MemoryStorage"))?.measured).toBeGreaterThan(0);
    // A server backend beside its raw client: an information line with a measured ratio.
    const azure = results.targets.find((t) => t.name.startsWith("AzureBlobStorage vs raw"));
    expect(azure?.measured).toBeGreaterThan(0);
    expect(azure?.min).toBeUndefined();
  });
});
