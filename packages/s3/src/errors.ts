import {
  StorageConfigError,
  StorageConflictError,
  type StorageError,
  StorageIOError,
  StorageNotFoundError,
  StorageOutcomeUnknownError,
  StoragePermissionError,
  StorageQuotaError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageValidationError,
  fromAbortSignal,
  fromNodeError,
  isStorageError,
} from "@pepperpy/storage-core";

/** What {@link mapS3Error} needs to know about the failed call. */
export interface S3ErrorContext {
  /** The bucket the call went to (named in bucket errors). */
  bucket: string;
  /** The key as the user sees it (relative to the storage's prefix). */
  key?: string | undefined;
  /** The public operation. */
  operation?: string | undefined;
  /** The signal of the call: an abort it caused is reported as abort or timeout, never as a network error. */
  signal?: AbortSignal | undefined;
  /** The storage's `requestTimeout` option (ms), when set: named in the message of a timeout it caused. */
  requestTimeout?: number | undefined;
}

/** The fields of an AWS SDK v3 error this mapper reads. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $fault?: "client" | "server";
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
}

const PERMISSION_CODES = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "AccountProblem",
  "InvalidObjectState",
  "Forbidden",
]);
const NOT_FOUND_CODES = new Set(["NoSuchKey", "NotFound", "NoSuchVersion"]);
const CONFLICT_CODES = new Set(["PreconditionFailed", "ConditionalRequestConflict"]);
const THROTTLING_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "TooManyRequests",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "ProvisionedThroughputExceededException",
]);
const TRANSIENT_CODES = new Set(["InternalError", "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException"]);
/** Connections that were never made: the request was not sent, nothing was applied. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);

/**
 * Maps anything the AWS SDK (or the network under it) throws into the storage error
 * family. It is the one place S3 failures are classified, so `retryable` means the same
 * thing for every operation:
 *
 * - 404 / `NoSuchKey` → {@link StorageNotFoundError}
 * - `NoSuchBucket` → {@link StorageConfigError} naming the bucket (not retryable: the config is wrong)
 * - 403 / `AccessDenied` / `InvalidAccessKeyId` / `SignatureDoesNotMatch` → {@link StoragePermissionError} (not retryable)
 * - 412 / `PreconditionFailed`, 409 `ConditionalRequestConflict` → {@link StorageConflictError};
 *   on an SDK retry (attempt > 1) → {@link StorageOutcomeUnknownError}, since the earlier
 *   attempt may have been applied and caused the failed condition
 * - 429, 503 `SlowDown`, 500 / 502 / 504, other 5xx → {@link StorageUnavailableError}, retryable
 * - socket timeouts, `RequestTimeout` → {@link StorageTimeoutError}, retryable; the message
 *   names the limit: `requestTimeout` and its value, or the SDK's own timeout and its value
 * - `ECONNREFUSED`, `ECONNRESET` / `socket hang up` (even when the SDK names it
 *   `TimeoutError`), `EPIPE`, … → {@link StorageUnavailableError}, retryable; a connection
 *   that was never made is marked `applied: false`
 * - an abort of `signal` → `StorageAbortedError` / `StorageTimeoutError` as the signal says
 *
 * Messages are built from the S3 error code and HTTP status, never from request data, so
 * they cannot carry credentials or signatures.
 */
export function mapS3Error(error: unknown, ctx: S3ErrorContext): StorageError {
  const base = { key: ctx.key, operation: ctx.operation, backend: "s3", cause: error };
  if (isStorageError(error)) return error.withContext({ key: ctx.key, operation: ctx.operation, backend: "s3" });
  if (ctx.signal?.aborted) return fromAbortSignal(ctx.signal, { key: ctx.key, operation: ctx.operation, backend: "s3" });

  const e = (typeof error === "object" && error !== null ? error : {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? (e.name && e.name !== "Error" && e.name !== "S3ServiceException" ? e.name : undefined) ?? e.code;
  const label = [code, status !== undefined ? `HTTP ${status}` : undefined].filter(Boolean).join(", ");
  const requestId = e.$metadata?.requestId ? `; request id ${e.$metadata.requestId}` : "";

  if (code === "NoSuchBucket") {
    return new StorageConfigError(`S3 bucket "${ctx.bucket}" does not exist (NoSuchBucket${requestId})`, { ...base, retryable: false });
  }
  if (code !== undefined && NOT_FOUND_CODES.has(code)) return new StorageNotFoundError("Key not found", base);
  if ((code !== undefined && PERMISSION_CODES.has(code)) || status === 401 || status === 403) {
    const hint =
      code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch"
        ? " (check the access key id and secret)"
        : code === "ExpiredToken" || code === "InvalidToken"
          ? " (the session token is expired or invalid)"
          : "";
    return new StoragePermissionError(`S3 denied access to bucket "${ctx.bucket}" (${label}${requestId})${hint}`, { ...base, retryable: false });
  }
  if ((code !== undefined && CONFLICT_CODES.has(code)) || status === 412) {
    if ((e.$metadata?.attempts ?? 1) > 1) {
      // The SDK retried the conditional request: if an earlier attempt was applied and only
      // its answer was lost, that attempt is what made the condition fail.
      return new StorageOutcomeUnknownError(
        `Write condition failed on attempt ${e.$metadata!.attempts} after an earlier attempt failed; the earlier attempt may have been applied, so the outcome is unknown (${label || "HTTP 412"})`,
        { ...base, retryable: false },
      );
    }
    return new StorageConflictError(`Write condition failed (${label || "HTTP 412"})`, { ...base, retryable: false });
  }
  if (code === "EntityTooLarge" || code === "EntityTooSmall" || code === "KeyTooLongError" || code === "MetadataTooLarge" || code === "InvalidArgument") {
    return new StorageValidationError(`S3 rejected the request (${label}${requestId})`, base);
  }
  if (code === "QuotaExceeded" || code === "XMinioStorageFull" || code === "StorageFull") {
    return new StorageQuotaError(`S3 storage is full (${label}${requestId})`, base);
  }
  // The SDK's HTTP handler names a reset socket "TimeoutError" (code ECONNRESET, "socket
  // hang up"): the connection broke, it did not time out. The errno code decides.
  if (typeof e.code === "string" && e.code !== "ETIMEDOUT" && NETWORK_CODES.has(e.code)) {
    return new StorageUnavailableError(`S3 connection failed (${e.code})`, { ...base, retryable: true, applied: NEVER_SENT.has(e.code) ? false : undefined });
  }
  if (status === undefined && e.name === "TimeoutError" && /socket hang up|econnreset|connection reset/i.test(e.message ?? "")) {
    return new StorageUnavailableError("S3 connection failed (socket hang up)", { ...base, retryable: true });
  }
  if (code === "TimeoutError" || code === "RequestTimeout" || code === "RequestTimeoutException" || code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT") {
    const limit = timeoutLimit(e, code, status, ctx);
    return new StorageTimeoutError(`S3 request timed out${limit.after} (${[limit.which, label].filter(Boolean).join("; ")})`, { ...base, retryable: true });
  }
  if ((code !== undefined && (THROTTLING_CODES.has(code) || TRANSIENT_CODES.has(code))) || status === 429 || (status !== undefined && status >= 500)) {
    return new StorageUnavailableError(`S3 is unavailable or throttling (${label}${requestId})`, { ...base, retryable: true });
  }
  if (code !== undefined && NETWORK_CODES.has(code)) return fromNodeError(error, { key: ctx.key, operation: ctx.operation, backend: "s3", retryable: true });
  if (e.name === "AbortError") {
    // An abort that was not ours: the SDK or a socket gave up.
    return new StorageUnavailableError("S3 request was aborted by the connection", { ...base, retryable: true });
  }
  if (status !== undefined && status >= 200 && status < 300) {
    // A 2xx whose body could not be read or parsed: a response cut short in transit.
    return new StorageUnavailableError(`S3 response was incomplete or malformed (${label})`, { ...base, retryable: true });
  }
  if (status === undefined && isLikelyNetworkFailure(e)) {
    return new StorageUnavailableError(`S3 connection failed (${e.code ?? e.name ?? "network error"})`, { ...base, retryable: true });
  }
  const retryable = e.$retryable !== undefined;
  return new StorageIOError(`S3 request failed (${label || "unknown error"}${requestId})`, { ...base, retryable });
}

/**
 * The limit a timeout ran into, for its message: the storage's `requestTimeout` (the SDK's
 * connection and socket timeouts are set from it), else the limit the SDK's HTTP handler
 * states in its own text (its default socket timeout, or one set in `clientConfig` or on a
 * given client), else S3's own idle timeout for its `RequestTimeout` answer.
 */
function timeoutLimit(e: SdkErrorShape, code: string | undefined, status: number | undefined, ctx: S3ErrorContext): { after: string; which: string | undefined } {
  if (status !== undefined) return { after: "", which: code === "RequestTimeout" || code === "RequestTimeoutException" ? "S3's own idle-connection timeout" : undefined };
  // ETIMEDOUT and the like without the handler's TimeoutError: the OS gave up, no option of ours.
  if (e.name !== "TimeoutError") return { after: "", which: undefined };
  if (ctx.requestTimeout !== undefined) return { after: ` after ${ctx.requestTimeout} ms`, which: "requestTimeout" };
  // The handler's own texts: "…within the configured timeout of N ms", "…timed out after N ms of
  // inactivity (service default socket timeout)", "…exceeded the configured N ms requestTimeout".
  const text = e.message ?? "";
  const ms = /(?:after|timeout of|configured) (\d+) ms/.exec(text)?.[1];
  if (ms === undefined) return { after: "", which: "the SDK's HTTP handler timeout" };
  const which = /service default/.test(text)
    ? "the SDK's default socket timeout"
    : /establish a connection/.test(text)
      ? "the SDK HTTP handler's connectionTimeout"
      : /requestTimeout/.test(text)
        ? "the SDK HTTP handler's requestTimeout"
        : "the SDK HTTP handler's socketTimeout";
  return { after: ` after ${ms} ms`, which };
}

/** Errors the HTTP layer raises without a status: a socket that closed or never answered. */
function isLikelyNetworkFailure(e: SdkErrorShape): boolean {
  const text = `${e.name ?? ""} ${e.message ?? ""}`.toLowerCase();
  return /socket hang up|aborted|premature close|econnreset|connection (?:reset|closed|refused)|other side closed|terminated/.test(text);
}

/** A response body that ended before (or ran past) its announced length: retryable, never a value. */
export function truncatedBody(received: number, expected: number, ctx: S3ErrorContext): StorageError {
  const what = received < expected ? "truncated" : "longer than its Content-Length";
  return new StorageUnavailableError(`S3 response body ${what}: received ${received} of ${expected} bytes`, {
    key: ctx.key,
    operation: ctx.operation,
    backend: "s3",
    retryable: true,
  });
}
