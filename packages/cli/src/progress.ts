import type { Writable } from "node:stream";
import cliProgress from "cli-progress";
import { formatBytes, formatElapsed } from "./format.js";

/**
 * Progress of a transfer of many objects. On a terminal it is a live bar on stderr
 * (objects, bytes, rate, ETA); in a pipe or with `--no-progress` it draws nothing and the
 * command prints one quiet line per object instead.
 */
export interface Progress {
  /** One object done; `bytes` it moved (0 for deletes). */
  advance(bytes: number): void;
  /** Bytes moved so far of an object still in flight, for a smooth rate on large objects. */
  partial(bytes: number): void;
  /** Removes the bar (before the summary is printed). */
  stop(): void;
}

const SILENT: Progress = { advance() {}, partial() {}, stop() {} };

/** A bar on `stream` when it is a terminal and `enabled`; otherwise a no-op. */
export function createProgress(stream: Writable, opts: { enabled: boolean; label: string; objects: number; bytes: number }): Progress {
  if (!opts.enabled || (stream as { isTTY?: boolean }).isTTY !== true || opts.objects === 0) return SILENT;
  const started = Date.now();
  // Each object weighs one unit plus its bytes, so both many small objects and a few
  // large ones move the bar and the ETA.
  const total = opts.objects + opts.bytes;
  let objectsDone = 0;
  let bytesDone = 0;
  let inFlight = 0;
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as unknown as NodeJS.WritableStream,
      format: `${opts.label} {bar} {percentage}% | {objects} | {bytes} | {rate} | ETA {eta_formatted}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const moved = bytesDone + inFlight;
    return {
      objects: `${objectsDone}/${opts.objects} objects`,
      bytes: `${formatBytes(moved)}/${formatBytes(opts.bytes)}`,
      rate: `${formatBytes(moved / seconds)}/s`,
    };
  };
  bar.start(total, 0, payload());
  return {
    advance(bytes) {
      objectsDone++;
      bytesDone += bytes;
      inFlight = Math.max(0, inFlight - bytes);
      bar.update(Math.min(total, objectsDone + bytesDone + inFlight), payload());
    },
    partial(bytes) {
      inFlight += bytes;
      bar.update(Math.min(total, objectsDone + bytesDone + inFlight), payload());
    },
    stop() {
      bar.stop();
    },
  };
}

/** `12 objects (3.4 MB) in 1.2 s, 2.8 MB/s`. */
export function describeThroughput(bytes: number, ms: number): string {
  const rate = ms > 0 ? ` (${formatBytes((bytes * 1000) / ms)}/s)` : "";
  return `in ${formatElapsed(ms)}${bytes > 0 ? rate : ""}`;
}
