/**
 * @packageDocumentation
 * `SqliteStorage`: the embedded SQLite backend of @pepperpy/storage, on better-sqlite3, with
 * the connection on a worker thread so the caller's event loop never waits on the database.
 *
 * @module @pepperpy/storage-sqlite
 */
export {
  DEFAULT_TABLE,
  SqliteDriver,
  SqliteStorage,
  type SqliteStorageOptions,
  type SqliteSynchronous,
  mapSqliteError,
  prefixUpperBound,
} from "./sqlite-storage.js";

import type { StoragePlugin } from "@pepperpy/storage-core";
import { SqliteStorage, type SqliteSynchronous } from "./sqlite-storage.js";

/** Registry plugin for config `type: sqlite` (`path`, `table`, `synchronous`, `busy_timeout`). */
export const storagePlugin: StoragePlugin = {
  type: "sqlite",
  fields: {
    path: "string",
    table: "string",
    synchronous: { enum: ["full", "normal"] },
    busyTimeout: "duration",
  },
  required: ["path"],
  create(config) {
    return new SqliteStorage({
      path: config.path as string,
      table: config.table as string | undefined,
      synchronous: config.synchronous as SqliteSynchronous | undefined,
      busyTimeout: config.busyTimeout as number | undefined,
      timeout: config.timeout,
      maxSize: config.maxSize,
    });
  },
};
