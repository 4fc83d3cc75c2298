/**
 * @packageDocumentation
 * `RetryStorage`: exponential backoff with full jitter and a retry budget for
 * @pepperpy/storage.
 *
 * @module @pepperpy/storage-retry
 */
export { RetryDriver, type RetryEvent, type RetryPolicy, RetryStorage, type RetryStorageOptions } from "./retry-storage.js";

import { type LayerPlugin, StorageConfigError } from "@pepperpy/storage-core";
import { RetryStorage } from "./retry-storage.js";

/**
 * Registry plugin for config `options.retry`: `{ max_retries, delay, max_delay, budget, attempt_timeout }`
 * (durations in seconds in YAML, milliseconds in code). `max_retries` is the code's name
 * (`maxRetries`), one name in both; `max`, the name before, is accepted as an alias.
 */
export const layerPlugin: LayerPlugin = {
  name: "retry",
  order: 50,
  fields: { maxRetries: "integer", max: "integer", delay: "duration", maxDelay: "duration", budget: "integer", attemptTimeout: "duration" },
  create: (backend, options) => {
    if (options.maxRetries !== undefined && options.max !== undefined) {
      throw new StorageConfigError("storage.options.retry: give max_retries or its alias max, not both", { operation: "createStorage" });
    }
    return new RetryStorage({
      backend,
      maxRetries: (options.maxRetries ?? options.max) as number | undefined,
      delay: options.delay as number | undefined,
      maxDelay: options.maxDelay as number | undefined,
      budget: options.budget as number | undefined,
      attemptTimeout: options.attemptTimeout as number | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    });
  },
};
