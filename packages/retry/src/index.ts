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
 * (`maxRetries`), one name in both; `max`, the name before, is still accepted but deprecated:
 * it emits one `DeprecationWarning` (code `PEPPERPY_DEP_RETRY_MAX`) per process.
 */
export const layerPlugin: LayerPlugin = {
  name: "retry",
  order: 50,
  fields: { maxRetries: "integer", max: "integer", delay: "duration", maxDelay: "duration", budget: "integer", attemptTimeout: "duration" },
  create: (backend, options) => {
    if (options.maxRetries !== undefined && options.max !== undefined) {
      throw new StorageConfigError("storage.options.retry: give max_retries or its alias max, not both", { operation: "createStorage" });
    }
    if (options.max !== undefined) warnMaxAlias();
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

/** The code of the warning for `retry.max`, the deprecated name of `max_retries`. */
const MAX_ALIAS_WARNING_CODE = "PEPPERPY_DEP_RETRY_MAX";

/** Warns once per process (across installed copies) that config `retry.max` is deprecated. */
function warnMaxAlias(): void {
  const flag = Symbol.for(`@pepperpy/storage.warned.${MAX_ALIAS_WARNING_CODE}`);
  const seen = globalThis as Record<symbol, unknown>;
  if (seen[flag] === true) return;
  seen[flag] = true;
  process.emitWarning(
    "storage.options.retry.max is deprecated: write max_retries (maxRetries in code). max still works and will be removed in the next major version.",
    "DeprecationWarning",
    MAX_ALIAS_WARNING_CODE,
  );
}
