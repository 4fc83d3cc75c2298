/**
 * SPEC §12: a backend users grow into — an embedded SQLite database (WAL, crash-safe, one
 * worker thread owns the connection so the event loop never waits on SQLite), built from the
 * same YAML as every other backend. The same code runs on Redis, PostgreSQL and Azure Blob
 * (`type: redis | postgres | azure-blob`) once their servers are configured.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createStorage, parseConfig, registerStorage } from "@pepperpy/storage";
import { storagePlugin as sqlitePlugin } from "@pepperpy/storage-sqlite";
import { type Example, runAsScript } from "./support.js";

export const sqlite: Example = {
  title: "SQLite, from YAML",
  file: "examples/sqlite.ts",
  section: "More backends (SPEC §12)",
  kinds: ["files"],
  async run({ dataDir, log }) {
    // Installed plugins load on demand from `type:`; registering makes it explicit here.
    registerStorage(sqlitePlugin);
    const file = join(dataDir, "tour.sqlite");
    const config = await parseConfig(`
storage:
  type: sqlite
  path: ${JSON.stringify(file)}
  options:
    compression: true
`);
    const storage = await createStorage(config);
    try {
      await storage.put("orders/1.json", { id: 1, total: 9.5 });
      await storage.put("orders/2.json", { id: 2, total: 20 }, { ttl: 60_000 });
      await storage.put("notes/today.txt", "ship orders");
      log(`list("orders/") -> ${JSON.stringify(await storage.list("orders/"))}`);
      assert.deepEqual(await storage.list("orders/"), ["orders/1.json", "orders/2.json"]);
      assert.deepEqual(await storage.get("orders/1.json"), { id: 1, total: 9.5 });
      const info = await storage.stat("orders/2.json");
      log(`stat("orders/2.json") -> ${info.size} bytes, expires ${info.expiresAt?.toISOString()}`);
      assert.ok(info.expiresAt);
      // Create-only: a second create of the same key is a conflict, checked inside SQLite.
      const conflict = await storage.put("orders/1.json", { id: 1 }, { ifNoneMatch: "*" }).catch((e: unknown) => e);
      log(`create-only put of an existing key -> ${(conflict as Error).name}`);
      assert.equal((conflict as { code?: string }).code, "CONFLICT");
      await storage.deleteMany(await storage.list());
    } finally {
      await storage.close();
    }
  },
};

runAsScript(import.meta.url, sqlite);
