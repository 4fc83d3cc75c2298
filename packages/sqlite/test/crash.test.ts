/**
 * Proof: kill -9 of a process in the middle of writes never loses an acknowledged write and
 * never leaves a torn value. A child loops: overwrite `hot` with a self-checking value
 * (0 B to 256 KiB, metadata { i }), create `acked/<i>`, print `ack <i>`. The test kills it with
 * SIGKILL at a random moment, then a fresh SqliteStorage (a new process would do the same)
 * checks that `hot` is one whole value from the last acknowledged iteration or the one after,
 * with its own metadata, that every acknowledged `acked/<i>` is there, and finally that
 * SQLite's integrity check passes. One lane runs synchronous=FULL (the default), the other
 * synchronous=NORMAL: both promise to survive a process crash.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEntry } from "@pepperpy/storage-core";
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SqliteStorage } from "../src/index.js";
import { checkValue } from "./fixtures/values.js";
import { bundleChild, runChild, spawnChild } from "./helpers.js";

const TRIALS = 30;
const LANES = [
  { lane: 0, sync: "full" },
  { lane: 1, sync: "normal" },
] as const;
let script: string;
const root = mkdtempSync(join(tmpdir(), "pepperpy-sqlite-crash-"));

beforeAll(async () => {
  script = await bundleChild();
}, 60_000);
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(script, { force: true });
});

it(`kill -9 during writes: ${TRIALS} trials lose no acknowledged write and leave no torn value`, async () => {
  const stats = { trials: 0, torn: 0, wrongIteration: 0, metadataLost: 0, ackedLost: 0, ackedChecked: 0, killsAfterAcks: 0, hotIsUnackedWrite: 0 };
  const lane = async ({ lane, sync }: (typeof LANES)[number], trials: number) => {
    const db = join(root, `lane-${lane}.db`);
    let lastAck = -1;
    for (let t = 0; t < trials; t++) {
      const proc = spawnChild(script, ["crash-writer", db, String(lane), String(lastAck + 1), sync]);
      let out = "";
      proc.stdout!.on("data", (d) => {
        out += d;
      });
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (out.includes("ready\n")) {
            proc.stdout!.off("data", check);
            resolve();
          }
        };
        proc.stdout!.on("data", check);
        proc.once("exit", (code) => reject(new Error(`child exited (${code}) before ready`)));
      });
      // A random moment 20 to 400 ms after the database is open: inside small commits, large
      // commits and fsyncs (a commit takes a few ms here, so most kills land after some acks).
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 380));
      const exited = once(proc, "exit");
      proc.kill("SIGKILL");
      await exited;
      stats.trials++;
      const acks = [...out.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
      const before = lastAck;
      if (acks.length > 0) {
        lastAck = acks[acks.length - 1]!;
        stats.killsAfterAcks++;
      }
      const reader = new SqliteStorage(db);
      try {
        const got = await readEntry(reader, "hot").catch(() => undefined);
        if (lastAck >= 0 || got) {
          const text = got ? Buffer.from(got.data).toString("utf8") : "";
          const parsed = checkValue(text);
          if (!parsed) stats.torn++;
          else {
            // The last acknowledged write, or the one that was in flight when the kill came.
            if (parsed.iteration !== lastAck && parsed.iteration !== lastAck + 1) stats.wrongIteration++;
            if (parsed.iteration === lastAck + 1) stats.hotIsUnackedWrite++;
            if (got!.info.metadata.i !== String(parsed.iteration) || parsed.writer !== lane) stats.metadataLost++;
          }
        }
        const keys = await reader.list("acked/");
        const values = await reader.getMany<string>(keys);
        const present = new Set(keys.map((k, i) => (values[i] === String(Number(k.slice(6))) ? Number(k.slice(6)) : -1)));
        for (let i = 0; i <= lastAck; i++) {
          stats.ackedChecked++;
          if (!present.has(i)) stats.ackedLost++;
        }
        expect(before).toBeLessThanOrEqual(lastAck);
      } finally {
        await reader.close();
      }
    }
    const raw = new Database(db, { readonly: true });
    const integrity = raw.pragma("integrity_check", { simple: true });
    const journal = raw.pragma("journal_mode", { simple: true });
    raw.close();
    return { integrity, journal, lastAck };
  };
  const results = await Promise.all(LANES.map((l) => lane(l, TRIALS / LANES.length)));
  console.log(
    `[sqlite crash proof] trials=${stats.trials} torn=${stats.torn} wrongIteration=${stats.wrongIteration} metadataLost=${stats.metadataLost} ` +
      `acknowledgedWritesChecked=${stats.ackedChecked} acknowledgedWritesLost=${stats.ackedLost} killsAfterAtLeastOneAck=${stats.killsAfterAcks} ` +
      `hotHeldTheUnacknowledgedInFlightWrite=${stats.hotIsUnackedWrite} writesPerLane=${results.map((r) => r.lastAck + 1).join("/")} ` +
      `integrity=${results.map((r) => r.integrity).join("/")}`,
  );
  expect(stats.trials).toBe(TRIALS);
  expect(stats.torn).toBe(0);
  expect(stats.wrongIteration).toBe(0);
  expect(stats.metadataLost).toBe(0);
  expect(stats.ackedLost).toBe(0);
  // The harness has teeth only if kills land while the child is writing.
  expect(stats.killsAfterAcks).toBeGreaterThan(TRIALS / 2);
  for (const r of results) {
    expect(r.integrity).toBe("ok");
    expect(r.journal).toBe("wal");
  }
}, 300_000);

it("a process that never calls close() still exits by itself (the idle worker holds no reference)", async () => {
  const db = join(root, "no-close.db");
  const { stdout, stderr, code } = await runChild(script, ["no-close", db]);
  expect(stderr).toBe("");
  expect(stdout).toBe("v\n");
  expect(code).toBe(0);
}, 60_000);

it("await close() resolves before the process may exit: code after it runs", async () => {
  const db = join(root, "close.db");
  const { stdout, stderr, code } = await runChild(script, ["close-then-print", db]);
  expect(stderr).toBe("");
  expect(stdout).toBe("closed\n");
  expect(code).toBe(0);
}, 60_000);
