// Turns results into ratios, the target list, a markdown report and an SVG chart.
import type { JobResult, PhaseResult, RunOptions, Sizes } from "./config.js";
import { MiB } from "./config.js";
import type { SystemDef } from "./systems.js";

/** Everything a run produced; this is results/latest.json. */
export interface RunResults {
  startedAt: string;
  finishedAt: string;
  command: string;
  quick: boolean;
  repeats: number;
  sizes: Sizes;
  machine: MachineInfo;
  systems: Record<string, SystemResult>;
  targets: Target[];
  /** False when any system failed (wrong bytes, a missing key, a crash of ours or a raw baseline). */
  ok: boolean;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  disk: string;
  /** 1-minute load average when the run started and ended: other work on the machine skews every number. */
  loadAverage?: { start: number; end: number } | undefined;
}

export interface SystemResult extends Omit<JobResult, "system"> {
  kind: SystemDef["kind"];
  label: string;
  durability: string;
  baseline?: string | undefined;
  versus?: string | undefined;
}

export interface Target {
  /** What the issue asks. */
  name: string;
  /** The phase(s) compared. */
  detail: string;
  /** Measured ratio (ours ÷ other, as speed: > 1 is faster), or the measured figure. */
  measured: number | undefined;
  /** Pass when `measured` ≥ `min` (or ≤ `max`). */
  min?: number | undefined;
  max?: number | undefined;
  unit: "×" | "MiB" | "share";
  pass: boolean | undefined;
  /** Why no number (a system not available). */
  note?: string | undefined;
}

const LOWER_IS_BETTER = new Set<PhaseResult["unit"]>(["ms", "MiB"]);

export function phase(results: RunResults, system: string, workload: string, name: string): PhaseResult | undefined {
  const s = results.systems[system];
  if (!s || s.status === "unavailable") return undefined;
  return s.workloads[workload]?.[name];
}

/** Speed ratio of `a` over `b` on one phase (> 1: `a` is faster / smaller). */
export function speedRatio(a: PhaseResult | undefined, b: PhaseResult | undefined): number | undefined {
  if (!a || !b || !(a.value > 0) || !(b.value > 0)) return undefined;
  return LOWER_IS_BETTER.has(a.unit) ? b.value / a.value : a.value / b.value;
}

function why(results: RunResults, ...systems: string[]): string {
  const reasons = systems
    .map((id) => {
      const s = results.systems[id];
      if (!s) return `${id} not run`;
      if (s.status !== "ok") return `${id} ${s.status}: ${s.reason ?? ""}`;
      return undefined;
    })
    .filter(Boolean);
  return reasons.length ? reasons.join("; ") : "phase not measured";
}

/**
 * Speed ratio of two phases measured side by side in one process, round by round (the
 * overhead workload): the median of the per-round ratios. Dividing the two medians instead
 * pairs one round's layer with another round's bare backend, and a single slow round on
 * one side then moves the result (0.57× from per-round ratios of 0.99×, 0.98× and 0.53×).
 */
export function pairedRatio(a: PhaseResult | undefined, b: PhaseResult | undefined): number | undefined {
  if (!a || !b || a.samples.length === 0 || a.samples.length !== b.samples.length) return speedRatio(a, b);
  const ratios = a.samples.map((x, i) => speedRatio({ ...a, value: x }, { ...b, value: b.samples[i]! })).filter((r): r is number => r !== undefined);
  if (ratios.length === 0) return undefined;
  ratios.sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  return ratios.length % 2 ? ratios[mid] : (ratios[mid - 1]! + ratios[mid]!) / 2;
}

/** Server backends of issue 20 and the raw client each is compared with: [ours, raw, title]. */
export const SERVER_PAIRS: readonly [string, string, string][] = [
  ["redis", "raw-redis", "RedisStorage vs raw ioredis"],
  ["postgres", "raw-postgres", "PostgresStorage vs raw pg"],
  ["sqlite", "raw-sqlite", "SqliteStorage (worker thread) vs raw better-sqlite3 (main thread)"],
  ["azure-blob", "raw-azure-blob", "AzureBlobStorage vs raw @azure/storage-blob"],
];

/** Ratio targets of issue 8 (and information lines of issue 20), each the worst phase of its group. */
export function computeTargets(results: RunResults): Target[] {
  const targets: Target[] = [];
  // `min` undefined: an information line (the issue sets no ratio), shown without met / missed.
  const ratioTarget = (name: string, ours: string, other: string, pairs: [string, string][], min: number | undefined, otherPhase?: (p: string) => string) => {
    let worst: { r: number; p: string } | undefined;
    const details: string[] = [];
    for (const [workload, p] of pairs) {
      const a = phase(results, ours, workload, p);
      const b = phase(results, other, workload, otherPhase ? otherPhase(p) : p);
      // Phases of one process (the overhead workload) are paired round by round.
      const r = ours === other ? pairedRatio(a, b) : speedRatio(a, b);
      if (r === undefined) continue;
      details.push(`${workload}/${p} ${r.toFixed(2)}×`);
      if (!worst || r < worst.r) worst = { r, p: `${workload}/${p}` };
    }
    targets.push({
      name,
      detail: worst ? `${ours} vs ${other}, worst ${worst.p}; ${details.join(", ")}` : `${ours} vs ${other}`,
      measured: worst?.r,
      min,
      unit: "×",
      pass: worst && min !== undefined ? worst.r >= min : undefined,
      note: worst ? undefined : why(results, ours, other),
    });
  };
  const c = `c${results.sizes.concurrency}`;
  ratioTarget("FileStorage put ≥ 0.9× raw temp+fsync+rename (+ directory fsync, equal durability)", "file", "raw-fs-durable", [["small", "put-seq"], ["small", `put-${c}`], ["medium", "put"], ["large", "put"]], 0.9);
  ratioTarget("FileStorage get ≥ 0.9× raw readFile", "file", "raw-fs-durable", [["small", "get-seq"], ["small", `get-${c}`], ["medium", "get"], ["large", "get"]], 0.9);
  ratioTarget("FileStorage exists ≥ 0.9× raw access", "file", "raw-fs-durable", [["small", "exists-seq"], ["small", `exists-${c}`]], 0.9);
  for (const sys of ["file", "memory", "s3"]) {
    const p = phase(results, sys, "list", "list-prefix");
    const all = phase(results, sys, "list", "list-all");
    const share = p && all ? p.value / all.value : undefined;
    targets.push({
      name: `${sys} list(prefix) ∝ matching subtree (1 % of keys): time ≤ 0.1 of listing all`,
      detail: p && all ? `list-prefix ${p.value.toFixed(2)} ms, list-all ${all.value.toFixed(1)} ms` : "",
      measured: share,
      max: 0.1,
      unit: "share",
      pass: share === undefined ? undefined : share <= 0.1,
      note: share === undefined ? why(results, sys) : undefined,
    });
  }
  const smallPhases = (ws: string): [string, string][] =>
    ["put-seq", "get-seq", "exists-seq", "list", "delete-seq", `put-${c}`, `get-${c}`, `exists-${c}`, `delete-${c}`].map((p) => [ws, p]);
  ratioTarget("MemoryStorage ≥ 0.5× plain Map (1 KiB values, isolating by copy)", "memory", "map", smallPhases("small"), 0.5);
  ratioTarget("Cache hit ≥ 0.5× raw lru-cache get", "cache-file", "lru", [["small", "get-seq"], ["small", `get-${c}`]], 0.5);
  ratioTarget("Cached get never slower than an uncached FileStorage get (every value size)", "cache-file", "file", [["small", "get-seq"], ["small", `get-${c}`], ["medium", "get"], ["large", "get"]], 1);
  // ≤ 1.3× the time per operation is ≥ 1 / 1.3 of the speed.
  ratioTarget("Three pass-through layers over MemoryStorage ≤ 1.3× bare MemoryStorage per operation", "pass3-memory", "memory", smallPhases("small"), 1 / 1.3);
  // Measured in one process, alternating with the bare backend (the overhead workload);
  // separate processes (the small table) differ by more than 5 % run to run on their own.
  ratioTarget("Metrics layer ≤ 5 % overhead over FileStorage (one process, alternating)", "metrics-file", "metrics-file", ["put", "get", "exists", "delete"].map((p) => ["overhead", p] as [string, string]), 0.95, (p) => `${p}-plain`);
  ratioTarget("Metrics layer over FileStorage, separate processes (information)", "metrics-file", "file", smallPhases("small"), 0.95);
  ratioTarget("Metrics layer overhead over MemoryStorage (information)", "metrics-memory", "memory", smallPhases("small"), 0.95);
  ratioTarget("Compression ≥ 0.8× raw node:zlib (64 MiB)", "compress", "raw-zlib", [["large", "put"], ["large", "get"]], 0.8);
  ratioTarget("Encryption ≥ 0.8× raw node:crypto (64 MiB)", "encrypt", "raw-crypto", [["large", "put"], ["large", "get"]], 0.8);
  ratioTarget(
    "S3 put/get ≥ 0.95× raw SDK",
    "s3",
    "raw-s3",
    [["small", "put-seq"], ["small", "get-seq"], ["small", `put-${c}`], ["small", `get-${c}`], ["medium", "put"], ["medium", "get"], ["large", "put"], ["large", "get"]],
    0.95,
  );
  ratioTarget(`S3 ${(results.sizes.uploadSize / MiB).toFixed(0)} MiB upload faster than one raw PUT`, "s3", "raw-s3", [["upload", "put"]], 1, () => "put-single");
  const rss = phase(results, "stream-stack", "stream", "peak-rss");
  targets.push({
    name: `${(results.sizes.streamSize / MiB / 1024).toFixed(results.sizes.streamSize >= 1024 * MiB ? 0 : 3)} GiB stream through compression + encryption < 64 MiB extra RSS`,
    detail: rss ? `peak RSS over the process at rest (raw pipeline: ${phase(results, "raw-stream", "stream", "peak-rss")?.value.toFixed(1) ?? "?"} MiB)` : "",
    measured: rss?.value,
    max: 64,
    unit: "MiB",
    pass: rss ? rss.value < 64 : undefined,
    note: rss ? undefined : why(results, "stream-stack"),
  });
  // Issue 20: each server backend beside its raw client, every phase it ran (information; no
  // ratio is asked). Left out of runs that measured neither side.
  for (const [ours, raw, name] of SERVER_PAIRS) {
    if (!results.systems[ours] && !results.systems[raw]) continue;
    const pairs: [string, string][] = [];
    for (const [w, phases] of Object.entries(results.systems[ours]?.workloads ?? {})) for (const p of Object.keys(phases)) if (p !== "peak-rss") pairs.push([w, p]);
    ratioTarget(`${name} (information)`, ours, raw, pairs, undefined);
  }
  for (const [id, s] of Object.entries(results.systems)) {
    if (s.kind !== "peer" || !s.versus) continue;
    const versus = resolveVersus(results, s.versus);
    if (s.status !== "ok") {
      targets.push({ name: `ahead of ${id} on every phase`, detail: "", measured: undefined, min: 1, unit: "×", pass: undefined, note: `${id} ${s.status}: ${s.reason ?? ""}` });
      continue;
    }
    const pairs: [string, string][] = [];
    for (const [w, phases] of Object.entries(s.workloads)) for (const p of Object.keys(phases)) if (p !== "peak-rss") pairs.push([w, p]);
    ratioTarget(`ahead of ${id} on every phase (vs our ${versus}${versus === s.versus ? "" : `, ${s.versus} not available`})`, versus, id, pairs, 1);
  }
  return targets;
}

/** The system a peer is compared with: `file-nofsync` falls back to `file` when we offer no such option. */
export function resolveVersus(results: RunResults, versus: string): string {
  if (versus === "file-nofsync" && results.systems["file-nofsync"]?.status !== "ok") return "file";
  return versus;
}

// ---------------------------------------------------------------------------------------
// Formatting

function fmt(value: number, unit: PhaseResult["unit"]): string {
  if (unit === "ms") return value < 10 ? value.toFixed(2) : value.toFixed(1);
  if (unit === "MiB") return value.toFixed(1);
  if (value >= 100_000) return `${(value / 1000).toFixed(0)}k`;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)}k`;
  if (value >= 100) return value.toFixed(0);
  return value.toFixed(1);
}

const WORKLOAD_TITLES: Record<string, string> = {
  small: "Small values (ops/s, higher is better)",
  medium: "Medium values (MiB/s; delete in ops/s)",
  large: "Large values (MiB/s; peak RSS over the inputs in MiB, lower is better)",
  list: "list(prefix) over a tree (ms per call, lower is better)",
  upload: "S3 upload (MiB/s)",
  stream: "Stream through compression + encryption (MiB/s; peak RSS in MiB)",
  overhead: "A layer's overhead in one process (ops/s; `-plain`: the same backend without the layer)",
};

function describeSizes(s: Sizes, workload: string): string {
  const kib = (b: number) => (b >= MiB ? `${(b / MiB).toFixed(b % MiB ? 1 : 0)} MiB` : `${(b / 1024).toFixed(b % 1024 ? 1 : 0)} KiB`);
  switch (workload) {
    case "small":
      return `${s.smallCount.toLocaleString("en")} × ${kib(s.smallSize)} (S3, Azure Blob: ${s.s3SmallCount.toLocaleString("en")}), sequential and ${s.concurrency} in flight${
        s.minPhaseMs > 0 ? `; a put, get, exists or list pass shorter than ${s.minPhaseMs} ms runs again over the same keys until ${s.minPhaseMs} ms have passed (fast systems)` : ""
      }`;
    case "medium":
      return `${s.mediumCount} × ${kib(s.mediumSize)}, sequential`;
    case "large":
      return `${s.largeCount} × ${kib(s.largeSize)}, sequential, each operation timed alone`;
    case "list":
      return `${s.listKeys.toLocaleString("en")} keys (S3, Azure Blob: ${s.s3ListKeys.toLocaleString("en")}) in tree/pNN/qM/…; the prefix tree/p42/ matches 1 %`;
    case "upload":
      return `one ${kib(s.uploadSize)} value`;
    case "stream":
      return `${kib(s.streamSize)} streamed in and read back, sha-256 checked`;
    case "overhead":
      return `${Math.min(s.smallCount, 1000).toLocaleString("en")} × ${kib(s.smallSize)} per side, sequential, blocks of 25 operations alternating between the layer and the bare backend in one process${s.minPhaseMs > 0 ? `; a get or exists pass shorter than ${s.minPhaseMs} ms per side runs again` : ""}`;
    default:
      return "";
  }
}

function ratioCell(r: number | undefined): string {
  if (r === undefined) return "";
  return ` (${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×)`;
}

/** Markdown tables: per workload, every system's medians with its ratio to its baseline. */
export function workloadTables(results: RunResults): string {
  const out: string[] = [];
  const workloads = ["small", "medium", "large", "list", "upload", "stream", "overhead"];
  for (const w of workloads) {
    const systems = Object.entries(results.systems).filter(([, s]) => s.status !== "unavailable" && s.workloads[w]);
    if (systems.length === 0) continue;
    const phases: string[] = [];
    for (const [, s] of systems) for (const p of Object.keys(s.workloads[w]!)) if (!phases.includes(p)) phases.push(p);
    out.push(`### ${WORKLOAD_TITLES[w]}\n`);
    out.push(`${describeSizes(results.sizes, w)}. Ratio in brackets: against the system's baseline (named in the last column; for peers, against our system of equal durability, peer ÷ ours).\n`);
    out.push(`| system | ${phases.join(" | ")} | compared with | durability |`);
    out.push(`|---|${phases.map(() => "--:").join("|")}|---|---|`);
    for (const [id, s] of systems) {
      const base = s.kind === "peer" ? (s.versus ? resolveVersus(results, s.versus) : undefined) : s.baseline;
      const cells = phases.map((p) => {
        const v = s.workloads[w]![p];
        if (!v) return "";
        const b = base ? phase(results, base, w, p) : undefined;
        return `${fmt(v.value, v.unit)}${ratioCell(speedRatio(v, b))}`;
      });
      const name = s.kind === "ours" ? `**${id}**` : s.kind === "peer" ? `${id} *(peer)*` : `${id} *(raw)*`;
      out.push(`| ${name} | ${cells.join(" | ")} | ${base ?? ""} | ${s.durability} |`);
    }
    out.push("");
    // The event loop during the same phases: a ratio won by blocking the loop shows here.
    if (systems.some(([, s]) => Object.values(s.workloads[w]!).some((v) => v.loop))) {
      out.push("Event loop during each phase: timer ticks per second of a 10 ms interval (100 when nothing blocks) / worst stall (`monitorEventLoopDelay` max, ms).\n");
      out.push(`| system | ${phases.join(" | ")} |`);
      out.push(`|---|${phases.map(() => "--:").join("|")}|`);
      for (const [id, s] of systems) {
        const cells = phases.map((p) => {
          const l = s.workloads[w]![p]?.loop;
          return l ? `${l.ticksPerSecond === undefined ? "—" : l.ticksPerSecond.toFixed(0)} / ${l.maxStallMs.toFixed(l.maxStallMs < 10 ? 1 : 0)}` : "";
        });
        out.push(`| ${s.kind === "ours" ? `**${id}**` : id} | ${cells.join(" | ")} |`);
      }
      out.push("");
    }
  }
  return out.join("\n");
}

/** The target list as markdown. */
export function targetTable(targets: Target[]): string {
  const rows = ["| target | measured | required | result | detail |", "|---|--:|--:|:-:|---|"];
  for (const t of targets) {
    const measured =
      t.measured === undefined ? "—" : t.unit === "×" ? `${t.measured.toFixed(2)}×` : t.unit === "MiB" ? `${t.measured.toFixed(1)} MiB` : t.measured.toFixed(3);
    const required = t.min !== undefined ? `≥ ${t.min}${t.unit === "×" ? "×" : ""}` : t.max !== undefined ? `${t.unit === "MiB" ? "<" : "≤"} ${t.max}${t.unit === "MiB" ? " MiB" : ""}` : "";
    const info = t.min === undefined && t.max === undefined;
    const result = info ? "information" : t.pass === undefined ? "n/a" : t.pass ? "✅ met" : "❌ missed";
    rows.push(`| ${t.name} | ${measured} | ${required} | ${result} | ${t.note ?? t.detail} |`);
  }
  return rows.join("\n");
}

/** Systems that did not run, with the reason. */
export function unavailableList(results: RunResults): string {
  const lines: string[] = [];
  for (const [id, s] of Object.entries(results.systems)) {
    if (s.status !== "ok") lines.push(`- **${id}** — ${s.status === "unavailable" ? "not available" : "FAILED"}: ${s.reason ?? ""}`);
  }
  return lines.length ? lines.join("\n") : "- none: every system ran.";
}

/** The console summary: targets and a compact ratio table. */
export function consoleSummary(results: RunResults): string {
  const lines: string[] = [];
  lines.push("");
  lines.push(workloadTables(results));
  lines.push("Targets (issue 8):");
  for (const t of results.targets) {
    const m = t.measured === undefined ? "—" : t.unit === "×" ? `${t.measured.toFixed(2)}×` : t.unit === "MiB" ? `${t.measured.toFixed(1)} MiB` : t.measured.toFixed(3);
    const mark = t.min === undefined && t.max === undefined ? " info " : t.pass === undefined ? "  n/a " : t.pass ? "  met " : "MISSED";
    lines.push(`  [${mark}] ${t.name}: ${m}${t.note ? `  (${t.note})` : ""}`);
  }
  lines.push("");
  lines.push(unavailableList(results));
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------
// The chart

const COLORS: Record<SystemDef["kind"], string> = { ours: "#2563eb", raw: "#6b7280", peer: "#ea580c" };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Horizontal bars, one group per phase, each bar a system's speed relative to the
 * fastest system of the group (so ops/s and ms share one scale). Blue: ours; grey: raw
 * Node/SDK; orange: peers.
 */
export function chartSvg(results: RunResults): string {
  const c = `c${results.sizes.concurrency}`;
  const panels: { title: string; systems: string[]; phases: [string, string][] }[] = [
    {
      title: "File systems (ops/s; list-prefix as 1/ms)",
      systems: ["file", "file-nofsync", "raw-fs-durable", "raw-fs", "unstorage-fs", "flydrive-fs", "opendal-fs"],
      phases: [
        ["small", "put-seq"],
        ["small", "get-seq"],
        ["small", "exists-seq"],
        ["small", `put-${c}`],
        ["small", `get-${c}`],
        ["small", "list"],
        ["medium", "put"],
        ["medium", "get"],
        ["list", "list-prefix"],
      ],
    },
    {
      title: "In memory (ops/s; list-prefix as 1/ms)",
      systems: ["memory", "map", "lru", "cache-file", "unstorage-memory", "keyv-memory", "opendal-memory"],
      phases: [
        ["small", "put-seq"],
        ["small", "get-seq"],
        ["small", "exists-seq"],
        ["small", "list"],
        ["small", `get-${c}`],
        ["medium", "put"],
        ["medium", "get"],
        ["list", "list-prefix"],
      ],
    },
    {
      title: "Layers and S3 (MiB/s)",
      systems: ["compress", "raw-zlib", "encrypt", "raw-crypto", "s3", "raw-s3", "stream-stack", "raw-stream"],
      phases: [
        ["large", "put"],
        ["large", "get"],
        ["small", "put-seq"],
        ["small", "get-seq"],
        ["stream", "put-stream"],
        ["stream", "get-stream"],
      ],
    },
    {
      title: "Server backends beside their raw clients (ops/s; list-prefix as 1/ms)",
      systems: SERVER_PAIRS.flatMap((pair) => pair.slice(0, 2)),
      phases: [
        ["small", "put-seq"],
        ["small", "get-seq"],
        ["small", "exists-seq"],
        ["small", `put-${c}`],
        ["small", `get-${c}`],
        ["small", "list"],
        ["list", "list-prefix"],
      ],
    },
  ];
  const width = 900;
  const labelW = 230;
  const barH = 11;
  const gap = 10;
  const parts: string[] = [];
  let y = 30;
  parts.push(`<text x="10" y="20" font-size="15" font-weight="bold">@pepperpy/storage benchmarks — bar = speed relative to the fastest in its group</text>`);
  for (const panel of panels) {
    const present = panel.systems.filter((id) => results.systems[id]?.status === "ok");
    if (present.length === 0) continue;
    y += 14;
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="bold">${esc(panel.title)}</text>`);
    y += 8;
    for (const [w, p] of panel.phases) {
      const values = present
        .map((id) => ({ id, v: phase(results, id, w, p) }))
        .filter((x): x is { id: string; v: PhaseResult } => x.v !== undefined && x.v.value > 0);
      if (values.length === 0) continue;
      const speed = (v: PhaseResult) => (LOWER_IS_BETTER.has(v.unit) ? 1 / v.value : v.value);
      const best = Math.max(...values.map((x) => speed(x.v)));
      y += 6;
      parts.push(`<text x="10" y="${y + barH}" font-size="12" font-weight="bold">${esc(`${w} / ${p}`)}</text>`);
      y += barH + 4;
      for (const { id, v } of values) {
        const kind = results.systems[id]!.kind;
        const frac = speed(v) / best;
        const w2 = Math.max(1, frac * (width - labelW - 140));
        parts.push(`<text x="${labelW - 6}" y="${y + barH - 2}" font-size="11" text-anchor="end">${esc(id)}</text>`);
        parts.push(`<rect x="${labelW}" y="${y}" width="${w2.toFixed(1)}" height="${barH}" fill="${COLORS[kind]}"/>`);
        parts.push(`<text x="${(labelW + w2 + 4).toFixed(1)}" y="${y + barH - 2}" font-size="10">${esc(`${fmt(v.value, v.unit)} ${v.unit}`)}</text>`);
        y += barH + 2;
      }
    }
    y += gap;
  }
  y += 10;
  let lx = 10;
  for (const [kind, color] of Object.entries(COLORS)) {
    parts.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${color}"/><text x="${lx + 16}" y="${y + 10}" font-size="12">${kind === "ours" ? "ours" : kind === "raw" ? "raw Node / SDK" : "peer"}</text>`);
    lx += 150;
  }
  y += 24;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" role="img">\n<title>@pepperpy/storage benchmarks: ours, raw Node and peers, relative speed per workload</title>\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

/** docs/benchmarks.md. */
export function markdown(results: RunResults, opts: Pick<RunOptions, "quick">, chartFile: string, findings = ""): string {
  const m = results.machine;
  const s = results.sizes;
  const nofsync = results.systems["file-nofsync"]?.status === "ok";
  return `# Benchmarks

Generated by \`pnpm bench\` (bench) on ${results.finishedAt.slice(0, 10)}. Every number is the median of
${results.repeats} repeats; every value read back was compared byte for byte with what was written, every
listing with the expected keys, and every delete was checked, so a wrong or missing result fails the run.
Raw results: [bench/results/latest.json](../bench/results/latest.json).

![ours vs raw Node vs peers](${chartFile})

## Machine

| | |
|---|---|
| CPU | ${m.cpus} × ${m.cpuModel} (\`nproc\` = ${m.cpus}) |
| memory | ${m.memoryGiB.toFixed(1)} GiB |
| Node.js | ${m.node} |
| OS | ${m.os} |
| disk | ${m.disk} |
| load average (1 min) | ${m.loadAverage ? `${m.loadAverage.start.toFixed(1)} at the start, ${m.loadAverage.end.toFixed(1)} at the end` : "not recorded"} |

## Sizes of this run

Command: \`${results.command}\`

| workload | size |
|---|---|
${["small", "medium", "large", "list", "upload", "stream", "overhead"].map((w) => `| ${w} | ${describeSizes(s, w)} |`).join("\n")}

## Targets (issue 8)

A ratio is ours ÷ the other system as speed (above 1: ours is faster). Each line shows the worst phase of its
group and lists the others.

${targetTable(results.targets)}

${findings ? `## What limits the missed targets\n\n${findings.trim()}\n\n` : ""}## Results

${workloadTables(results)}

## Systems that did not run

${unavailableList(results)}

## Durability of each system

A number means little without what a resolved \`put\` guarantees:

| system | kind | what it is | durability |
|---|---|---|---|
${Object.entries(results.systems)
  .map(([id, x]) => `| ${id} | ${x.kind} | ${x.label} | ${x.durability} |`)
  .join("\n")}

Peers that skip \`fsync\` (unstorage fs, flydrive, OpenDAL fs) are compared with ${
    nofsync
      ? "our FileStorage with its documented `fsync: false` option (still atomic: temp file + rename)"
      : "our FileStorage **with** fsync, because it offers no `fsync: false` option — they are faster partly because they do less"
  }. Their missing durability is stated next to each of their numbers above. In-memory peers (unstorage memory,
keyv) store the caller's buffer by reference; MemoryStorage copies it on \`put\` and on \`get\`, so changing a
buffer never changes what is stored.

## How to rerun

\`\`\`sh
pnpm install
pnpm bench                     # full sizes (10 000 × 1 KiB, 200 × 1 MiB, 4 × 64 MiB, 50 000-key tree, 1 GiB stream), 3 repeats
pnpm bench -- --quick          # tiny sizes, 1 repeat: the CI smoke test (does not rewrite this page)
pnpm bench -- --systems file,raw-fs-durable --workloads small --repeats 5
pnpm bench -- --profile /tmp/prof   # a --cpu-prof profile of every child process
pnpm bench -- --help           # every size flag
# rows of a separate run (say --systems file,raw-fs --out /tmp/fs.json --no-docs) into results/latest.json,
# its command appended to the one above; then render this page again:
(cd bench && node --conditions=source --import ./src/register.mjs src/merge-results.ts /tmp/fs.json)
pnpm bench -- --report
\`\`\`

Each system runs in a child process of its own (the workloads that measure peak RSS — large and stream — in
one more process each), one after the other, so systems never compete for the two CPUs. S3 systems talk to an
s3rver the harness starts on 127.0.0.1; the Redis, PostgreSQL and Azure Blob systems likewise to a
redis-server, a PostgreSQL cluster and an Azurite it starts there (each row and its raw client on the same
server). File systems write under the OS temp directory (${m.disk.split(",")[0]}).
The list workload creates its tree of files with plain \`writeFile\`s for file systems (the listing is what is
measured) and through \`put\` for the others.

${opts.quick ? "_This page was written by a quick run; its numbers are not meaningful._\n" : ""}`;
}
