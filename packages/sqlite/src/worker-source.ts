/**
 * The code of the worker thread that owns the SQLite connection, as CommonJS text run with
 * `new Worker(WORKER_SOURCE, { eval: true })`: no separate file to ship or resolve, the same
 * text from the ESM and the CJS build and from the TypeScript sources under test.
 *
 * Protocol: the main thread posts `{ id, op, args, cancel }` and the worker answers
 * `{ id, ok: true, result }` or `{ id, ok: false, error: { code, message } }`, one request at
 * a time in arrival order. `cancel` is an `Int32Array` over a `SharedArrayBuffer`: when the
 * caller gave up (timeout, abort) before the worker reached the request, its first slot is 1
 * and the worker skips it (`{ id, ok: false, error: { code: "CANCELLED" } }`), so an abandoned
 * write never lands later. A request the worker already started runs to its commit.
 */
export const WORKER_SOURCE = String.raw`
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const { randomBytes } = require("node:crypto");
const Database = require(workerData.modulePath);
const T = workerData.table;

let db;
try {
  if (workerData.path !== ":memory:") require("node:fs").mkdirSync(require("node:path").dirname(workerData.path), { recursive: true }); // sync-ok: on the worker thread, once, before the database opens
  db = new Database(workerData.path, { timeout: workerData.busyTimeout });
  const mode = db.pragma("journal_mode = WAL", { simple: true });
  db.pragma("synchronous = " + workerData.synchronous);
  db.exec(
    "CREATE TABLE IF NOT EXISTS " + T + " (" +
      "key TEXT NOT NULL PRIMARY KEY COLLATE BINARY, " +
      "value BLOB NOT NULL, " +
      "value_type TEXT NOT NULL, " +
      "content_type TEXT NOT NULL, " +
      "metadata TEXT NOT NULL, " +
      "etag TEXT NOT NULL, " +
      "size INTEGER NOT NULL, " +
      "modified INTEGER NOT NULL, " +
      "expires_at INTEGER" +
    ")",
  );
  parentPort.postMessage({ id: 0, ok: true, result: { journalMode: mode, sqliteVersion: db.prepare("SELECT sqlite_version() AS v").get().v } });
} catch (error) {
  parentPort.postMessage({ id: 0, ok: false, error: { code: error.code || "OPEN", message: String(error.message) } });
  process.exit(0);
}

const INFO = "key, value_type, content_type, metadata, etag, size, modified, expires_at";
const s = {
  read: db.prepare("SELECT " + INFO + ", value FROM " + T + " WHERE key = ?"),
  stat: db.prepare("SELECT " + INFO + " FROM " + T + " WHERE key = ?"),
  exists: db.prepare("SELECT 1 AS x FROM " + T + " WHERE key = ?").pluck(),
  etag: db.prepare("SELECT etag FROM " + T + " WHERE key = ?").pluck(),
  rangeTo: db.prepare("SELECT " + INFO + ", substr(value, ?, ?) AS value FROM " + T + " WHERE key = ?"),
  rangeFrom: db.prepare("SELECT " + INFO + ", substr(value, ?) AS value FROM " + T + " WHERE key = ?"),
  upsert: db.prepare(
    "INSERT INTO " + T + " (key, value, value_type, content_type, metadata, etag, size, modified, expires_at) " +
      "VALUES (@key, @value, @valueType, @contentType, @metadata, @etag, @size, @modified, @expiresAt) " +
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value, value_type = excluded.value_type, " +
      "content_type = excluded.content_type, metadata = excluded.metadata, etag = excluded.etag, " +
      "size = excluded.size, modified = excluded.modified, expires_at = excluded.expires_at",
  ),
  del: db.prepare("DELETE FROM " + T + " WHERE key = ?"),
  copy: db.prepare(
    "INSERT INTO " + T + " (key, value, value_type, content_type, metadata, etag, size, modified, expires_at) " +
      "SELECT ?, value, value_type, content_type, metadata, ?, size, ?, expires_at FROM " + T + " WHERE key = ? " +
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value, value_type = excluded.value_type, " +
      "content_type = excluded.content_type, metadata = excluded.metadata, etag = excluded.etag, " +
      "size = excluded.size, modified = excluded.modified, expires_at = excluded.expires_at",
  ),
  listFrom: db.prepare("SELECT key, size, modified, etag, expires_at FROM " + T + " WHERE key >= ? AND key > ? ORDER BY key LIMIT ?"),
  listRange: db.prepare("SELECT key, size, modified, etag, expires_at FROM " + T + " WHERE key >= ? AND key > ? AND key < ? ORDER BY key LIMIT ?"),
  purgeFrom: db.prepare("DELETE FROM " + T + " WHERE key >= ? AND expires_at IS NOT NULL AND expires_at <= ?"),
  purgeRange: db.prepare("DELETE FROM " + T + " WHERE key >= ? AND key < ? AND expires_at IS NOT NULL AND expires_at <= ?"),
};
const begin = db.prepare("BEGIN IMMEDIATE");
const commit = db.prepare("COMMIT");
const rollback = db.prepare("ROLLBACK");

/** Runs fn in a write transaction taken up front (BEGIN IMMEDIATE), so a check and its write are atomic across connections too. */
function tx(fn) {
  begin.run();
  try {
    const out = fn();
    commit.run();
    return out;
  } catch (error) {
    if (db.inTransaction) rollback.run();
    throw error;
  }
}

function newEtag() {
  return '"' + randomBytes(12).toString("hex") + '"';
}

class Conflict extends Error {
  constructor(reason) {
    super(reason);
    this.code = "CONFLICT";
  }
}

const ops = {
  read: ([key]) => s.read.get(key),
  stat: ([key]) => s.stat.get(key),
  exists: ([key]) => s.exists.get(key) === 1,
  range: ([key, start, length]) => (length === null ? s.rangeFrom.get(start + 1, key) : s.rangeTo.get(start + 1, length, key)),
  write: ([w]) => {
    const value = Buffer.from(w.value.buffer, w.value.byteOffset, w.value.byteLength);
    const row = {
      key: w.key,
      value,
      valueType: w.valueType,
      contentType: w.contentType,
      metadata: w.metadata,
      etag: newEtag(),
      size: value.byteLength,
      modified: Date.now(),
      expiresAt: w.expiresAt,
    };
    if (w.ifNoneMatch === undefined && w.ifMatch === undefined) {
      s.upsert.run(row);
    } else {
      tx(() => {
        const current = s.etag.get(w.key);
        if (w.ifNoneMatch === "*" && current !== undefined) throw new Conflict("the key already exists (ifNoneMatch: \"*\")");
        if (w.ifMatch !== undefined && current === undefined) throw new Conflict("the key does not exist (ifMatch)");
        if (w.ifMatch !== undefined && current !== w.ifMatch) throw new Conflict("the stored etag differs from ifMatch");
        s.upsert.run(row);
      });
    }
    return { etag: row.etag, modified: row.modified, size: row.size };
  },
  delete: ([key]) => {
    s.del.run(key);
  },
  deleteMany: ([keys]) => {
    tx(() => {
      for (const key of keys) s.del.run(key);
    });
  },
  copy: ([from, to]) => s.copy.run(to, newEtag(), Date.now(), from).changes > 0,
  move: ([from, to]) =>
    tx(() => {
      if (from === to) return s.exists.get(from) === 1;
      const copied = s.copy.run(to, newEtag(), Date.now(), from).changes > 0;
      if (copied) s.del.run(from);
      return copied;
    }),
  list: ([lower, cursor, upper, limit]) =>
    upper === null ? s.listFrom.all(lower, cursor, limit) : s.listRange.all(lower, cursor, upper, limit),
  // One statement: the deadline is checked and the row deleted atomically, so a key
  // rewritten with a later deadline meanwhile is kept. now is the storage's clock, not SQLite's.
  purge: ([lower, upper, now]) => (upper === null ? s.purgeFrom.run(lower, now) : s.purgeRange.run(lower, upper, now)).changes,
  checkpoint: () => db.pragma("wal_checkpoint(TRUNCATE)"),
  close: () => {
    db.close();
  },
};

parentPort.on("message", (msg) => {
  if (msg.cancel && Atomics.load(msg.cancel, 0) === 1) {
    parentPort.postMessage({ id: msg.id, ok: false, error: { code: "CANCELLED", message: "cancelled before it started" } });
    return;
  }
  let result;
  try {
    result = ops[msg.op](msg.args);
  } catch (error) {
    parentPort.postMessage({ id: msg.id, ok: false, error: { code: error.code || "ERROR", message: String(error.message) } });
    return;
  }
  // Values go back without a copy: the buffer is moved to the main thread.
  const transfer = result && result.value instanceof Uint8Array && result.value.byteLength > 0 ? [result.value.buffer] : [];
  if (transfer.length > 0 && (result.value.byteOffset !== 0 || result.value.byteLength !== result.value.buffer.byteLength)) {
    result.value = new Uint8Array(result.value);
    transfer[0] = result.value.buffer;
  }
  parentPort.postMessage({ id: msg.id, ok: true, result }, transfer);
  if (msg.op === "close") process.exit(0);
});
`;
