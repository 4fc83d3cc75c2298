/**
 * @packageDocumentation
 * `MetricsStorage`: operation counts, bytes, errors by code, latency percentiles and
 * Prometheus export for @pepperpy/storage.
 *
 * @module @pepperpy/storage-metrics
 */
export {
  escapeLabel,
  MetricsDriver,
  MetricsRecorder,
  MetricsStorage,
  type OperationMetrics,
  type PrometheusOptions,
  type StorageMetrics,
} from "./metrics-storage.js";
export { BUCKETS, bucketBound, bucketIndex, Histogram, MIN_MS } from "./histogram.js";

import type { LayerPlugin } from "@pepperpy/storage-core";
import { MetricsStorage } from "./metrics-storage.js";

/** Registry plugin for config `options.metrics: true`. Outermost (order 10), so it sees what callers see. */
export const layerPlugin: LayerPlugin = {
  name: "metrics",
  order: 10,
  fields: {},
  create: (backend, options) =>
    new MetricsStorage({ backend, timeout: options.timeout as number | undefined, maxSize: options.maxSize as number | undefined }),
};
