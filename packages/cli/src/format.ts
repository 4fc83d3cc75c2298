import { StorageValidationError, parseDuration } from "@pepperpy/storage";

const UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];

/**
 * Bytes for people, in decimal units (1 kB = 1000 B) — the same units the config accepts
 * (`max_size: 10MB` is 10 000 000 bytes). At most three significant digits: `70.0 kB`,
 * `5.24 MB`, and a fraction of a byte (a rate) to one decimal: `247.7 B`.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "?";
  let value = bytes;
  let unit = 0;
  // 999.96 kB would print as "1000 kB": step up once the rounded value reaches 1000.
  while (unit < UNITS.length - 1 && (unit === 0 ? value >= 1000 : Number(value.toFixed(value >= 100 ? 0 : 2)) >= 1000)) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return Number.isInteger(value) ? `${value} B` : `${value.toFixed(1)} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${UNITS[unit]}`;
}

/** A transfer rate for people: `247.7 B/s`, `12.3 MB/s`; `?` before anything can be measured. */
export function formatRate(bytes: number, ms: number): string {
  if (!(ms > 0)) return "? B/s";
  return `${formatBytes((bytes * 1000) / ms)}/s`;
}

/** An elapsed time for people: `850 ms`, `12.3 s`, `4m 05s`. */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

/** `1 object`, `3 objects`. */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Parses an age such as `30d`, `12h`, `90m`, `2w`, `45s` to milliseconds. A unit is
 * required: a bare number is ambiguous (days? seconds?) and deleting data on a guess is
 * not acceptable.
 */
export function parseAge(text: string): number {
  const trimmed = text.trim();
  const ms = /^\d+(\.\d+)?(ms|s|m|h|d|w)$/.test(trimmed) ? parseDuration(trimmed) : undefined;
  if (ms === undefined || ms <= 0) {
    throw new StorageValidationError(`Invalid age "${text}": expected a number and a unit, such as 30d, 12h, 90m, 2w (units: ms, s, m, h, d, w)`);
  }
  return ms;
}

/** A `Date` as ISO 8601 without milliseconds, in UTC: sortable and unambiguous. */
export function formatDate(date: Date): string {
  return Number.isNaN(date.getTime()) ? "-" : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
