import { type ObjectInfo, type Storage, StorageNotFoundError, StoragePermissionError, StorageValidationError, fromNodeError } from "@pepperpy/storage";
import { InvalidArgumentError } from "commander";
import { type CliIO, isTerminal, line } from "./io.js";

/** What every command action gets: the streams, the global options and the stop signal. */
export interface CommandContext {
  io: CliIO;
  /** Aborted on Ctrl-C or by the embedder's signal. */
  signal: AbortSignal;
  /** Opens the storage of a config file (or the default); closed when the command ends. */
  open(configFile?: string | undefined): Promise<Storage>;
  /** `--json` was given. */
  json(): boolean;
  /** `--config`, if given. */
  configFile(): string | undefined;
}

/** Keys per `deleteMany` call of `rm -r`, `sync --delete` and `prune`. */
export const DELETE_BATCH = 1000;

/** Prints a line on stdout. */
export function out(ctx: CommandContext, text: string): Promise<void> {
  return line(ctx.io.stdout, text);
}

/** Prints one JSON document on stdout. */
export function printJSON(ctx: CommandContext, value: unknown): Promise<void> {
  return line(ctx.io.stdout, JSON.stringify(value));
}

/** Commander parser of `--concurrency` and the like. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/** Commander parser of `--depth`. */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected 0 or a positive integer");
  return n;
}

/** Commander parser of a repeatable `-m NAME=VALUE`. */
export function metadataOption(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError("expected NAME=VALUE");
  return { ...previous, [value.slice(0, eq).toLowerCase()]: value.slice(eq + 1) };
}

/** The JSON form of an object's info (dates as ISO strings). */
export function infoJSON(info: ObjectInfo): Record<string, unknown> {
  return {
    key: info.key,
    size: info.size,
    lastModified: info.lastModified.toISOString(),
    etag: info.etag ?? null,
    contentType: info.contentType,
    valueType: info.valueType ?? null,
    metadata: info.metadata,
    expiresAt: info.expiresAt?.toISOString() ?? null,
    ...(info.expiresAt ? { expiresAt: info.expiresAt.toISOString() } : {}),
  };
}

/** Local input file errors (a missing or unreadable file) as storage errors, naming the file. */
export function inputFileError(error: unknown, file: string, operation: string): Error {
  const code = (error as { code?: string }).code;
  if (code === "ENOENT") return new StorageNotFoundError(`File not found: ${file}`, { operation, cause: error });
  if (code === "EISDIR") return new StorageValidationError(`${file} is a directory, not a file`, { operation, cause: error });
  const mapped = fromNodeError(error, { operation });
  return Object.assign(mapped, { message: `${file}: ${mapped.message}` });
}

/**
 * Local output file errors, naming the output path and what is wrong with it. A missing
 * directory is a bad `-o` argument (exit 4, nothing was read), never "not found" (exit 3
 * means the key is missing, and scripts rely on that).
 */
export function outputFileError(error: unknown, file: string, operation: string): Error {
  const code = (error as { code?: string }).code;
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) || "/" : ".";
  const opts = { operation, cause: error };
  switch (code) {
    case "ENOENT":
      return new StorageValidationError(`Cannot write output file ${file}: directory ${dir} does not exist`, opts);
    case "ENOTDIR":
      return new StorageValidationError(`Cannot write output file ${file}: ${dir} is not a directory`, opts);
    case "EISDIR":
      return new StorageValidationError(`Cannot write output file ${file}: it is a directory`, opts);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new StoragePermissionError(`Cannot write output file ${file}: permission denied`, opts);
    default: {
      const mapped = fromNodeError(error, { operation });
      return Object.assign(mapped, { message: `Cannot write output file ${file}: ${mapped.message}` });
    }
  }
}

/** Per-object lines go to stdout when it is not a terminal (scripts, logs) or with `--verbose`. */
export function wantsLines(ctx: CommandContext, verbose: boolean | undefined): boolean {
  return !ctx.json() && (verbose === true || !isTerminal(ctx.io.stdout));
}
