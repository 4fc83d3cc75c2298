/**
 * @packageDocumentation
 * `RetryStorage`: exponential backoff with full jitter and a retry budget for
 * @pepperpy/storage.
 */
export { RetryDriver, type RetryEvent, type RetryPolicy, RetryStorage, type RetryStorageOptions } from "./retry-storage.js";

import type { LayerPlugin } from "@pepperpy/storage-core";
import { RetryStorage } from "./retry-storage.js";

/**
 * Registry plugin for config `options.retry`: `{ max, delay, max_delay, budget }`
 * (`max_retries` is accepted for `max`; durations in seconds in YAML, milliseconds in code).
 */
export const layerPlugin: LayerPlugin = {
  name: "retry",
  order: 50,
  fields: { max: "integer", maxRetries: "integer", delay: "duration", maxDelay: "duration", budget: "integer" },
  create: (backend, options) =>
    new RetryStorage({
      backend,
      maxRetries: (options.max ?? options.maxRetries) as number | undefined,
      delay: options.delay as number | undefined,
      maxDelay: options.maxDelay as number | undefined,
      budget: options.budget as number | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    }),
};
