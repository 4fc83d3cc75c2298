// The workloads: the same operations on every system, every result checked.
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Transform } from "node:stream";
import { type Adapter, VerificationError } from "./adapter.js";
import type { PhaseResult, Sizes, WorkloadId } from "./config.js";
import { MiB } from "./config.js";
import { smallKey, streamOf, treeKeys, valueFor } from "./data.js";
import type { SystemDef } from "./systems.js";

/** Object stores on their (slow) emulators: the small and list workloads use the `s3*` counts for them. */
export const OBJECT_STORE_SYSTEMS: ReadonlySet<string> = new Set(["s3", "raw-s3", "azure-blob", "raw-azure-blob"]);

/** What a workload gets. */
export interface WorkloadContext {
  system: SystemDef;
  /** A fresh adapter for this workload. */
  adapter: Adapter;
  sizes: Sizes;
  repeats: number;
  /** Progress lines go to stderr. */
  log(message: string): void;
}

type Phases = Record<string, PhaseResult>;

/** Event-loop figures gathered by {@link probed} since the last {@link Recorder.add}. */
let pendingLoop = { ticks: 0, ms: 0, maxStallNs: 0 };

/**
 * Runs `fn` while a 10 ms interval counts its ticks and `monitorEventLoopDelay` records the
 * loop's delays; the figures are added to those of the phase being measured.
 */
async function probed<T>(fn: () => Promise<T>): Promise<T> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  // The histogram measures each delay from its previous sample: a stall before its first
  // sample is not seen (a 200 ms block right after enable() reads as a 5 ms max). So it
  // samples once before the phase starts.
  await armed();
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
  }, 10);
  const t = performance.now();
  try {
    return await fn();
  } finally {
    const ms = performance.now() - t;
    histogram.disable();
    clearInterval(timer);
    pendingLoop.ticks += ticks;
    pendingLoop.ms += ms;
    // The histogram counts from its sampling timer's own period: a max above it is a stall.
    if (histogram.count > 0) pendingLoop.maxStallNs = Math.max(pendingLoop.maxStallNs, histogram.max);
  }
}

/** Resolves once a `monitorEventLoopDelay({ resolution: 1 })` enabled just before has taken its first samples. */
export function armed(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

/** Collects samples per phase and reports medians. */
class Recorder {
  private readonly samples = new Map<string, { unit: PhaseResult["unit"]; values: number[]; verified: number; ticks: number; ms: number; maxStallNs: number }>();

  add(phase: string, unit: PhaseResult["unit"], value: number, verified: number): void {
    let s = this.samples.get(phase);
    if (!s) {
      s = { unit, values: [], verified: 0, ticks: 0, ms: 0, maxStallNs: 0 };
      this.samples.set(phase, s);
    }
    s.values.push(value);
    s.verified += verified;
    s.ticks += pendingLoop.ticks;
    s.ms += pendingLoop.ms;
    s.maxStallNs = Math.max(s.maxStallNs, pendingLoop.maxStallNs);
    pendingLoop = { ticks: 0, ms: 0, maxStallNs: 0 };
  }

  result(): Phases {
    const out: Phases = {};
    for (const [phase, s] of this.samples) {
      // A phase shorter than 100 ms (a --quick run) is too short to count 10 ms ticks.
      const loop = s.ms > 0 ? { ticksPerSecond: s.ms >= 100 ? (s.ticks * 1000) / s.ms : undefined, maxStallMs: s.maxStallNs / 1e6 } : undefined;
      out[phase] = { value: median(s.values), unit: s.unit, samples: s.values, verified: s.verified, loop };
    }
    return out;
  }
}

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Fails the run: a system returned something other than what was stored. */
function fail(system: SystemDef, what: string): never {
  throw new VerificationError(`VERIFICATION FAILED for ${system.id}: ${what}`);
}

function sameBytes(got: Uint8Array | undefined, want: Buffer): boolean {
  if (!got) return false;
  if (got.byteLength !== want.byteLength) return false;
  return Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want);
}

function checkValues(system: SystemDef, phase: string, keys: string[], got: (Uint8Array | undefined)[], want: Buffer[]): number {
  for (let i = 0; i < keys.length; i++) {
    const g = got[i];
    if (g === undefined) fail(system, `${phase}: key ${keys[i]} is missing after put`);
    if (!sameBytes(g, want[i]!)) {
      fail(system, `${phase}: key ${keys[i]} returned ${g.byteLength} wrong bytes (expected ${want[i]!.byteLength})`);
    }
  }
  return keys.length;
}

function checkList(system: SystemDef, phase: string, got: string[], want: string[]): number {
  if (got.length !== want.length) fail(system, `${phase}: listed ${got.length} keys, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) fail(system, `${phase}: listed key #${i} is ${JSON.stringify(got[i])}, expected ${JSON.stringify(want[i])}`);
  }
  return want.length;
}

async function checkAbsent(system: SystemDef, phase: string, adapter: Adapter, keys: string[], prefix: string): Promise<number> {
  for (const key of keys) if (await adapter.exists(key)) fail(system, `${phase}: key ${key} still exists after delete`);
  const left = await adapter.list(prefix);
  if (left.length > 0) fail(system, `${phase}: ${left.length} keys still listed after delete, e.g. ${left[0]}`);
  return keys.length;
}

/** Runs `fn(i)` for every index with at most `limit` calls in flight. */
async function pool(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

async function seq(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i++) await fn(i);
}

/**
 * Operations per second of `pass` (`ops` operations each), run again until at least `minMs`
 * have passed: a phase of a fast system is otherwise shorter than one garbage collection.
 */
async function rate(ops: number, minMs: number, pass: () => Promise<unknown>): Promise<number> {
  return probed(async () => {
    const t = performance.now();
    let done = 0;
    do {
      await pass();
      done += ops;
    } while (performance.now() - t < minMs);
    return done / ((performance.now() - t) / 1000);
  });
}

/** Seconds taken by `fn`. */
async function time(fn: () => Promise<unknown>): Promise<number> {
  return probed(async () => {
    const t = performance.now();
    await fn();
    return (performance.now() - t) / 1000;
  });
}

// ---------------------------------------------------------------------------------------

/**
 * Untimed warm-up: each operation of the small workload runs on keys of its own for up to
 * `ms` milliseconds (at most `n` keys), sequentially and then `limit` in flight, so the
 * timed phases measure compiled code, as a long-running process would run it.
 */
async function warmUp(adapter: Adapter, n: number, limit: number, size: number, ms: number): Promise<void> {
  if (ms <= 0) return;
  const prefix = "bench/warmup/";
  const keys = Array.from({ length: n }, (_, i) => smallKey(prefix, i));
  const value = valueFor(0, size);
  let written = 0;
  // Runs `op(i)` for `ms / 2` ms one at a time, then `ms / 2` ms with `limit` in flight.
  const drive = async (count: () => number, op: (i: number) => Promise<unknown>) => {
    for (const inFlight of [1, limit]) {
      const end = performance.now() + ms / 2;
      const worker = async () => {
        while (performance.now() < end) {
          const i = count();
          if (i < 0) return;
          await op(i);
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
    }
  };
  await drive(
    () => (written < n ? written++ : -1),
    (i) => adapter.put(keys[i]!, value),
  );
  let turn = 0;
  const cycle = () => (written === 0 ? -1 : turn++ % written);
  await drive(cycle, (i) => adapter.get(keys[i]!));
  await drive(cycle, (i) => adapter.exists(keys[i]!));
  await adapter.list(prefix);
  await pool(written, limit, (i) => adapter.delete(keys[i]!));
}

/** 10 000 × 1 KiB: put, get, exists, list, delete; sequential, then `concurrency` in flight. */
async function small(ctx: WorkloadContext): Promise<Phases> {
  const { adapter, system, sizes } = ctx;
  const isS3 = OBJECT_STORE_SYSTEMS.has(system.id);
  const n = isS3 ? sizes.s3SmallCount : sizes.smallCount;
  const prefix = "bench/small/";
  const keys = Array.from({ length: n }, (_, i) => smallKey(prefix, i));
  const rec = new Recorder();
  await warmUp(adapter, n, sizes.concurrency, sizes.smallSize, sizes.warmupMs);
  for (let r = 0; r < ctx.repeats; r++) {
    for (const mode of ["seq", `c${sizes.concurrency}`] as const) {
      const run = mode === "seq" ? (fn: (i: number) => Promise<void>) => seq(n, fn) : (fn: (i: number) => Promise<void>) => pool(n, sizes.concurrency, fn);
      // Different bytes in each pass, so a stale value cannot pass the check.
      const base = (r * 2 + (mode === "seq" ? 0 : 1)) * n;
      const values = keys.map((_, i) => valueFor(base + i, sizes.smallSize));
      const got: (Uint8Array | undefined)[] = new Array(n);
      const found: boolean[] = new Array(n);

      // put, get, exists and list can run again over the same keys: a fast system's pass is
      // repeated up to `minPhaseMs` (see Sizes); each repeat checks what it returned, like the first.
      const minMs = sizes.minPhaseMs;
      rec.add(`put-${mode}`, "ops/s", await rate(n, minMs, () => run((i) => adapter.put(keys[i]!, values[i]!))), 0);

      if (system.warmGets) await run(async (i) => void (await adapter.get(keys[i]!)));
      let verified = 0;
      const gets = await rate(n, minMs, async () => {
        got.fill(undefined);
        await run(async (i) => {
          got[i] = await adapter.get(keys[i]!);
        });
        verified = checkValues(system, `get-${mode}`, keys, got, values);
      });
      rec.add(`get-${mode}`, "ops/s", gets, verified);
      got.fill(undefined);

      const exists = await rate(n, minMs, async () => {
        found.fill(false);
        await run(async (i) => {
          found[i] = await adapter.exists(keys[i]!);
        });
        const missing = found.findIndex((f) => f !== true);
        if (missing >= 0) fail(system, `exists-${mode}: ${keys[missing]} reported missing after put`);
      });
      rec.add(`exists-${mode}`, "ops/s", exists, n);

      if (mode === "seq") {
        let listedKeys = 0;
        const lists = await rate(n, minMs, async () => {
          listedKeys = checkList(system, "list", await adapter.list(prefix), keys);
        });
        rec.add("list", "ops/s", lists, listedKeys);
      }

      const s = await time(() => run((i) => adapter.delete(keys[i]!)));
      rec.add(`delete-${mode}`, "ops/s", n / s, await checkAbsent(system, `delete-${mode}`, adapter, keys, prefix));
      ctx.log(`  small r${r + 1} ${mode} done`);
    }
  }
  return rec.result();
}

/** 200 × 1 MiB: sequential put and get. */
async function medium(ctx: WorkloadContext): Promise<Phases> {
  const { adapter, system, sizes } = ctx;
  const n = sizes.mediumCount;
  const prefix = "bench/medium/";
  const keys = Array.from({ length: n }, (_, i) => smallKey(prefix, i));
  const rec = new Recorder();
  const mib = (n * sizes.mediumSize) / MiB;
  for (let r = 0; r < ctx.repeats; r++) {
    const values = keys.map((_, i) => valueFor(r * n + i, sizes.mediumSize));
    let s = await time(() => seq(n, (i) => adapter.put(keys[i]!, values[i]!)));
    rec.add("put", "MiB/s", mib / s, 0);
    // The cache system: the timed gets are hits of values a first, untimed pass just read.
    if (system.warmGets) await seq(n, async (i) => void (await adapter.get(keys[i]!)));
    const got: (Uint8Array | undefined)[] = new Array(n);
    s = await time(() =>
      seq(n, async (i) => {
        got[i] = await adapter.get(keys[i]!);
      }),
    );
    rec.add("get", "MiB/s", mib / s, checkValues(system, "get", keys, got, values));
    got.fill(undefined);
    s = await time(() => seq(n, (i) => adapter.delete(keys[i]!)));
    rec.add("delete", "ops/s", n / s, await checkAbsent(system, "delete", adapter, keys, prefix));
    ctx.log(`  medium r${r + 1} done`);
  }
  return rec.result();
}

function rssNow(): number {
  return process.memoryUsage.rss();
}

/** Peak RSS of this process so far, in bytes. */
function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** 4 × 64 MiB: put and get, each timed alone and checked right after; peak RSS over holding the inputs. */
async function large(ctx: WorkloadContext): Promise<Phases> {
  const { adapter, system, sizes } = ctx;
  const n = sizes.largeCount;
  const keys = Array.from({ length: n }, (_, i) => smallKey("bench/large/", i));
  const values = keys.map((_, i) => valueFor(i, sizes.largeSize));
  const rec = new Recorder();
  collect();
  const baseline = rssNow();
  const mib = (n * sizes.largeSize) / MiB;
  for (let r = 0; r < ctx.repeats; r++) {
    if (sizes.warmupMs > 0) {
      // Untimed: the same puts, deleted again. This VM reports freed memory back to its host
      // (virtio-balloon free page reporting), and writing 64 MiB into memory the guest gave
      // back costs up to 5× the write itself (a 64 MiB `write` took 25 ms or 311 ms depending
      // on it); which system met that was luck. Memory just freed is reused at once.
      for (let i = 0; i < n; i++) await adapter.put(keys[i]!, values[i]!);
      for (const key of keys) await adapter.delete(key);
      collect();
    }
    let putS = 0;
    for (let i = 0; i < n; i++) putS += await time(() => adapter.put(keys[i]!, values[i]!));
    rec.add("put", "MiB/s", mib / putS, 0);
    if (system.warmGets) for (const key of keys) await adapter.get(key);
    let getS = 0;
    let verified = 0;
    for (let i = 0; i < n; i++) {
      let got: Uint8Array | undefined;
      getS += await time(async () => {
        got = await adapter.get(keys[i]!);
      });
      verified += checkValues(system, "get", [keys[i]!], [got], [values[i]!]);
      got = undefined;
    }
    rec.add("get", "MiB/s", mib / getS, verified);
    for (const key of keys) await adapter.delete(key);
    rec.add("peak-rss", "MiB", Math.max(0, peakRss() - baseline) / MiB, await checkAbsent(system, "delete", adapter, keys, "bench/large/"));
    ctx.log(`  large r${r + 1} done`);
  }
  return rec.result();
}

/** `list(prefix)` over a 50 000-key tree where the prefix matches 1 %, and the whole tree for scale. */
async function list(ctx: WorkloadContext): Promise<Phases> {
  const { adapter, system, sizes } = ctx;
  const isS3 = OBJECT_STORE_SYSTEMS.has(system.id);
  const { keys, prefix, matching } = treeKeys(isS3 ? sizes.s3ListKeys : sizes.listKeys);
  const value = Buffer.from("tree value\n");
  if (adapter.fsRoot) {
    const root = adapter.fsRoot;
    const dirs = new Set(keys.map((k) => dirname(join(root, k))));
    for (const d of dirs) await mkdir(d, { recursive: true });
    await pool(keys.length, 64, (i) => writeFile(join(root, keys[i]!), value));
  } else {
    await pool(keys.length, 64, (i) => adapter.put(keys[i]!, value));
  }
  // Sanity: the system sees the tree it is about to list.
  if (!sameBytes(await adapter.get(matching[0]!), value)) fail(system, `list: ${matching[0]} not readable after creating the tree`);
  ctx.log(`  list: ${keys.length} keys created`);
  const rec = new Recorder();
  for (let r = 0; r < ctx.repeats; r++) {
    for (let k = 0; k < 3; k++) {
      let got: string[] = [];
      const s = await time(async () => {
        got = await adapter.list(prefix);
      });
      rec.add("list-prefix", "ms", s * 1000, checkList(system, "list-prefix", got, matching));
    }
    let all: string[] = [];
    const s = await time(async () => {
      all = await adapter.list("tree/");
    });
    rec.add("list-all", "ms", s * 1000, checkList(system, "list-all", all, keys));
    ctx.log(`  list r${r + 1} done`);
  }
  if (adapter.fsRoot) await rm(join(adapter.fsRoot, "tree"), { recursive: true, force: true });
  return rec.result();
}

/** A 24 MiB upload: our `put` (multipart when large) against the SDK's single PUT and its multipart `Upload`. */
async function upload(ctx: WorkloadContext): Promise<Phases> {
  const { adapter, system, sizes } = ctx;
  const value = valueFor(42, sizes.uploadSize);
  const mib = sizes.uploadSize / MiB;
  const variants: Record<string, (key: string, v: Buffer) => Promise<void>> = adapter.uploads ?? { put: (k, v) => adapter.put(k, v) };
  const rec = new Recorder();
  for (let r = 0; r < ctx.repeats; r++) {
    for (const [name, put] of Object.entries(variants)) {
      const key = `bench/upload/${name}-${r}`;
      const s = await time(() => put(key, value));
      const got = await adapter.get(key);
      if (!sameBytes(got, value)) fail(system, `upload ${name}: read back ${got?.byteLength ?? "nothing"} wrong bytes`);
      rec.add(name, "MiB/s", mib / s, 1);
      await adapter.delete(key);
    }
    ctx.log(`  upload r${r + 1} done`);
  }
  return rec.result();
}

/** Hashes what passes through. */
function hashing(hash: ReturnType<typeof createHash>, count: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.bytes += chunk.length;
      cb(null, chunk);
    },
  });
}

/** 1 GiB streamed in and out through compression + encryption; peak RSS over the process at rest. */
async function stream(ctx: WorkloadContext): Promise<Phases> {
  const { adapter, system, sizes } = ctx;
  if (!adapter.putStream || !adapter.getStream) fail(system, "stream: adapter cannot stream");
  const rec = new Recorder();
  const mib = sizes.streamSize / MiB;
  collect();
  const baseline = rssNow();
  for (let r = 0; r < ctx.repeats; r++) {
    const key = `bench/stream/v${r}`;
    const inHash = createHash("sha256");
    const inCount = { bytes: 0 };
    let s = await time(() => adapter.putStream!(key, streamOf(sizes.streamSize).pipe(hashing(inHash, inCount))));
    rec.add("put-stream", "MiB/s", mib / s, 0);
    const outHash = createHash("sha256");
    let outBytes = 0;
    s = await time(async () => {
      for await (const chunk of await adapter.getStream!(key)) {
        outHash.update(chunk);
        outBytes += chunk.byteLength;
      }
    });
    if (inCount.bytes !== sizes.streamSize) fail(system, `stream: wrote ${inCount.bytes} bytes, expected ${sizes.streamSize}`);
    if (outBytes !== inCount.bytes || outHash.digest("hex") !== inHash.digest("hex")) {
      fail(system, `stream: read back ${outBytes} bytes that differ from the ${inCount.bytes} written`);
    }
    rec.add("get-stream", "MiB/s", mib / s, 1);
    await adapter.delete(key);
    rec.add("peak-rss", "MiB", Math.max(0, peakRss() - baseline) / MiB, 1);
    ctx.log(`  stream r${r + 1} done`);
  }
  return rec.result();
}

/**
 * A layer's overhead, measured in one process: blocks of `OVERHEAD_BLOCK` sequential
 * operations alternate between the layer and the same backend without it (the adapter's
 * `paired`), so load drift and disk hiccups hit both alike. Each operation kind reports
 * the layer's ops/s (`put`) and the bare backend's (`put-plain`) over the same keys.
 */
async function overhead(ctx: WorkloadContext): Promise<Phases> {
  const { adapter, system, sizes } = ctx;
  const plain = adapter.paired;
  if (!plain) fail(system, "overhead: the system has no paired adapter");
  const n = Math.min(sizes.smallCount, 1000);
  const rec = new Recorder();
  const sides = [
    { name: "", a: adapter, keys: Array.from({ length: n }, (_, i) => smallKey("bench/ovh/layer/", i)) },
    { name: "-plain", a: plain, keys: Array.from({ length: n }, (_, i) => smallKey("bench/ovh/plain/", i)) },
  ];
  await warmUp(adapter, n, sizes.concurrency, sizes.smallSize, sizes.warmupMs);
  await warmUp(plain, n, sizes.concurrency, sizes.smallSize, sizes.warmupMs);
  for (let r = 0; r < ctx.repeats; r++) {
    const values = Array.from({ length: n }, (_, i) => valueFor(r * n + i, sizes.smallSize));
    const ops: [string, (a: Adapter, key: string, i: number) => Promise<unknown>][] = [
      ["put", (a, key, i) => a.put(key, values[i]!)],
      [
        "get",
        async (a, key, i) => {
          if (!sameBytes(await a.get(key), values[i]!)) fail(system, `overhead: ${key} read back wrong`);
        },
      ],
      [
        "exists",
        async (a, key) => {
          if (!(await a.exists(key))) fail(system, `overhead: ${key} reported missing`);
        },
      ],
      ["delete", (a, key) => a.delete(key)],
    ];
    for (const [op, fn] of ops) {
      const spent = [0, 0];
      // A pass of `get` or `exists` (which change nothing) shorter than `minPhaseMs` runs
      // again over the same keys, like the small phases: 1,000 file `exists` take about 20 ms.
      const repeatable = op === "get" || op === "exists";
      let passes = 0;
      do {
        passes++;
        // Which side goes first alternates too.
        for (let start = 0, block = 0; start < n; start += OVERHEAD_BLOCK, block++) {
          const end = Math.min(n, start + OVERHEAD_BLOCK);
          for (const s of block % 2 ? [1, 0] : [0, 1]) {
            const side = sides[s]!;
            const t = performance.now();
            for (let i = start; i < end; i++) await fn(side.a, side.keys[i]!, i);
            spent[s]! += performance.now() - t;
          }
        }
      } while (repeatable && Math.min(spent[0]!, spent[1]!) < sizes.minPhaseMs);
      for (const s of [0, 1]) rec.add(`${op}${sides[s]!.name}`, "ops/s", (n * passes) / (spent[s]! / 1000), op === "put" ? 0 : n * passes);
    }
    for (const side of sides) await checkAbsent(system, "overhead", side.a, side.keys, side.keys[0]!.slice(0, side.keys[0]!.lastIndexOf("/") + 1));
    ctx.log(`  overhead r${r + 1} done`);
  }
  return rec.result();
}

/** Operations per side before the overhead workload switches to the other. */
const OVERHEAD_BLOCK = 25;

export const RUNNERS: Record<WorkloadId, (ctx: WorkloadContext) => Promise<Phases>> = { small, medium, large, list, upload, stream, overhead };
