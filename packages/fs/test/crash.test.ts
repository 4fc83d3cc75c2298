/**
 * Proof: kill -9 of a process in the middle of writes never leaves a torn or empty value.
 * 200 trials: a child loops `put` of self-checking values from 0 B to 1 MiB (fsync on);
 * the test kills it with SIGKILL at a random moment, then checks the key holds one whole
 * value some iteration wrote, with its metadata, and that no temp file is listed. Half the
 * lanes alternate plain bytes (no sidecar) and text with metadata on a key without an
 * extension: each value must read back with exactly its own write's info.
 */
import { once } from "node:events";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StoredEntry, readEntry } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkValue } from "./fixtures/values.js";
import { bundleChild, spawnChild, waitForLine } from "./helpers.js";

const TRIALS = 200;
const LANES = 4;
let child: { dir: string; script: string };
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-crash-"));

beforeAll(async () => {
  child = await bundleChild();
}, 60_000);
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(child.dir, { recursive: true, force: true });
});

function tempFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((n) => n.split("/").pop()!.startsWith(".pepperpy-tmp."));
}

it(`kill -9 during writes: ${TRIALS} trials leave 0 torn or empty values`, async () => {
  const stats = { trials: 0, torn: 0, empty: 0, missing: 0, metadataLost: 0, plain: 0, tempListed: 0, killedDuringWrite: 0 };
  const lane = async (laneNo: number, trials: number) => {
    const base = join(root, `lane-${laneNo}`);
    const mixed = laneNo % 2 === 1;
    const key = mixed ? "k/value" : "k/value.txt";
    const reader = new FileStorage(base);
    let lastIteration = -1;
    let tempsBefore = 0;
    for (let t = 0; t < trials; t++) {
      const proc = spawnChild(child.script, ["crash-writer", base, key, String(laneNo * 10_000 + t), ...(mixed ? ["mixed"] : [])]);
      await waitForLine(proc, "ready");
      // A random moment within the next 40 ms: inside small writes, big writes, fsyncs and renames.
      await new Promise((r) => setTimeout(r, Math.random() * 40));
      const exited = once(proc, "exit");
      proc.kill("SIGKILL");
      await exited;
      stats.trials++;
      let text: string;
      let got: StoredEntry;
      try {
        got = await readEntry(reader, key);
        text = Buffer.from(got.data).toString("utf8");
      } catch {
        stats.missing++;
        continue;
      }
      if (text.length === 0) stats.empty++;
      const parsed = checkValue(text);
      if (!parsed) {
        stats.torn++;
        continue;
      }
      if (parsed.iteration !== lastIteration) lastIteration = parsed.iteration;
      // A fresh reader: nothing remembered, the sidecar (or its absence) read from disk.
      const fresh = new FileStorage(base);
      const info = await fresh.stat(key);
      await fresh.close();
      if (info.etag !== got.info.etag) stats.metadataLost++;
      else if (!mixed) {
        if (info.valueType !== "text" || info.contentType !== "text/plain; charset=utf-8") stats.metadataLost++;
      } else if (parsed.iteration % 2 === 1) {
        if (info.valueType !== "bytes" || info.contentType !== "application/octet-stream" || Object.keys(info.metadata).length > 0) stats.metadataLost++;
        else stats.plain++;
      } else if (info.valueType !== "text" || info.metadata.i !== String(parsed.iteration)) stats.metadataLost++;
      const listed = await reader.list("");
      if (listed.some((k) => k !== key)) stats.tempListed++;
      // A new orphan temp file means this kill landed inside a write (after its temp file existed).
      const temps = tempFiles(base).length;
      if (temps > tempsBefore) stats.killedDuringWrite++;
      tempsBefore = temps;
    }
    // Orphans left by the kills are never listed, and the sweep removes them.
    const orphansBefore = tempFiles(base).length;
    const removed = await reader.removeOrphans({ olderThan: 0 });
    expect(removed).toBeGreaterThanOrEqual(orphansBefore);
    expect(tempFiles(base)).toEqual([]);
    expect(await reader.list("")).toEqual([key]);
    await reader.close();
    return { orphansBefore, removed };
  };
  const sweeps = await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i, TRIALS / LANES)));
  const orphans = sweeps.reduce((a, s) => a + s.orphansBefore, 0);
  console.log(
    `[fs crash proof] trials=${stats.trials} torn=${stats.torn} empty=${stats.empty} missing=${stats.missing} ` +
      `metadataLost=${stats.metadataLost} plainBytesRead=${stats.plain} tempFilesListed=${stats.tempListed} ` +
      `killsThatLeftATempFile=${stats.killedDuringWrite} orphanTempFilesRemovedBySweep=${orphans}`,
  );
  expect(stats.trials).toBe(TRIALS);
  expect(stats.torn).toBe(0);
  expect(stats.empty).toBe(0);
  expect(stats.missing).toBe(0);
  expect(stats.metadataLost).toBe(0);
  expect(stats.plain).toBeGreaterThan(0);
  expect(stats.tempListed).toBe(0);
}, 240_000);
