// A small targeted run of the event-loop figures of issue 16, for FileStorage beside raw
// node:fs/promises and the fs peers, each driven through its bench adapter:
// - timer ticks per second of a 10 ms interval during tight loops of awaited calls;
// - the time 40 concurrent puts of 256 KiB take while one reader polls the key;
// - the worst event-loop stall (monitorEventLoopDelay max) during one 64 MiB get and put.
// Not part of `pnpm bench` (which records the same loop figures per phase); run with
//   node --conditions=source --import ./src/register.mjs src/event-loop-probe.ts [--systems a,b] [--loop-ms N]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Adapter } from "./adapter.js";
import { systemById } from "./systems.js";
import { armed } from "./workloads.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const systems = arg("systems", "file,raw-fs-durable,file-nofsync,raw-fs,unstorage-fs,flydrive-fs,opendal-fs").split(",");
const loopMs = Number(arg("loop-ms", "1000"));
const pollLimitMs = Number(arg("poll-limit-ms", "20000"));

/** Ticks per second of a 10 ms interval while `step` runs in a loop of awaited calls for `ms`; stops early if it never yields. */
async function ticksDuring(step: () => Promise<unknown>, ms: number): Promise<{ tps: number; calls: number; stallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await armed();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const t = performance.now();
  let calls = 0;
  while (performance.now() - t < ms) {
    await step();
    calls++;
  }
  const elapsed = performance.now() - t;
  h.disable();
  clearInterval(timer);
  return { tps: (ticks * 1000) / elapsed, calls, stallMs: h.max / 1e6 };
}

async function pollWhilePutting(a: Adapter, key: string): Promise<string> {
  const value = Buffer.alloc(256 * 1024, 7);
  let done = false;
  let reads = 0;
  const stopAt = performance.now() + pollLimitMs;
  const reader = (async () => {
    while (!done && performance.now() < stopAt) {
      await a.get(key);
      reads++;
    }
  })();
  const t = performance.now();
  let finished = false;
  const puts = Promise.all(Array.from({ length: 40 }, () => a.put(key, value))).then(() => {
    finished = true;
  });
  await Promise.race([puts, reader]);
  const ms = performance.now() - t;
  done = true;
  await reader;
  if (!finished) return `NOT DONE after ${ms.toFixed(0)} ms (${reads} reads)`;
  return `${ms.toFixed(0)} ms (${reads} reads meanwhile)`;
}

async function worstStall(fn: () => Promise<unknown>): Promise<{ ms: number; stallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  // A stall before the histogram's first sample is not seen: the put's synchronous part
  // (the core's copy of the value) comes first.
  await armed();
  const t = performance.now();
  await fn();
  const ms = performance.now() - t;
  h.disable();
  return { ms, stallMs: h.max / 1e6 };
}

for (const id of systems) {
  const dir = await mkdtemp(join(tmpdir(), `pepperpy-loop-${id}-`));
  let a: Adapter;
  try {
    a = await systemById(id).create({ dir, s3Endpoint: undefined, bucket: "b", smallCount: 100 });
  } catch (error) {
    console.log(`${id}: unavailable (${(error as Error).message})`);
    continue;
  }
  const present = "bench/loop/present";
  await a.put(present, Buffer.alloc(1024, 1));
  const loops: [string, () => Promise<unknown>][] = [
    ["get(missing)", () => a.get("bench/loop/missing")],
    ["get(present)", () => a.get(present)],
    ["exists(present)", () => a.exists(present)],
    ["exists(missing)", () => a.exists("bench/loop/missing")],
    ["put 1 KiB", () => a.put("bench/loop/w", Buffer.alloc(1024, 2))],
    ["delete(missing)", () => a.delete("bench/loop/gone")],
  ];
  const cells: string[] = [];
  for (const [what, step] of loops) {
    const r = await ticksDuring(step, loopMs);
    cells.push(`${what} ${r.tps.toFixed(0)} t/s (${r.calls} calls, stall ${r.stallMs.toFixed(1)} ms)`);
  }
  const polled = await pollWhilePutting(a, "bench/loop/polled");
  const big = Buffer.alloc(64 * 1024 * 1024, 3);
  const stalls: string[] = [];
  for (let i = 0; i < 2; i++) {
    const put = await worstStall(() => a.put(`bench/loop/big${i}`, big));
    const get = await worstStall(() => a.get(`bench/loop/big${i}`));
    stalls.push(`put ${put.ms.toFixed(0)} ms stall ${put.stallMs.toFixed(1)} ms, get ${get.ms.toFixed(0)} ms stall ${get.stallMs.toFixed(1)} ms`);
  }
  console.log(`\n${id}\n  loops: ${cells.join("; ")}\n  40 puts x 256 KiB under a polling reader: ${polled}\n  64 MiB: ${stalls.join(" | ")}`);
  await a.close();
  await rm(dir, { recursive: true, force: true });
}
