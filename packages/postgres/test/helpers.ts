import { type PostgresServer, findPostgresBinDir, startPostgresServer } from "@pepperpy/storage-testing";
import { afterAll, beforeAll, describe } from "vitest";
import { PostgresStorage, type PostgresStorageOptions } from "../src/index.js";

/**
 * The PostgreSQL binaries. Without them, tests are skipped by name outside CI; under CI
 * (`CI=true`) a missing server is a failure, never a silent skip.
 */
export const pgBinDir = await findPostgresBinDir();
if (!pgBinDir && process.env.CI === "true") {
  throw new Error("PostgreSQL is not installed but CI=true: run .ci/setup-postgres.sh (apt-get install -y postgresql)");
}

/** `describe`, or `describe.skip` with the reason when PostgreSQL is missing (outside CI). */
export function describePostgres(name: string, fn: () => void): void {
  if (pgBinDir) describe(name, fn);
  else describe.skip(`${name} [skipped: PostgreSQL is not installed]`, fn);
}

/** One throw-away PostgreSQL cluster for the calling test file. */
export function usePostgresServer(opts: { password?: string } = {}): { readonly server: PostgresServer } {
  const holder: { server?: PostgresServer } = {};
  beforeAll(async () => {
    if (pgBinDir) holder.server = await startPostgresServer({ binDir: pgBinDir, ...opts });
  }, 60_000);
  afterAll(async () => {
    await holder.server?.stop();
  });
  return {
    get server() {
      if (!holder.server) throw new Error("PostgreSQL is not running");
      return holder.server;
    },
  };
}

/** A PostgresStorage on the server (table `pepperpy_storage` unless given). */
export function pgStorageFor(server: PostgresServer, extra: PostgresStorageOptions = {}): PostgresStorage {
  return new PostgresStorage({ host: server.host, port: server.port, user: server.user, database: server.database, poolSize: 4, ...extra });
}
