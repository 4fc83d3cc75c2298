/**
 * @packageDocumentation
 * `RedisStorage`: the Redis backend of @pepperpy/storage, on ioredis.
 *
 * @module @pepperpy/storage-redis
 */
export { RedisDriver, RedisStorage, type RedisStorageOptions, redactUrl } from "./redis-storage.js";
export { mapRedisError, type RedisErrorContext } from "./errors.js";

import type { Secret, StoragePlugin } from "@pepperpy/storage-core";
import { RedisStorage } from "./redis-storage.js";

/** Secret fields arrive held in a `Secret` (never printed by the resolved config); the storage keeps them so. */
function secret(value: unknown): string | Secret<string> | undefined {
  return value as string | Secret<string> | undefined;
}

/**
 * Registry plugin for config `type: redis`:
 *
 * ```yaml
 * storage:
 *   type: redis
 *   url: redis://127.0.0.1:6379/0
 *   password: ${REDIS_PASSWORD}
 *   key_prefix: myapp
 * ```
 */
export const storagePlugin: StoragePlugin = {
  type: "redis",
  fields: {
    url: "secret",
    host: "string",
    port: "integer",
    username: "string",
    password: "secret",
    db: "integer",
    keyPrefix: "string",
    connectTimeout: "duration",
  },
  create(config) {
    return new RedisStorage({
      url: secret(config.url),
      host: config.host as string | undefined,
      port: config.port as number | undefined,
      username: config.username as string | undefined,
      password: secret(config.password),
      db: config.db as number | undefined,
      keyPrefix: config.keyPrefix as string | undefined,
      connectTimeout: config.connectTimeout as number | undefined,
      timeout: config.timeout,
      maxSize: config.maxSize,
    });
  },
};
