import { type StorageErrorCode, isStorageError } from "@pepperpy/storage";

/**
 * Exit status of `pepperpy-storage`, one per error class, so scripts can tell a missing
 * key from a bad config or an unreachable server without reading stderr.
 */
export const ExitCode = {
  /** Everything worked. */
  OK: 0,
  /** An unexpected failure (a bug): please report it. */
  INTERNAL: 1,
  /** Bad command line: unknown command or option, missing or invalid argument. */
  USAGE: 2,
  /** `StorageNotFoundError`: the key (or a file given on the command line) does not exist. */
  NOT_FOUND: 3,
  /** `StorageValidationError`: invalid key, value or option; nothing was done. */
  VALIDATION: 4,
  /** `StorageConfigError`: the config file is missing, unreadable or invalid. */
  CONFIG: 5,
  /** `StoragePermissionError`: access denied (file permissions, HTTP 403, bad credentials). */
  PERMISSION: 6,
  /** `StorageConflictError`: a condition failed or the key clashes with another. */
  CONFLICT: 7,
  /** `StorageIntegrityError`: stored data is corrupt, tampered with or needs another key. */
  INTEGRITY: 8,
  /** `StorageUnavailableError`: the backend cannot be reached or is overloaded. */
  UNAVAILABLE: 9,
  /** `StorageTimeoutError`: an operation did not finish in time. */
  TIMEOUT: 10,
  /** `StorageQuotaError`: out of space. */
  QUOTA: 11,
  /** `StorageUnsupportedError`: the storage cannot do what was asked. */
  UNSUPPORTED: 12,
  /** `StoragePartialWriteError`: applied in part (a composite write on some backends, an S3 `deleteMany` on some keys). */
  PARTIAL_WRITE: 13,
  /** `StorageIOError`: any other I/O failure. */
  IO: 14,
  /** `StorageOutcomeUnknownError`: a write may or may not have happened; read the key to know. */
  OUTCOME_UNKNOWN: 15,
  /** Interrupted (Ctrl-C) or `StorageAbortedError`: 128 + SIGINT, as shells report it. */
  INTERRUPTED: 130,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const BY_ERROR_CODE: Record<StorageErrorCode, ExitCodeValue> = {
  NOT_FOUND: ExitCode.NOT_FOUND,
  VALIDATION: ExitCode.VALIDATION,
  CONFIG: ExitCode.CONFIG,
  PERMISSION: ExitCode.PERMISSION,
  CONFLICT: ExitCode.CONFLICT,
  INTEGRITY: ExitCode.INTEGRITY,
  UNAVAILABLE: ExitCode.UNAVAILABLE,
  TIMEOUT: ExitCode.TIMEOUT,
  ABORTED: ExitCode.INTERRUPTED,
  QUOTA: ExitCode.QUOTA,
  UNSUPPORTED: ExitCode.UNSUPPORTED,
  PARTIAL_WRITE: ExitCode.PARTIAL_WRITE,
  OUTCOME_UNKNOWN: ExitCode.OUTCOME_UNKNOWN,
  IO: ExitCode.IO,
};

/** The exit status for an error: its storage error class, else {@link ExitCode.INTERNAL}. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  return isStorageError(error) ? BY_ERROR_CODE[error.code] : ExitCode.INTERNAL;
}

/** A short label per exit code, for `--help` and the README table. */
export const EXIT_CODE_LABELS: Record<keyof typeof ExitCode, string> = {
  OK: "ok",
  INTERNAL: "internal error",
  USAGE: "usage",
  NOT_FOUND: "not found",
  VALIDATION: "invalid key, value or argument",
  CONFIG: "config",
  PERMISSION: "permission",
  CONFLICT: "conflict",
  INTEGRITY: "integrity",
  UNAVAILABLE: "unavailable",
  TIMEOUT: "timeout",
  QUOTA: "out of space",
  UNSUPPORTED: "unsupported",
  PARTIAL_WRITE: "partial write",
  IO: "I/O",
  OUTCOME_UNKNOWN: "outcome unknown",
  INTERRUPTED: "interrupted",
};

/**
 * The exit-code paragraph of `--help`, generated from {@link ExitCode} so the two cannot
 * drift: `Exit codes: 0 ok, 1 internal error, …`, wrapped at `width` columns.
 */
export function describeExitCodes(width = 80): string {
  const items = (Object.keys(ExitCode) as (keyof typeof ExitCode)[]).map((name, i, all) => `${ExitCode[name]} ${EXIT_CODE_LABELS[name]}${i === all.length - 1 ? "." : ","}`);
  const lines: string[] = [];
  let current = "Exit codes:";
  for (const item of items) {
    if (current.length + 1 + item.length > width) {
      lines.push(current);
      current = item;
    } else current += ` ${item}`;
  }
  lines.push(current);
  return lines.join("\n");
}
