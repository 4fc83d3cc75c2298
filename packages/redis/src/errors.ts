import {
  StorageConfigError,
  type StorageError,
  StorageIOError,
  StoragePermissionError,
  StorageQuotaError,
  StorageTimeoutError,
  StorageUnavailableError,
  fromAbortSignal,
  fromNodeError,
  isStorageError,
} from "@pepperpy/storage-core";

/** What {@link mapRedisError} needs to know about the failed call. */
export interface RedisErrorContext {
  key?: string | undefined;
  operation?: string | undefined;
  /** The call's signal: an abort it caused is reported as abort or timeout. */
  signal?: AbortSignal | undefined;
  /** The call changes data: a connection lost mid-call leaves its outcome unknown. */
  write?: boolean | undefined;
  /** The client's command timeout (ms) and the option it was set with, named when a command times out. */
  commandTimeout?: TimeoutLimit | undefined;
  /** The client's connect timeout (ms) and the option it was set with, named when connecting times out. */
  connectTimeout?: TimeoutLimit | undefined;
}

/** A configured time limit and the option that set it. */
export interface TimeoutLimit {
  /** The option, as the user set it (e.g. `redisOptions.commandTimeout`). */
  option: string;
  /** Its value in ms; `undefined` when unknown. */
  ms: number | undefined;
}

/** " after N ms (option)", or " (option)" when the value is unknown. */
function limitText(limit: TimeoutLimit | undefined): string {
  if (!limit) return "";
  return limit.ms !== undefined ? ` after ${limit.ms} ms (${limit.option})` : ` (${limit.option})`;
}

/** Redis reply error codes (the first word of an error reply) that a retry may cure. */
const TRANSIENT_REPLIES = new Set(["LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY", "NOREPLICAS", "UNBLOCKED"]);
const AUTH_REPLIES = new Set(["NOAUTH", "WRONGPASS", "NOPERM"]);
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);
/** ioredis's own texts for a closed or unwritable connection (it gives them no code). */
const CONNECTION_TEXTS = ["Connection is closed.", "Stream isn't writeable", "Connection lost"];

/**
 * Maps anything ioredis (or the socket under it) throws into the storage error family:
 *
 * - connection refused / reset / closed, `MaxRetriesPerRequestError` (the server stayed
 *   unreachable while the client reconnected) → {@link StorageUnavailableError}, retryable
 * - reply `LOADING`, `BUSY`, `MASTERDOWN`, `TRYAGAIN`, `CLUSTERDOWN`, `READONLY` → {@link StorageUnavailableError}, retryable
 * - reply `NOAUTH`, `WRONGPASS`, `NOPERM` → {@link StoragePermissionError}, not retryable
 * - reply `OOM` (maxmemory reached) → {@link StorageQuotaError}
 * - reply `WRONGTYPE` → {@link StorageConfigError}: another program writes non-storage data under the key prefix
 * - `ETIMEDOUT`, ioredis `commandTimeout` → {@link StorageTimeoutError}, retryable; the message
 *   names the limit (`commandTimeout` / `connectTimeout`) and its value
 *
 * Messages carry the Redis reply code and ioredis's text, never the command's arguments,
 * so they cannot carry values or the password.
 */
export function mapRedisError(error: unknown, ctx: RedisErrorContext): StorageError {
  // ioredis attaches the failed command with its arguments (values, an AUTH password) to
  // its errors: the cause keeps only the name, code and message.
  const base = { key: ctx.key, operation: ctx.operation, backend: "redis", cause: sanitize(error) };
  if (isStorageError(error)) return error.withContext({ key: ctx.key, operation: ctx.operation, backend: "redis" });
  if (ctx.signal?.aborted) return fromAbortSignal(ctx.signal, { key: ctx.key, operation: ctx.operation, backend: "redis" });
  const e = (typeof error === "object" && error !== null ? error : {}) as { name?: string; code?: string; message?: string };
  const message = typeof e.message === "string" ? e.message : String(error);
  const unknownOutcome = ctx.write ? "; the write may or may not have been applied" : "";

  if (e.name === "ReplyError") {
    const reply = message.split(" ", 1)[0] ?? "";
    if (AUTH_REPLIES.has(reply)) {
      return new StoragePermissionError(`Redis refused the credentials or the command (${reply}; check the username and password)`, { ...base, retryable: false });
    }
    if (TRANSIENT_REPLIES.has(reply)) return new StorageUnavailableError(`Redis is temporarily unavailable (${reply})`, { ...base, retryable: true });
    if (reply === "OOM") return new StorageQuotaError("Redis is out of memory (OOM: maxmemory reached)", base);
    if (reply === "WRONGTYPE") {
      return new StorageConfigError("A Redis key under this storage's prefix holds data this library did not write (WRONGTYPE); use another keyPrefix", base);
    }
    return new StorageIOError(`Redis replied with an error (${reply || "ERR"})`, base);
  }
  if (e.name === "MaxRetriesPerRequestError") {
    return new StorageUnavailableError(`Redis is unreachable (the client is reconnecting)${unknownOutcome}`, { ...base, retryable: true });
  }
  if (message === "Command timed out") {
    return new StorageTimeoutError(`Redis command timed out${limitText(ctx.commandTimeout)}${unknownOutcome}`, { ...base, retryable: true });
  }
  if (e.code === "ETIMEDOUT") {
    // ioredis's connect timeout is "connect ETIMEDOUT" (syscall connect); any other is the OS's.
    const limit = message === "connect ETIMEDOUT" ? limitText(ctx.connectTimeout) : " (ETIMEDOUT)";
    return new StorageTimeoutError(`Redis connection timed out${limit}${unknownOutcome}`, { ...base, retryable: true });
  }
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) {
    return fromNodeError(sanitize(error), { key: ctx.key, operation: ctx.operation, backend: "redis", retryable: true });
  }
  if (CONNECTION_TEXTS.some((t) => message.startsWith(t))) {
    return new StorageUnavailableError(`Redis connection closed${unknownOutcome}`, { ...base, retryable: true });
  }
  return new StorageIOError(`Redis call failed (${e.name ?? "Error"})`, base);
}

/** A copy of a driver error without the attached command and its arguments. */
function sanitize(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const copy = new Error(error.message);
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) Object.assign(copy, { code });
  return copy;
}
