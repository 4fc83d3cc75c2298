/** Seed "Common Patterns › Storage with Metrics": counts, bytes, latency, per operation and for Prometheus. */
import assert from "node:assert/strict";
import { MetricsStorage } from "@pepperpy/storage";
import { type Example, runAsScript } from "./support.js";

export const metrics: Example = {
  title: "Storage with metrics",
  file: "examples/metrics.ts",
  section: "Common Patterns › Storage with Metrics",
  async run({ backend, log }) {
    const storage = new MetricsStorage({ backend });

    // Operations are automatically measured
    await storage.put("metrics/key", "value");
    await storage.get("metrics/key");
    await storage.get("metrics/missing").catch(() => undefined);

    // Get metrics
    const m = storage.getMetrics();
    log(`operationsCount: ${m.operationsCount}`);
    log(`totalBytes:      ${m.totalBytes}`);
    log(`averageLatency:  ${m.averageLatency.toFixed(2)} ms (p95 ${m.latency.p95.toFixed(2)} ms)`);
    log(`errors:          ${JSON.stringify(m.errors)}`);
    assert.equal(m.operationsCount, 3);
    assert.equal(m.totalBytes, 10);
    assert.equal(m.errors.NOT_FOUND, 1);

    // The same numbers in the Prometheus text format, for a /metrics endpoint
    const text = storage.toPrometheus();
    const sample = text.split("\n").find((l) => l.startsWith("pepperpy_storage_operations_total") || /_operations_total\{/.test(l));
    log(`Prometheus: ${text.split("\n").length} lines, e.g. ${sample ?? text.split("\n")[0]}`);
    assert.ok(sample);
  },
};

runAsScript(import.meta.url, metrics);
