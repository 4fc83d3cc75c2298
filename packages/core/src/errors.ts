/**
 * The one error family of @pepperpy/storage.
 *
 * Every failure that leaves the library is a {@link StorageError} with a stable `code`,
 * the `operation`, `key` and `backend` it concerns, and `retryable`, which is the only
 * thing the retry layer looks at. Errors are created where the native error is caught
 * (a backend maps ENOENT / 404 to {@link StorageNotFoundError}); nothing matches on
 * message text.
 *
 * `instanceof` works across two installed copies of this package: every error carries, under
 * a `Symbol.for` brand, the names of the classes it was constructed as (its own and every
 * ancestor up to `StorageError`), and `instanceof` checks the class's name against that list,
 * not the prototype chain. So `x instanceof StoragePartialWriteError` holds for an
 * `S3DeleteManyError` (its subclass), but a plain `StoragePartialWriteError` is not an
 * `S3DeleteManyError`.
 */

/** Stable machine-readable error codes. */
export type StorageErrorCode =
  | "NOT_FOUND"
  | "VALIDATION"
  | "CONFIG"
  | "PERMISSION"
  | "CONFLICT"
  | "INTEGRITY"
  | "UNAVAILABLE"
  | "TIMEOUT"
  | "ABORTED"
  | "QUOTA"
  | "UNSUPPORTED"
  | "PARTIAL_WRITE"
  | "OUTCOME_UNKNOWN"
  | "IO";

/** Options every storage error accepts, so third-party backends throw the same errors. */
export interface StorageErrorOptions {
  /** The key the operation concerned. */
  key?: string | undefined;
  /** The public operation (`get`, `put`, `delete`, `list`, …). */
  operation?: string | undefined;
  /** The backend or layer name (`memory`, `file`, `s3`, `cache`, …). */
  backend?: string | undefined;
  /** The native error this one was mapped from. */
  cause?: unknown;
  /** Overrides the class default: whether trying the same call again may succeed. */
  retryable?: boolean | undefined;
  /**
   * `false` when the failure proves the backend did not apply the operation (the request
   * was never sent, the connection was refused, the server turned it away before acting).
   * Leave it unset when the operation may have happened (a lost response, a timeout).
   */
  applied?: false | undefined;
}

const BRAND = Symbol.for("@pepperpy/storage.error");
const CLASSES_BRAND = Symbol.for("@pepperpy/storage.error.classes");
type Branded = { [BRAND]?: StorageErrorCode; [CLASSES_BRAND]?: readonly string[] };

/** The class names from `ctor` up to (and including) `StorageError`. */
function classNames(ctor: Function): string[] {
  const names: string[] = [];
  for (let c: unknown = ctor; typeof c === "function" && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    names.push((c as Function).name);
    if ((c as Function).name === "StorageError") break;
  }
  return names;
}

/** Keys longer than this are shortened in messages so logs stay readable. */
const MAX_KEY_IN_MESSAGE = 200;

function describeContext(e: { key?: string | undefined; operation?: string | undefined; backend?: string | undefined }): string {
  const parts: string[] = [];
  if (e.operation) parts.push(e.operation);
  if (e.key !== undefined) {
    const k = e.key.length > MAX_KEY_IN_MESSAGE ? `${e.key.slice(0, MAX_KEY_IN_MESSAGE)}…` : e.key;
    parts.push(JSON.stringify(k));
  }
  if (e.backend) parts.push(`on ${e.backend}`);
  return parts.join(" ");
}

/**
 * Base class of every error the library throws.
 *
 * `message` is the detail followed by the context in brackets, for example
 * `Key not found [get "users/1" on file]`. The context is filled in by the storage that
 * caught the error when a backend did not know it, so every message names the key, the
 * operation and the backend. Messages never contain credentials or key material.
 */
export class StorageError extends Error {
  /** Default of `retryable` for this class. */
  static readonly defaultRetryable: boolean = false;
  /** Default of `code` for this class. */
  static readonly code: StorageErrorCode = "IO";

  /** Stable code, one per class. */
  readonly code: StorageErrorCode;
  /** Whether the same call may succeed if tried again (network blips, throttling, timeouts). */
  retryable: boolean;
  /** The key the operation concerned, when there was one. */
  key: string | undefined;
  /** The public operation that failed. */
  operation: string | undefined;
  /** The backend or layer where the error was raised. */
  backend: string | undefined;
  /** Set by the retry layer: how many attempts were made before giving up. */
  attempts: number | undefined;
  /**
   * `false` when the failure proves the operation was not applied (see
   * {@link StorageErrorOptions.applied}); `undefined` when it may have been. A retry of a
   * non-idempotent operation trusts what it then finds only after failures marked `false`.
   */
  applied: false | undefined;
  /** The message without its bracketed context. */
  readonly detail: string;

  constructor(message: string, options: StorageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const ctor = new.target as unknown as typeof StorageError;
    this.name = ctor.name;
    this.code = ctor.code;
    this.detail = message;
    this.key = options.key;
    this.operation = options.operation;
    this.backend = options.backend;
    this.retryable = options.retryable ?? ctor.defaultRetryable;
    this.attempts = undefined;
    this.applied = options.applied;
    (this as Branded)[BRAND] = this.code;
    Object.defineProperty(this, CLASSES_BRAND, { value: classNames(ctor), enumerable: false });
    this.refreshMessage();
  }

  /** Fills in context a backend did not know; existing values win. Returns `this`. */
  withContext(ctx: { key?: string | undefined; operation?: string | undefined; backend?: string | undefined }): this {
    if (this.key === undefined && ctx.key !== undefined) this.key = ctx.key;
    if (this.operation === undefined && ctx.operation !== undefined) this.operation = ctx.operation;
    if (this.backend === undefined && ctx.backend !== undefined) this.backend = ctx.backend;
    this.refreshMessage();
    return this;
  }

  private refreshMessage(): void {
    const ctx = describeContext(this);
    this.message = ctx ? `${this.detail} [${ctx}]` : this.detail;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    const branded = value as Branded;
    if (branded[BRAND] === undefined) return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` was called on
    const cls = this as unknown as typeof StorageError;
    // The base class matches every branded error; a subclass matches errors constructed as it
    // or as one of its subclasses (checked by name, so a second installed copy matches too).
    if (cls === StorageError || cls.name === "StorageError") return true;
    const names = branded[CLASSES_BRAND];
    // An error from an older copy without the class list: fall back to the code.
    if (names === undefined) return cls.code === branded[BRAND];
    return names.includes(cls.name);
  }
}

/** The key does not exist. */
export class StorageNotFoundError extends StorageError {
  static override readonly code = "NOT_FOUND" as const;
  declare readonly code: "NOT_FOUND";
}
/** A key, value, option or argument is invalid; nothing was done. */
export class StorageValidationError extends StorageError {
  static override readonly code = "VALIDATION" as const;
  declare readonly code: "VALIDATION";
}
/** A configuration file or object is invalid, or names an unknown plugin. */
export class StorageConfigError extends StorageError {
  static override readonly code = "CONFIG" as const;
  declare readonly code: "CONFIG";
}
/** The backend refused access (EACCES, HTTP 403, bad credentials). */
export class StoragePermissionError extends StorageError {
  static override readonly code = "PERMISSION" as const;
  declare readonly code: "PERMISSION";
}
/** A condition failed (`ifMatch`, `ifNoneMatch`) or the key already exists or clashes. */
export class StorageConflictError extends StorageError {
  static override readonly code = "CONFLICT" as const;
  declare readonly code: "CONFLICT";
}
/** Stored data is corrupt, truncated, tampered with or was written under another key. */
export class StorageIntegrityError extends StorageError {
  static override readonly code = "INTEGRITY" as const;
  declare readonly code: "INTEGRITY";
}
/** The backend cannot be reached or is overloaded; retryable by default. */
export class StorageUnavailableError extends StorageError {
  static override readonly code = "UNAVAILABLE" as const;
  declare readonly code: "UNAVAILABLE";
  static override readonly defaultRetryable: boolean = true;
}
/** The operation did not finish within its timeout; retryable by default. */
export class StorageTimeoutError extends StorageError {
  static override readonly code = "TIMEOUT" as const;
  declare readonly code: "TIMEOUT";
  static override readonly defaultRetryable: boolean = true;
}
/** The caller aborted the operation through its `AbortSignal`. Never retried. */
export class StorageAbortedError extends StorageError {
  static override readonly code = "ABORTED" as const;
  declare readonly code: "ABORTED";
}
/** Out of space: a full disk (ENOSPC, EDQUOT) or a storage's capacity. */
export class StorageQuotaError extends StorageError {
  static override readonly code = "QUOTA" as const;
  declare readonly code: "QUOTA";
}
/** The backend (or this stack of layers) cannot do what was asked, such as a conditional write. */
export class StorageUnsupportedError extends StorageError {
  static override readonly code = "UNSUPPORTED" as const;
  declare readonly code: "UNSUPPORTED";
}
/** An I/O failure that fits no other class; `cause` holds the native error. */
export class StorageIOError extends StorageError {
  static override readonly code = "IO" as const;
  declare readonly code: "IO";
}

/**
 * A write or move failed in a way that leaves its outcome unknown: it may or may not have
 * happened. Raised after an ambiguous failure (a lost response, a timeout) of an operation
 * that cannot be safely repeated or checked afterwards — a conditional put whose retry
 * found the condition failing (our own first attempt may have made it fail), a `put` of a
 * stream (it cannot be replayed), a `move` whose retry found the source gone and the
 * destination not provably holding it. Never retryable: trying again cannot tell. `cause`
 * holds the error of the ambiguous attempt; read the key to learn its state.
 */
export class StorageOutcomeUnknownError extends StorageError {
  static override readonly code = "OUTCOME_UNKNOWN" as const;
  declare readonly code: "OUTCOME_UNKNOWN";
}

/**
 * One failure inside a {@link StoragePartialWriteError}: a backend of a composite that
 * failed, or a key of a batch (`deleteMany`) that one backend could not apply.
 */
export interface PartialFailure {
  /** Position of the backend in a composite's list; `undefined` for a key of a batch on one backend. */
  index?: number | undefined;
  /** Name of the backend that failed. */
  backend: string;
  /** The key that failed, for a per-key failure of a batch; `undefined` when the whole backend failed. */
  key?: string | undefined;
  /** What it failed with (for S3, mapped from the per-key error code; `cause` holds the native entry). */
  error: StorageError;
}

/** One backend's failure inside a composite's {@link StoragePartialWriteError}. */
export interface BackendFailure extends PartialFailure {
  /** Position of the backend in the composite's list. */
  index: number;
}

/**
 * An operation that was applied in part: a write that reached some backends of a composite
 * and failed on others, or a batch (`deleteMany`) whose backend applied some keys and
 * refused others (S3 DeleteObjects answers per key). Never a silent success: `failures`
 * names every backend or key that failed with its error, `succeeded` the backends that did
 * not fail. Retryable when every failure is.
 */
export class StoragePartialWriteError extends StorageError {
  static override readonly code = "PARTIAL_WRITE" as const;
  declare readonly code: "PARTIAL_WRITE";
  /** The backends or keys that failed, with their errors. */
  readonly failures: PartialFailure[];
  /** Indexes of the composite's backends that succeeded; empty for a batch on one backend. */
  readonly succeeded: number[];

  constructor(message: string, options: StorageErrorOptions & { failures: PartialFailure[]; succeeded?: number[] | undefined }) {
    super(message, { ...options, retryable: options.retryable ?? options.failures.every((f) => f.error.retryable) });
    this.failures = options.failures;
    this.succeeded = options.succeeded ?? [];
  }
}

const CLASSES: Record<StorageErrorCode, typeof StorageError> = {
  NOT_FOUND: StorageNotFoundError,
  VALIDATION: StorageValidationError,
  CONFIG: StorageConfigError,
  PERMISSION: StoragePermissionError,
  CONFLICT: StorageConflictError,
  INTEGRITY: StorageIntegrityError,
  UNAVAILABLE: StorageUnavailableError,
  TIMEOUT: StorageTimeoutError,
  ABORTED: StorageAbortedError,
  QUOTA: StorageQuotaError,
  UNSUPPORTED: StorageUnsupportedError,
  PARTIAL_WRITE: StorageError,
  OUTCOME_UNKNOWN: StorageOutcomeUnknownError,
  IO: StorageIOError,
};

/** The error class for a code (`PARTIAL_WRITE` maps to the base class). */
export function errorClassFor(code: StorageErrorCode): typeof StorageError {
  return CLASSES[code];
}

/**
 * True when `value` is a storage error (from any installed copy of this package),
 * and, with `code`, one with that code (then `value.code` is narrowed to it).
 */
export function isStorageError<C extends StorageErrorCode = StorageErrorCode>(value: unknown, code?: C): value is StorageError & { readonly code: C } {
  if (typeof value !== "object" || value === null) return false;
  const brand = (value as Branded)[BRAND];
  if (brand === undefined) return false;
  return code === undefined || brand === code;
}

/** Node errno codes that mean the same thing on every file system. */
const ERRNO: Record<string, [typeof StorageError, string, boolean?]> = {
  ENOENT: [StorageNotFoundError, "Key not found"],
  ENOTDIR: [StorageNotFoundError, "Key not found"],
  EACCES: [StoragePermissionError, "Permission denied"],
  EPERM: [StoragePermissionError, "Operation not permitted"],
  EROFS: [StoragePermissionError, "Read-only file system"],
  ENOSPC: [StorageQuotaError, "No space left on device"],
  EDQUOT: [StorageQuotaError, "Disk quota exceeded"],
  EFBIG: [StorageQuotaError, "File too large for the file system"],
  EEXIST: [StorageConflictError, "Key already exists"],
  EISDIR: [StorageConflictError, "Key is a prefix of other keys (a directory)"],
  ENOTEMPTY: [StorageConflictError, "Directory not empty"],
  EMFILE: [StorageUnavailableError, "Too many open files", true],
  ENFILE: [StorageUnavailableError, "Too many open files in the system", true],
  EAGAIN: [StorageUnavailableError, "Resource temporarily unavailable", true],
  EBUSY: [StorageUnavailableError, "Resource busy", true],
  ECONNREFUSED: [StorageUnavailableError, "Connection refused", true],
  ECONNRESET: [StorageUnavailableError, "Connection reset", true],
  EPIPE: [StorageUnavailableError, "Connection closed", true],
  ETIMEDOUT: [StorageTimeoutError, "Timed out", true],
  ENOTFOUND: [StorageUnavailableError, "Host not found", true],
  EAI_AGAIN: [StorageUnavailableError, "DNS lookup failed", true],
};

/** Errno codes of a connection that was never made: the request was not sent. */
const NEVER_SENT: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Maps a Node system error (anything with an errno `code`) to the storage error family.
 * Unknown codes become {@link StorageIOError}. Storage errors pass through unchanged
 * (with missing context filled in).
 */
export function fromNodeError(error: unknown, ctx: StorageErrorOptions = {}): StorageError {
  if (isStorageError(error)) return error.withContext(ctx);
  const code = (error as { code?: unknown } | null)?.code;
  const entry = typeof code === "string" ? ERRNO[code] : undefined;
  if (entry) {
    const [Cls, text, retryable] = entry;
    const applied = ctx.applied ?? (NEVER_SENT.has(code as string) ? false : undefined);
    return new Cls(`${text} (${code})`, { ...ctx, cause: error, retryable: ctx.retryable ?? retryable, applied });
  }
  const text = error instanceof Error ? error.message : String(error);
  return new StorageIOError(`I/O error: ${text}`, { ...ctx, cause: error });
}

/** Error for a timed-out or aborted signal; distinguishes the two by the signal's reason. */
export function fromAbortSignal(signal: AbortSignal, ctx: StorageErrorOptions = {}): StorageError {
  const reason: unknown = signal.reason;
  if (isStorageError(reason)) return reason.withContext(ctx);
  if (reason instanceof Error && reason.name === "TimeoutError") {
    // The core's deadline names its limit ("Timed out after 30000 ms"); keep it in the message.
    const detail = /^Timed out after \d+ ms$/.test(reason.message) ? reason.message : "Operation timed out";
    return new StorageTimeoutError(detail, { ...ctx, cause: reason });
  }
  return new StorageAbortedError("Operation aborted", { ...ctx, cause: reason });
}
