/**
 * @packageDocumentation
 * `PostgresStorage`: the PostgreSQL backend of @pepperpy/storage, on `pg`.
 *
 * @module @pepperpy/storage-postgres
 */
export {
  DEFAULT_READ_CHUNK_BYTES,
  DEFAULT_TABLE,
  MAX_VALUE_BYTES,
  PostgresDriver,
  PostgresStorage,
  type PostgresStorageOptions,
  createTableSql,
  prefixUpperBound,
  redactConnectionString,
} from "./postgres-storage.js";
export { mapPostgresError, type PostgresErrorContext } from "./errors.js";

import type { Secret, StoragePlugin } from "@pepperpy/storage-core";
import { PostgresStorage } from "./postgres-storage.js";

/** Secret fields arrive held in a `Secret` (never printed by the resolved config); the storage keeps them so. */
function secret(value: unknown): string | Secret<string> | undefined {
  return value as string | Secret<string> | undefined;
}

/**
 * Registry plugin for config `type: postgres`:
 *
 * ```yaml
 * storage:
 *   type: postgres
 *   connection_string: ${DATABASE_URL}
 *   table: app_storage
 *   statement_timeout: 5s
 * ```
 */
export const storagePlugin: StoragePlugin = {
  type: "postgres",
  aliases: ["postgresql"],
  fields: {
    connectionString: "secret",
    host: "string",
    port: "integer",
    user: "string",
    password: "secret",
    database: "string",
    table: "string",
    createTable: "boolean",
    poolSize: "integer",
    connectionTimeout: "duration",
    statementTimeout: "duration",
    readChunkSize: "size",
  },
  create(config) {
    return new PostgresStorage({
      connectionString: secret(config.connectionString),
      host: config.host as string | undefined,
      port: config.port as number | undefined,
      user: config.user as string | undefined,
      password: secret(config.password),
      database: config.database as string | undefined,
      table: config.table as string | undefined,
      createTable: config.createTable as boolean | undefined,
      poolSize: config.poolSize as number | undefined,
      connectionTimeout: config.connectionTimeout as number | undefined,
      statementTimeout: config.statementTimeout as number | undefined,
      readChunkSize: config.readChunkSize as number | undefined,
      timeout: config.timeout,
      maxSize: config.maxSize,
    });
  },
};
