// Sizes, flags and the shape of a job handed to a child process.

/** Sizes of every workload; set by flags, `--quick` shrinks them all. */
export interface Sizes {
  /** Keys of the small-value workload (default 10 000). */
  smallCount: number;
  /** Bytes per small value (default 1 KiB). */
  smallSize: number;
  /** Operations in flight in the concurrent phases (default 64). */
  concurrency: number;
  /** Keys of the medium workload (default 200). */
  mediumCount: number;
  /** Bytes per medium value (default 1 MiB). */
  mediumSize: number;
  /** Keys of the large workload (default 4). */
  largeCount: number;
  /** Bytes per large value (default 64 MiB). */
  largeSize: number;
  /** Keys in the tree listed by prefix (default 50 000, the prefix matches 1 %). */
  listKeys: number;
  /** Bytes streamed through compression + encryption (default 1 GiB). */
  streamSize: number;
  /** Bytes of the multipart-vs-single-PUT upload (default 24 MiB). */
  uploadSize: number;
  /** Small-workload keys for the object stores, S3 and Azure Blob (s3rver and Azurite are slow servers; default = smallCount). */
  s3SmallCount: number;
  /** Keys in the listed tree for the object stores, S3 and Azure Blob (default = listKeys). */
  s3ListKeys: number;
  /**
   * Untimed warm-up of the small workload, per operation, in ms (default 500): each child
   * process starts cold, and without it a short run measures the JIT compiling the code
   * (more code, more compiling) rather than the steady state. 0 turns it off, and with it
   * the untimed put-and-delete pass before each round of the large workload.
   */
  warmupMs: number;
  /**
   * Shortest timed pass of a repeatable small phase (put, get, exists, list), in ms (default
   * 200): a pass that finishes sooner — 2,000 in-memory operations take 1–5 ms, less than one
   * garbage collection — is run again over the same keys until this much time has passed,
   * and the rate counts every operation. Slower systems run each pass once, as before. 0 turns it off.
   */
  minPhaseMs: number;
}

/** What the harness was asked to do. */
export interface RunOptions {
  sizes: Sizes;
  /** Repeats per workload; the median is reported (default 3). */
  repeats: number;
  quick: boolean;
  /** Only these system ids (default: all). */
  systems: string[] | undefined;
  /** Only these workloads (default: all). */
  workloads: string[] | undefined;
  /** Write `--cpu-prof` profiles of every child to this directory. */
  profileDir: string | undefined;
  /** Where results/latest.json goes. */
  resultsFile: string;
  /** Where docs are written; `undefined` skips them (quick runs don't overwrite the docs). */
  docsDir: string | undefined;
  /** Scratch directory for file systems (default: a fresh dir under the OS temp dir). */
  tmpRoot: string | undefined;
  /** Child processes at once (default 1: timings are only meaningful one at a time; quick mode 2). */
  jobs: number;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const FULL_SIZES: Sizes = {
  smallCount: 10_000,
  smallSize: KiB,
  concurrency: 64,
  mediumCount: 200,
  mediumSize: MiB,
  largeCount: 4,
  largeSize: 64 * MiB,
  listKeys: 50_000,
  streamSize: GiB,
  uploadSize: 24 * MiB,
  s3SmallCount: 10_000,
  s3ListKeys: 50_000,
  warmupMs: 500,
  minPhaseMs: 200,
};

export const QUICK_SIZES: Sizes = {
  smallCount: 100,
  smallSize: KiB,
  concurrency: 16,
  mediumCount: 4,
  mediumSize: 64 * KiB,
  largeCount: 1,
  largeSize: MiB,
  listKeys: 500,
  streamSize: 4 * MiB,
  // Above S3Storage's 8 MiB multipart threshold, so the multipart path runs too.
  uploadSize: 10 * MiB,
  s3SmallCount: 40,
  s3ListKeys: 200,
  warmupMs: 20,
  // Short, but long enough that the in-memory systems repeat their passes (the smoke test covers it).
  minPhaseMs: 5,
};

/** Every workload, in run order. */
export const WORKLOADS = ["small", "medium", "large", "list", "upload", "stream", "overhead"] as const;
export type WorkloadId = (typeof WORKLOADS)[number];

/** Workloads whose peak RSS is measured; each runs in a process of its own. */
export const RSS_WORKLOADS: readonly WorkloadId[] = ["large", "stream"];

/** What a child process is asked to run. */
export interface Job {
  system: string;
  workloads: WorkloadId[];
  sizes: Sizes;
  repeats: number;
  /** Scratch directory owned by this job. */
  dir: string;
  /** s3rver endpoint, when one runs. */
  s3Endpoint: string | undefined;
  /** redis-server URL, when one runs. */
  redisUrl?: string | undefined;
  /** PostgreSQL URL, when a cluster runs. */
  postgresUrl?: string | undefined;
  /** Azurite connection string, when one runs. */
  azureConnectionString?: string | undefined;
  /** Where the child writes its {@link JobResult}. */
  out: string;
}

/** One measured phase of a workload. */
export interface PhaseResult {
  /** Median over the repeats. */
  value: number;
  /** What `value` counts: ops/s, MiB/s, ms (lower is better), bytes (lower is better). */
  unit: "ops/s" | "MiB/s" | "ms" | "MiB";
  /** Every repeat's value, in run order. */
  samples: number[];
  /** Number of results that were checked (values compared, keys listed, absent keys confirmed). */
  verified: number;
  /**
   * The event loop while the phase's timed calls ran, over every repeat: how often a 10 ms
   * timer fired (ticks per second; 100 when nothing blocks) and the worst stall
   * (`monitorEventLoopDelay` max, ms). A ratio won by blocking the loop shows here. Ticks are
   * not counted for a phase shorter than 100 ms.
   */
  loop?: { ticksPerSecond: number | undefined; maxStallMs: number } | undefined;
}

/** What a child process reports back. */
export interface JobResult {
  system: string;
  /** `ok`, or why the system could not run at all. */
  status: "ok" | "unavailable" | "failed";
  reason?: string | undefined;
  /** workload → phase → result. */
  workloads: Record<string, Record<string, PhaseResult>>;
  /** Workloads this system does not take part in, with the reason. */
  skipped: Record<string, string>;
  /** Node version and anything the system reports about itself (its version, options). */
  notes: string[];
  durationMs: number;
}

function sizeArg(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(text.trim());
  if (!m) throw new Error(`Invalid size ${JSON.stringify(text)}: expected e.g. 4096, 64KiB, 1MiB, 1GiB`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "b").toLowerCase()[0];
  const factor = unit === "k" ? KiB : unit === "m" ? MiB : unit === "g" ? GiB : 1;
  return Math.round(n * factor);
}

function countArg(text: string): number {
  const n = Number(text.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`Invalid count ${JSON.stringify(text)}`);
  return n;
}

const SIZE_FLAGS: Record<string, [keyof Sizes, (t: string) => number]> = {
  "--small-count": ["smallCount", countArg],
  "--small-size": ["smallSize", sizeArg],
  "--concurrency": ["concurrency", countArg],
  "--medium-count": ["mediumCount", countArg],
  "--medium-size": ["mediumSize", sizeArg],
  "--large-count": ["largeCount", countArg],
  "--large-size": ["largeSize", sizeArg],
  "--list-keys": ["listKeys", countArg],
  "--stream-size": ["streamSize", sizeArg],
  "--upload-size": ["uploadSize", sizeArg],
  "--s3-small-count": ["s3SmallCount", countArg],
  "--s3-list-keys": ["s3ListKeys", countArg],
  "--warmup-ms": ["warmupMs", (t: string) => (t === "0" ? 0 : countArg(t))],
  "--min-phase-ms": ["minPhaseMs", (t: string) => (t === "0" ? 0 : countArg(t))],
};

export const USAGE = `pnpm bench [flags]

  --quick                 tiny sizes, 1 repeat (CI smoke test, < 60 s); does not rewrite docs/
  --repeats N             repeats per workload, median reported (default 3)
  --systems a,b,c         only these systems (ids as in the table)
  --workloads a,b         only these workloads: ${WORKLOADS.join(", ")}
  --profile DIR           write a --cpu-prof profile of every child process to DIR
  --out FILE              results JSON (default bench/results/latest.json)
  --no-docs               do not rewrite docs/benchmarks.md and the chart
  --report [FILE]         only render docs/ again from a results file (default results/latest.json)
  --tmp DIR               scratch directory (default: under the OS temp dir)
  --jobs N                child processes at once (default 1; 2 with --quick, where timings do not matter)
${Object.entries(SIZE_FLAGS)
  .map(([flag, [key]]) => `  ${`${flag} X`.padEnd(24)}${key} (default ${FULL_SIZES[key]})`)
  .join("\n")}
`;

/** Parses the command line. */
export function parseArgs(argv: string[], defaults: { resultsFile: string; docsDir: string }): RunOptions {
  const quick = argv.includes("--quick");
  const sizes: Sizes = { ...(quick ? QUICK_SIZES : FULL_SIZES) };
  const opts: RunOptions = {
    sizes,
    repeats: quick ? 1 : 3,
    quick,
    systems: undefined,
    workloads: undefined,
    profileDir: undefined,
    resultsFile: defaults.resultsFile,
    docsDir: quick ? undefined : defaults.docsDir,
    tmpRoot: undefined,
    jobs: quick ? 2 : 1,
  };
  const explicit = new Set<keyof Sizes>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--quick") continue;
    if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    const sizeFlag = SIZE_FLAGS[flag];
    if (sizeFlag) {
      sizes[sizeFlag[0]] = sizeFlag[1](value());
      explicit.add(sizeFlag[0]);
    } else if (flag === "--repeats") opts.repeats = countArg(value());
    else if (flag === "--systems") opts.systems = value().split(",").filter(Boolean);
    else if (flag === "--workloads") {
      const list = value().split(",").filter(Boolean);
      for (const w of list) if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`Unknown workload ${w}`);
      opts.workloads = list;
    } else if (flag === "--profile") opts.profileDir = value();
    else if (flag === "--out") opts.resultsFile = value();
    else if (flag === "--no-docs") opts.docsDir = undefined;
    else if (flag === "--docs") opts.docsDir = value();
    else if (flag === "--tmp") opts.tmpRoot = value();
    else if (flag === "--jobs") opts.jobs = countArg(value());
    else if (flag === "--") continue;
    else throw new Error(`Unknown flag ${flag}\n\n${USAGE}`);
  }
  // S3 counts follow the generic ones unless set on their own.
  if (!explicit.has("s3SmallCount") && explicit.has("smallCount")) sizes.s3SmallCount = sizes.smallCount;
  if (!explicit.has("s3ListKeys") && explicit.has("listKeys")) sizes.s3ListKeys = sizes.listKeys;
  return opts;
}
