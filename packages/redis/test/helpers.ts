import { type RedisServer, findRedisServer, startRedisServer } from "@pepperpy/storage-testing";
import { afterAll, beforeAll, describe } from "vitest";
import { RedisStorage, type RedisStorageOptions } from "../src/index.js";

/**
 * Whether `redis-server` is installed. Without it, tests are skipped by name outside CI;
 * under CI (`CI=true`) a missing server is a failure, never a silent skip.
 */
export const redisBinary = await findRedisServer();
if (!redisBinary && process.env.CI === "true") {
  throw new Error("redis-server is not installed but CI=true: run .ci/setup-redis.sh (apt-get install -y redis-server)");
}

/** `describe`, or `describe.skip` with the reason when redis-server is missing (outside CI). */
export function describeRedis(name: string, fn: () => void): void {
  if (redisBinary) describe(name, fn);
  else describe.skip(`${name} [skipped: redis-server is not installed]`, fn);
}

/** One real redis-server for the calling test file, started in beforeAll and stopped in afterAll. */
export function useRedisServer(opts: { password?: string } = {}): { readonly server: RedisServer } {
  const holder: { server?: RedisServer } = {};
  beforeAll(async () => {
    if (redisBinary) holder.server = await startRedisServer({ binary: redisBinary, ...opts });
  });
  afterAll(async () => {
    await holder.server?.stop();
  });
  return {
    get server() {
      if (!holder.server) throw new Error("redis-server is not running");
      return holder.server;
    },
  };
}

let n = 0;
/** A RedisStorage on the server with a fresh key prefix (unless given). */
export function redisStorageFor(server: RedisServer, extra: RedisStorageOptions = {}): RedisStorage {
  return new RedisStorage({ host: server.host, port: server.port, keyPrefix: `t${process.pid}-${n++}`, ...extra });
}
