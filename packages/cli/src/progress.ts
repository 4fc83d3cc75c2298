import type { Writable } from "node:stream";
import cliProgress from "cli-progress";
import { formatBytes, formatElapsed, formatRate } from "./format.js";

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
    const moved = bytesDone + inFlight;
    return {
      objects: `${objectsDone}/${opts.objects} objects`,
      bytes: `${formatBytes(moved)}/${formatBytes(opts.bytes)}`,
      rate: formatRate(moved, Date.now() - started),
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

/** `in 1.2 s (2.80 MB/s)`. */
export function describeThroughput(bytes: number, ms: number): string {
  const rate = ms > 0 ? ` (${formatRate(bytes, ms)})` : "";
  return `in ${formatElapsed(ms)}${bytes > 0 ? rate : ""}`;
}

/** Progress of one value moving through the CLI (`put`, `get`, `cp`). */
export interface TransferProgress {
  /** `bytes` more have moved. */
  add(bytes: number): void;
  /** Removes the bar. */
  stop(): void;
}

const SILENT_TRANSFER: TransferProgress = { add() {}, stop() {} };
const REDRAW_MS = 125;
const BAR_WIDTH = 24;

/**
 * A one-line bar on `stream` while one value moves: percentage, bytes, rate and ETA when
 * the size is known (`total`), else bytes and rate. Drawn only when `enabled` and `stream`
 * is a terminal, at most eight times a second, and erased by `stop()` so the summary line
 * stands alone.
 */
export function createTransferProgress(stream: Writable, opts: { enabled: boolean; label: string; total?: number | undefined }): TransferProgress {
  if (!opts.enabled || (stream as { isTTY?: boolean }).isTTY !== true) return SILENT_TRANSFER;
  const started = Date.now();
  const total = opts.total !== undefined && opts.total >= 0 ? opts.total : undefined;
  let moved = 0;
  let lastDraw = 0;
  let drawn = false;
  const draw = () => {
    const elapsed = Date.now() - started;
    const parts = [opts.label];
    if (total !== undefined) {
      const ratio = total === 0 ? 1 : Math.min(1, moved / total);
      const full = Math.round(ratio * BAR_WIDTH);
      parts.push(`${"\u2588".repeat(full)}${"\u2591".repeat(BAR_WIDTH - full)} ${Math.floor(ratio * 100)}%`, `${formatBytes(moved)}/${formatBytes(total)}`);
    } else {
      parts.push(formatBytes(moved));
    }
    parts.push(formatRate(moved, elapsed));
    if (total !== undefined && moved > 0 && moved < total) parts.push(`ETA ${formatElapsed(((total - moved) * elapsed) / moved)}`);
    let text = parts.join(" | ").replace(" | ", " ");
    const columns = (stream as { columns?: number }).columns;
    if (columns && text.length >= columns) text = text.slice(0, columns - 1);
    stream.write(`\r\x1b[2K${text}`);
    drawn = true;
    lastDraw = Date.now();
  };
  draw();
  return {
    add(bytes) {
      moved += bytes;
      if (Date.now() - lastDraw >= REDRAW_MS) draw();
    },
    stop() {
      if (drawn) stream.write("\r\x1b[2K");
      drawn = false;
    },
  };
}
