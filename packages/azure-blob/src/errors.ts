import {
  StorageConfigError,
  StorageConflictError,
  type StorageError,
  StorageIOError,
  StorageNotFoundError,
  StoragePermissionError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageValidationError,
  fromAbortSignal,
  isStorageError,
} from "@pepperpy/storage-core";

/** What {@link mapAzureError} needs to know about the failed call. */
export interface AzureErrorContext {
  /** The container (named in container errors). */
  container: string;
  /** The key as the user sees it. */
  key?: string | undefined;
  /** The public operation. */
  operation?: string | undefined;
  /** The call's signal: an abort it caused is reported as abort or timeout. */
  signal?: AbortSignal | undefined;
  /**
   * The storage's `requestTimeout` option (ms), when set. The SDK sends it to the service as
   * the request's server-side `timeout` (whole seconds); the service's `OperationTimedOut`
   * answer names it.
   */
  requestTimeout?: number | undefined;
}

interface RestErrorShape {
  name?: string;
  code?: string;
  statusCode?: number;
  message?: string;
  details?: { errorCode?: string };
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED", "REQUEST_SEND_ERROR"]);
const THROTTLING_CODES = new Set(["ServerBusy", "OperationTimedOut", "InternalError", "TooManyRequests"]);

/**
 * Removes what must never be printed: SAS signatures (`sig=`) and other query strings of
 * URLs, and `AccountKey=` / `SharedAccessSignature=` parts of connection strings.
 */
export function redact(text: string): string {
  return text
    .replace(/(https?:\/\/[^\s?"']*)\?[^\s"']*/g, "$1?<redacted>")
    .replace(/(AccountKey|SharedAccessSignature|sig)=[^;&\s"']*/gi, "$1=<redacted>");
}

/** A plain copy of an SDK error without its request (whose URL and headers may carry a SAS or a signature). */
function sanitizedCause(error: unknown): Error {
  const e = error as RestErrorShape;
  const copy = new Error(redact(String(e?.message ?? error)));
  copy.name = e?.name ?? "Error";
  Object.assign(copy, { code: e?.code ?? e?.details?.errorCode, statusCode: e?.statusCode });
  return copy;
}

/**
 * Maps anything `@azure/storage-blob` (or the network under it) throws into the storage
 * error family, the one place Azure failures are classified:
 *
 * - 404 `BlobNotFound` → {@link StorageNotFoundError}; `ContainerNotFound` → {@link StorageConfigError} naming the container
 * - 409 / 412 (`BlobAlreadyExists`, `ConditionNotMet`, leases) → {@link StorageConflictError}
 * - 403 (`AuthenticationFailed`, `AuthorizationFailure`, …) → {@link StoragePermissionError}
 * - 400 / 413 → {@link StorageValidationError}
 * - 429, 500, 503 (`ServerBusy`), other 5xx, connection refused or reset → {@link StorageUnavailableError}, retryable;
 *   a 500 `OperationTimedOut` names `requestTimeout` and its value when the storage set it
 * - an abort of the call's signal → `StorageAbortedError` / `StorageTimeoutError`
 *
 * The SDK error is kept as `cause` only as a sanitized copy (message, code, status): its
 * request carries the URL (with any SAS token) and the signed headers.
 */
export function mapAzureError(error: unknown, ctx: AzureErrorContext): StorageError {
  const opts = { key: ctx.key, operation: ctx.operation, backend: "azure-blob" };
  if (isStorageError(error)) return error.withContext(opts);
  if (ctx.signal?.aborted) return fromAbortSignal(ctx.signal, opts);
  const e = (error ?? {}) as RestErrorShape;
  const cause = sanitizedCause(error);
  const status = e.statusCode;
  const code = e.code ?? e.details?.errorCode ?? "";
  const detail = redact((e.message ?? String(error)).split("\n")[0] ?? "");
  const o = { ...opts, cause };
  if (e.name === "AbortError") return new StorageTimeoutError(`Azure request aborted: ${detail}`, { ...o, retryable: true });
  if (code === "ContainerNotFound") return new StorageConfigError(`Azure container "${ctx.container}" does not exist (ContainerNotFound)`, o);
  if (status === 404) return new StorageNotFoundError(`Not found (${code || 404})`, o);
  if (status === 409 || status === 412) return new StorageConflictError(`Condition failed (${code || status}): ${detail}`, o);
  if (status === 403 || status === 401) return new StoragePermissionError(`Access denied (${code || status})`, { ...o, retryable: false });
  if (status === 400 || status === 413 || status === 414) return new StorageValidationError(`Azure rejected the request (${code || status}): ${detail}`, o);
  if (status === 429 || (status !== undefined && status >= 500) || THROTTLING_CODES.has(code)) {
    const limit =
      code === "OperationTimedOut" && ctx.requestTimeout !== undefined
        ? `, the service's timeout of ${Math.floor(ctx.requestTimeout / 1000)} s set from requestTimeout ${ctx.requestTimeout} ms`
        : "";
    return new StorageUnavailableError(`Azure is unavailable (${code || status}${limit}): ${detail}`, { ...o, retryable: true });
  }
  const sys = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? code;
  if (NETWORK_CODES.has(sys) || /ECONNREFUSED|ECONNRESET|socket hang up/.test(detail)) {
    return new StorageUnavailableError(`Azure endpoint unreachable (${sys || "network"})`, { ...o, retryable: true });
  }
  return new StorageIOError(`Azure request failed (${code || status || e.name || "error"}): ${detail}`, o);
}
