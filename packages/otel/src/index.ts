/**
 * @packageDocumentation
 * `TracingStorage`: an OpenTelemetry tracing layer for @pepperpy/storage — a span per
 * storage call with key, backend, bytes and outcome, on `@opentelemetry/api`.
 *
 * @module @pepperpy/storage-otel
 */
export { ATTR, TRACER_NAME, TracingDriver, type TracingOptions, TracingStorage } from "./tracing-storage.js";

import type { LayerPlugin } from "@pepperpy/storage-core";
import { TracingStorage } from "./tracing-storage.js";

/**
 * Registry plugin for config `options.tracing: true` (or `{ record_keys: false }`).
 * Outermost (order 5, outside metrics), so spans measure what callers see.
 */
export const layerPlugin: LayerPlugin = {
  name: "tracing",
  order: 5,
  fields: { recordKeys: "boolean" },
  create: (backend, options) =>
    new TracingStorage({
      backend,
      recordKeys: options.recordKeys as boolean | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    }),
};
