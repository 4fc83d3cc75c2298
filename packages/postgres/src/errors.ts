import {
  StorageConfigError,
  type StorageError,
  StorageIOError,
  StoragePermissionError,
  StorageQuotaError,
  StorageTimeoutError,
  StorageUnavailableError,
  StorageValidationError,
  fromAbortSignal,
  fromNodeError,
  isStorageError,
} from "@pepperpy/storage-core";

/** What {@link mapPostgresError} needs to know about the failed call. */
export interface PostgresErrorContext {
  key?: string | undefined;
  operation?: string | undefined;
  /** The call's signal: an abort it caused is reported as abort or timeout. */
  signal?: AbortSignal | undefined;
  /** The call changes data: a connection lost mid-call leaves its outcome unknown. */
  write?: boolean | undefined;
  /** The wait for a pooled connection (ms) and the option that set it, named when it runs out. */
  connectionTimeout?: TimeoutLimit | undefined;
  /** The server-side `statement_timeout` (ms) and the option that set it, named when the server cancels a statement for it. */
  statementTimeout?: TimeoutLimit | undefined;
  /** pg's client-side `query_timeout` (ms) and the option that set it, named when a reply does not come in time. */
  queryTimeout?: TimeoutLimit | undefined;
}

/** A configured time limit and the option that set it. */
export interface TimeoutLimit {
  /** The option, as the user set it (e.g. `statementTimeout`). */
  option: string;
  /** Its value in ms; `undefined` when unknown. */
  ms: number | undefined;
}

/** "N ms (option)", or "option" when the value is unknown. */
function limitText(limit: TimeoutLimit | undefined, fallback: string): string {
  if (!limit) return fallback;
  return limit.ms !== undefined ? `${limit.ms} ms (${limit.option})` : limit.option;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);
/** node-postgres's own texts for failures it gives no code (pool and client timeouts, lost connections). */
const POOL_TIMEOUT = "timeout exceeded when trying to connect";
const QUERY_TIMEOUT = "Query read timeout";
const CONNECTION_TEXTS = ["Connection terminated", "Client has encountered a connection error", "Client was closed"];

/**
 * Maps anything `pg` (or the socket under it) throws into the storage error family, by
 * PostgreSQL's SQLSTATE where there is one:
 *
 * - `57014` (statement_timeout, a cancelled query), `55P03` (lock_timeout), the pool's
 *   connection timeout, `query_timeout` → {@link StorageTimeoutError}, retryable; the message
 *   names the limit that ran out and its value (`statementTimeout`, `connectionTimeout`, …)
 * - class `08` (connection exceptions), `57P01`–`57P03` (server shutting down or starting),
 *   `53300` (too many connections), `40001` / `40P01` (serialization failure, deadlock),
 *   `ECONNREFUSED` and lost connections → {@link StorageUnavailableError}, retryable
 * - `28P01` / `28000` (authentication), `42501` (privilege) → {@link StoragePermissionError}
 * - `3D000` (no such database), `42P01` (no such table, with `createTable: false`) → {@link StorageConfigError}
 * - `53100` (disk full), `53200` (out of memory) → {@link StorageQuotaError}
 * - `54000` (program limit, e.g. a value too large) → {@link StorageValidationError}
 *
 * Messages carry the SQLSTATE and the server's own text (which never contains the client's
 * password), never the statement's parameters.
 */
export function mapPostgresError(error: unknown, ctx: PostgresErrorContext): StorageError {
  const base = { key: ctx.key, operation: ctx.operation, backend: "postgres", cause: error };
  if (isStorageError(error)) return error.withContext({ key: ctx.key, operation: ctx.operation, backend: "postgres" });
  if (ctx.signal?.aborted) return fromAbortSignal(ctx.signal, { key: ctx.key, operation: ctx.operation, backend: "postgres" });
  const e = (typeof error === "object" && error !== null ? error : {}) as { code?: string; message?: string; severity?: string };
  const message = typeof e.message === "string" ? e.message : String(error);
  const code = typeof e.code === "string" ? e.code : undefined;
  const unknownOutcome = ctx.write ? "; the write may or may not have been applied" : "";

  if (code && e.severity !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    const server = `${message} (SQLSTATE ${code})`;
    if (code === "57014" || code === "55P03") {
      // 57014 is also a cancel by request (pg_cancel_backend): only the statement_timeout one names it.
      const after = code === "57014" && /statement timeout/i.test(message) ? ` after ${limitText(ctx.statementTimeout, "the server's statement_timeout")}` : "";
      return new StorageTimeoutError(`PostgreSQL cancelled the statement${after}: ${server}`, { ...base, retryable: true });
    }
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300" || code === "40001" || code === "40P01") {
      return new StorageUnavailableError(`PostgreSQL is unavailable: ${server}${unknownOutcome}`, { ...base, retryable: true });
    }
    if (code === "28P01" || code === "28000" || code === "42501") return new StoragePermissionError(`PostgreSQL denied access: ${server}`, { ...base, retryable: false });
    if (code === "3D000" || code === "42P01" || code === "3F000") return new StorageConfigError(`PostgreSQL configuration: ${server}`, base);
    if (code === "53100" || code === "53200") return new StorageQuotaError(`PostgreSQL is out of space or memory: ${server}`, base);
    if (code === "54000" || code === "22P05" || code === "22021") return new StorageValidationError(`PostgreSQL rejected the value: ${server}`, base);
    return new StorageIOError(`PostgreSQL error: ${server}`, base);
  }
  if (message.startsWith(POOL_TIMEOUT) || message.startsWith(QUERY_TIMEOUT) || code === "ETIMEDOUT") {
    const why = message.startsWith(POOL_TIMEOUT)
      ? `no pooled connection became free within ${limitText(ctx.connectionTimeout, "the pool's connectionTimeoutMillis")}`
      : message.startsWith(QUERY_TIMEOUT)
        ? `no reply within ${limitText(ctx.queryTimeout, "query_timeout")}`
        : "connection timed out: ETIMEDOUT";
    return new StorageTimeoutError(`PostgreSQL did not answer in time (${why})${unknownOutcome}`, { ...base, retryable: true });
  }
  if (code && NETWORK_CODES.has(code)) return fromNodeError(error, { key: ctx.key, operation: ctx.operation, backend: "postgres", retryable: true });
  if (CONNECTION_TEXTS.some((t) => message.startsWith(t))) {
    return new StorageUnavailableError(`PostgreSQL connection lost${unknownOutcome}`, { ...base, retryable: true });
  }
  return new StorageIOError(`PostgreSQL call failed (${code ?? (error instanceof Error ? error.name : "error")})`, base);
}
