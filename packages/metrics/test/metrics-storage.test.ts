import {
  createStorage,
  type DriverContext,
  ForwardingDriver,
  LayerStorage,
  type Storage,
  type StoredEntry,
  StorageNotFoundError,
  StorageTimeoutError,
  StorageValidationError,
} from "@pepperpy/storage-core";
import { CachedStorage } from "@pepperpy/storage-cache";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { RetryStorage } from "@pepperpy/storage-retry";
import { describe, expect, it } from "vitest";
import { bucketBound, bucketIndex, BUCKETS, Histogram, MetricsStorage } from "../src/index.js";

/** Holds every read until `release()`; a real slow backend as far as the layer can tell. */
class HeldReads extends LayerStorage<ForwardingDriver> {
  constructor(backend: Storage, held: Promise<void>) {
    class Driver extends ForwardingDriver {
      override async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
        await held;
        return super.read(key, ctx);
      }
    }
    super(new Driver(backend, "held"));
  }
}

describe("MetricsStorage: what is counted", () => {
  it("counts calls, bytes and errors per public operation", async () => {
    const m = new MetricsStorage({ backend: new MemoryStorage() });
    await m.put("a", "hello"); // 5 bytes
    await m.put("b", new Uint8Array(10));
    await m.putMany({ c: { x: 1 }, d: "dd" }); // 7 + 2 bytes
    expect(await m.get("a")).toBe("hello");
    await m.getText("a");
    await m.getBytes("b");
    expect(await m.exists("a")).toBe(true);
    expect(await m.exists("zz")).toBe(false);
    await m.stat("b");
    await expect(m.get("zz")).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(m.get("/bad")).rejects.toBeInstanceOf(StorageValidationError);
    expect(await m.getMany(["a", "nope"])).toEqual(["hello", undefined]);
    expect(await m.list()).toEqual(["a", "b", "c", "d"]);
    for await (const _ of m.iterate("", { pageSize: 2 })) {
      // two pages
    }
    const chunks: Buffer[] = [];
    for await (const c of await m.getStream("b", { start: 2, end: 5 })) chunks.push(c as Buffer);
    await m.copy("a", "e");
    await m.move("e", "f");
    await m.delete("f");
    await m.deleteMany(["c", "d"]);

    const s = m.getMetrics();
    const count = (op: string) => s.operations[op]?.count;
    expect(count("put")).toBe(4);
    expect(count("get")).toBe(5); // 2 direct (one missing), 2 from getMany, 1 invalid key
    expect(count("getText")).toBe(1);
    expect(count("getBytes")).toBe(1);
    expect(count("exists")).toBe(2);
    expect(count("stat")).toBe(1);
    expect(count("list")).toBe(1);
    expect(count("listPage")).toBe(2);
    expect(count("getStream")).toBe(1);
    expect(count("copy")).toBe(1);
    expect(count("move")).toBe(1);
    expect(count("delete")).toBe(1);
    expect(count("deleteMany")).toBe(1);
    expect(s.operationsCount).toBe(22);
    expect(s.operations.get?.errorsByCode).toEqual({ NOT_FOUND: 2, VALIDATION: 1 });
    expect(s.errors).toEqual({ NOT_FOUND: 2, VALIDATION: 1 });
    expect(s.errorsCount).toBe(3);
    expect(s.bytesWritten).toBe(5 + 10 + 7 + 2);
    expect(s.operations.get?.bytesRead).toBe(10); // "hello" twice
    expect(s.operations.getBytes?.bytesRead).toBe(10);
    expect(s.operations.getStream?.bytesRead).toBe(4);
    expect(s.bytesRead).toBe(5 + 5 + 5 + 10 + 4);
    expect(s.totalBytes).toBe(s.bytesRead + s.bytesWritten);
    expect(s.averageLatency).toBeGreaterThan(0);
    expect(Number.isFinite(s.averageLatency)).toBe(true);
    expect(s.latency.p50).toBeLessThanOrEqual(s.latency.p95);
    expect(s.latency.p95).toBeLessThanOrEqual(s.latency.p99);
    expect(s.latency.p99).toBeLessThanOrEqual(s.latency.max);
  });

  it("counts a timed-out call once, as a TIMEOUT failure, even when the backend answers later", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const memory = new MemoryStorage();
    await memory.put("k", "v");
    const m = new MetricsStorage({ backend: new HeldReads(memory, held) });
    await expect(m.get("k", { timeout: 20 })).rejects.toBeInstanceOf(StorageTimeoutError);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(m.getMetrics().operations.get).toMatchObject({ count: 1, errors: 1, errorsByCode: { TIMEOUT: 1 }, bytesRead: 0 });
  });

  it("reset zeroes every figure", async () => {
    const m = new MetricsStorage({ backend: new MemoryStorage() });
    await m.put("k", "v");
    await m.get("k");
    const before = m.getMetrics().since;
    m.reset();
    const s = m.getMetrics();
    expect(s).toMatchObject({ operationsCount: 0, totalBytes: 0, errorsCount: 0, averageLatency: 0, operations: {} });
    expect(s.since.getTime()).toBeGreaterThanOrEqual(before.getTime());
  });

  it("sits outermost in a stack and sees what callers see: cache hits are calls too", async () => {
    const cache = new CachedStorage({ backend: new MemoryStorage() });
    const m = new MetricsStorage({ backend: cache });
    await m.put("k", "v");
    for (let i = 0; i < 5; i++) await m.get("k");
    expect(m.getMetrics().operations.get?.count).toBe(5);
    expect(cache.getCacheStats()).toMatchObject({ hits: 4, loads: 1 });
  });
});

describe("Histogram", () => {
  it("buckets grow by sqrt(2) and every value lands in the bucket that bounds it", () => {
    for (let i = 1; i < BUCKETS; i++) expect(bucketBound(i) / bucketBound(i - 1)).toBeCloseTo(Math.SQRT2);
    for (const ms of [0, 0.001, 0.005, 0.0051, 0.3, 1, 7.5, 100, 12_345, 1e9]) {
      const i = bucketIndex(ms);
      expect(ms).toBeLessThanOrEqual(bucketBound(i));
      if (i > 0) expect(ms).toBeGreaterThan(bucketBound(i - 1));
    }
  });

  it("percentiles are within one bucket of the truth", () => {
    const h = new Histogram();
    for (let v = 1; v <= 1000; v++) h.record(v);
    for (const [q, truth] of [
      [0.5, 500],
      [0.95, 950],
      [0.99, 990],
    ] as const) {
      expect(h.quantile(q) / truth).toBeGreaterThan(1 / Math.SQRT2);
      expect(h.quantile(q) / truth).toBeLessThan(Math.SQRT2);
    }
    expect(h.quantile(1)).toBe(1000);
    expect(h.max).toBe(1000);
    expect(h.count).toBe(1000);
    expect(new Histogram().quantile(0.5)).toBe(0);
  });
});

/** A strict reader of the Prometheus text format 0.0.4, enough to validate what we emit. */
function parsePrometheus(text: string) {
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/y;
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.slice(0, -1).split("\n")) {
    const help = new RegExp(`^# HELP (${name}) (.*)$`).exec(line);
    const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (help) {
      expect(helps.has(help[1]!)).toBe(false);
      helps.add(help[1]!);
      continue;
    }
    if (type) {
      expect(types.has(type[1]!)).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = new RegExp(`^(${name})\\{(.*)\\} (\\S+)$`).exec(line);
    expect(m, `not a valid sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    const body = m![2]!;
    labelRe.lastIndex = 0;
    while (labelRe.lastIndex < body.length) {
      const start = labelRe.lastIndex;
      const lm = labelRe.exec(body);
      expect(lm, `bad labels in: ${line}`).not.toBeNull();
      labels[lm![1]!] = lm![2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      if (labelRe.lastIndex < body.length) {
        expect(body[labelRe.lastIndex], `labels not comma separated in: ${line}`).toBe(",");
        labelRe.lastIndex++;
      }
      expect(labelRe.lastIndex).toBeGreaterThan(start);
    }
    const value = m![3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m![3]);
    expect(Number.isNaN(value), `bad value in: ${line}`).toBe(false);
    const family = m![1]!.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(m![1]!) || types.get(family) === "histogram", `sample before its TYPE: ${line}`).toBe(true);
    samples.push({ name: m![1]!, labels, value });
  }
  return { types, samples };
}

describe("MetricsStorage: Prometheus exposition", () => {
  it("emits valid text: HELP and TYPE first, cumulative buckets ending at +Inf = _count, escaped labels", async () => {
    const m = new MetricsStorage({ backend: new MemoryStorage() });
    for (let i = 0; i < 20; i++) await m.put(`k${i}`, "x".repeat(i));
    for (let i = 0; i < 20; i++) await m.get(`k${i}`);
    await m.get("missing").catch(() => undefined);
    const nasty = 'a"b\\c\nd';
    const text = m.toPrometheus({ labels: { storage: nasty } });
    const { types, samples } = parsePrometheus(text);
    expect(types.get("pepperpy_storage_operations_total")).toBe("counter");
    expect(types.get("pepperpy_storage_operation_duration_seconds")).toBe("histogram");
    expect(samples.every((s) => s.labels.storage === nasty)).toBe(true);
    const ops = samples.filter((s) => s.name === "pepperpy_storage_operations_total");
    expect(Object.fromEntries(ops.map((s) => [s.labels.operation, s.value]))).toEqual({ get: 21, put: 20 });
    expect(samples.find((s) => s.name === "pepperpy_storage_errors_total")).toMatchObject({ labels: { operation: "get", code: "NOT_FOUND" }, value: 1 });
    expect(samples.find((s) => s.name === "pepperpy_storage_written_bytes_total")?.value).toBe(190);
    for (const op of ["get", "put"]) {
      const buckets = samples.filter((s) => s.name === "pepperpy_storage_operation_duration_seconds_bucket" && s.labels.operation === op);
      const les = buckets.map((b) => (b.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(b.labels.le)));
      for (let i = 1; i < buckets.length; i++) {
        expect(les[i]!).toBeGreaterThan(les[i - 1]!);
        expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      }
      const count = samples.find((s) => s.name === "pepperpy_storage_operation_duration_seconds_count" && s.labels.operation === op)!.value;
      expect(buckets.at(-1)!.labels.le).toBe("+Inf");
      expect(buckets.at(-1)!.value).toBe(count);
      const sum = samples.find((s) => s.name === "pepperpy_storage_operation_duration_seconds_sum" && s.labels.operation === op)!.value;
      expect(sum).toBeGreaterThan(0);
      expect(sum * 1000).toBeCloseTo(m.getMetrics().operations[op]!.averageLatency * count, 6);
    }
    expect(() => m.toPrometheus({ labels: { "bad-name": "x" } })).toThrow(StorageValidationError);
    expect(() => m.toPrometheus({ prefix: "1bad" })).toThrow(StorageValidationError);
  });
});

describe("config: the stack is built in the order of SPEC §5", () => {
  it("options.metrics, cache and retry give metrics(cache(retry(memory))) whatever the order in the config", async () => {
    for (const options of [
      { retry: { max: 1, delay: 1 }, cache: { size: 10 }, metrics: true },
      { metrics: {}, cache: { enabled: true, size: 10 }, retry: { max: 1, delay: 1 } },
    ]) {
      const storage = await createStorage({ type: "memory", options });
      expect(storage).toBeInstanceOf(MetricsStorage);
      const cache = (storage as MetricsStorage).backend;
      expect(cache).toBeInstanceOf(CachedStorage);
      const retry = (cache as CachedStorage).backend;
      expect(retry).toBeInstanceOf(RetryStorage);
      expect((retry as RetryStorage).backend).toBeInstanceOf(MemoryStorage);
      expect(storage.name).toBe("metrics(cache(retry(memory)))");
      await storage.put("k", "v");
      expect(await storage.get("k")).toBe("v");
      expect((storage as MetricsStorage).getMetrics().operationsCount).toBe(2);
    }
  });

  it("a disabled layer is not built", async () => {
    const storage = await createStorage({ type: "memory", options: { metrics: false, cache: { enabled: false } } });
    expect(storage).toBeInstanceOf(MemoryStorage);
  });
});
