// merge-results.ts: rows of several runs (fs systems by one engineer, server backends by
// another) go into one results file; the page must still say how every row was produced.
import { describe, expect, it } from "vitest";
import { FULL_SIZES, type PhaseResult } from "../src/config.js";
import { mergeResults } from "../src/merge-results.js";
import type { RunResults, SystemResult } from "../src/report.js";

function phase(value: number): PhaseResult {
  return { value, unit: "ops/s", samples: [value], verified: 1 };
}

function system(put: number, status: SystemResult["status"] = "ok"): SystemResult {
  return { kind: "ours", label: "x", durability: "d", status, workloads: { small: { "put-seq": phase(put) } }, skipped: {}, notes: [], durationMs: 1 };
}

function run(command: string, startedAt: string, systems: Record<string, SystemResult>, sizes = { ...FULL_SIZES }): RunResults {
  return {
    startedAt,
    finishedAt: startedAt,
    command,
    quick: false,
    repeats: 3,
    sizes,
    machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 1, node: "v20", os: "linux", disk: "ext4", loadAverage: { start: 1, end: 2 } },
    systems,
    targets: [],
    ok: true,
  };
}

describe("mergeResults", () => {
  it("replaces systems of the same id, appends new ones, keeps the rest, and names every run's command and rows", () => {
    const base = run("pnpm bench -- --all", "2026-11-26T20:00:00.000Z", { file: system(100), "raw-fs-durable": system(100), memory: system(5) });
    // Its S3 counts differ from the page's, but no merged row reads them: not mentioned.
    const fs = run("pnpm bench -- --systems file,raw-fs-durable", "2026-12-05T07:26:00.000Z", { file: system(300), "raw-fs-durable": system(150) }, { ...FULL_SIZES, s3SmallCount: 7 });
    const servers = run("pnpm bench -- --systems redis", "2026-12-05T08:00:00.000Z", { redis: system(40) }, { ...FULL_SIZES, smallCount: 500 });
    const merged = mergeResults(base, [fs, servers], ["fs.json", "servers.json"]);
    expect(Object.keys(merged.systems)).toEqual(["file", "raw-fs-durable", "memory", "redis"]);
    expect(merged.systems.file!.workloads.small!["put-seq"]!.value).toBe(300);
    expect(merged.systems.memory!.workloads.small!["put-seq"]!.value).toBe(5);
    expect(merged.command).toMatch(/^pnpm bench -- --all ; rows file, raw-fs-durable from a run of 2026-12-05 07:26 UTC, load 1\.0→2\.0 \(fs\.json\): pnpm bench -- --systems file,raw-fs-durable ; rows redis from a run of 2026-12-05 08:00 UTC/);
    // Rows measured at other sizes say so.
    expect(merged.command).toContain("with smallCount 500 (page: 10000): pnpm bench -- --systems redis");
    expect(merged.command).not.toContain("s3SmallCount");
    expect(merged.finishedAt).toBe("2026-12-05T08:00:00.000Z");
    // Targets are recomputed from the merged rows: FileStorage put vs raw durable is now 2×.
    const put = merged.targets.find((t) => t.name.startsWith("FileStorage put"));
    expect(put?.measured).toBeCloseTo(2, 5);
    // The base is untouched.
    expect(base.systems.file!.workloads.small!["put-seq"]!.value).toBe(100);
    expect(base.systems.redis).toBeUndefined();
  });

  it("a failed row replaced by a good one clears the failure; a merged failed run keeps it", () => {
    const base = { ...run("a", "2026-11-26T20:00:00.000Z", { file: system(1, "failed") }), ok: false };
    expect(mergeResults(base, [run("b", "2026-12-05T07:00:00.000Z", { file: system(2) })]).ok).toBe(true);
    expect(mergeResults(run("a", "2026-11-26T20:00:00.000Z", {}), [{ ...run("b", "2026-12-05T07:00:00.000Z", { file: system(2, "failed") }), ok: false }]).ok).toBe(false);
  });
});
