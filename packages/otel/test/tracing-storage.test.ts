import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { StorageNotFoundError, createStorage } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ATTR, TracingStorage, layerPlugin } from "../src/index.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
});
afterEach(() => exporter.reset());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

const spans = () => exporter.getFinishedSpans();

describe("TracingStorage", () => {
  it("opens one span per call with operation, key, backend, bytes and outcome", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage() });
    await s.put("users/1.json", { name: "Ada" });
    expect(await s.get("users/1.json")).toEqual({ name: "Ada" });
    expect(await s.exists("users/2.json")).toBe(false);
    const names = spans().map((x) => x.name);
    expect(names).toEqual(["storage.put", "storage.get", "storage.exists"]);
    const [put, get, exists] = spans();
    expect(put!.attributes[ATTR.key]).toBe("users/1.json");
    expect(put!.attributes[ATTR.backend]).toBe("memory");
    expect(put!.attributes[ATTR.bytes]).toBe(Buffer.byteLength('{"name":"Ada"}'));
    expect(put!.attributes[ATTR.outcome]).toBe("ok");
    expect(get!.attributes[ATTR.bytes]).toBe(Buffer.byteLength('{"name":"Ada"}'));
    expect(exists!.attributes[ATTR.outcome]).toBe("not_found");
    expect(exists!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("marks a failed call as an error with the error code and the exception", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage() });
    await s.put("k", "v");
    await expect(s.put("k", "w", { ifNoneMatch: "*" })).rejects.toMatchObject({ code: "CONFLICT" });
    // The conflicting put also stats the key after the failed write (the core's conflict
    // check), so its span is found by outcome, not by position.
    const failed = spans().find((x) => x.attributes[ATTR.outcome] === "CONFLICT");
    expect(failed, "a span with outcome CONFLICT").toBeDefined();
    expect(failed!.name).toBe("storage.put");
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed!.events.some((e) => e.name === "exception")).toBe(true);
  });

  it("a get of a missing key rejects as before and records not_found", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage() });
    await expect(s.get("nope")).rejects.toBeInstanceOf(StorageNotFoundError);
    expect(spans().map((x) => [x.name, x.attributes[ATTR.outcome]])).toEqual([["storage.get", "not_found"]]);
  });

  it("nests under the caller's active span", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage() });
    const tracer = trace.getTracer("test");
    await tracer.startActiveSpan("request", async (parent) => {
      await s.put("a", "b");
      parent.end();
    });
    const request = spans().find((x) => x.name === "request")!;
    const put = spans().find((x) => x.name === "storage.put")!;
    expect(put.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(put.spanContext().traceId).toBe(request.spanContext().traceId);
  });

  it("with recordKeys: false no key or prefix reaches a span", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage(), recordKeys: false });
    await s.put("patients/jane-doe", "x");
    await s.list("patients/");
    await s.copy("patients/jane-doe", "patients/john-doe");
    const text = JSON.stringify(spans().map((x) => x.attributes));
    expect(text).not.toContain("jane");
    expect(text).not.toContain("patients");
    expect(spans().length).toBeGreaterThanOrEqual(3);
  });

  it("is enabled from config with options.tracing", async () => {
    const { registerLayer } = await import("@pepperpy/storage-core");
    registerLayer(layerPlugin);
    const s = await createStorage({ type: "memory", options: { tracing: { record_keys: true } } });
    expect(s.name).toBe("tracing(memory)");
    await s.put("cfg", "1");
    expect(spans().map((x) => x.name)).toEqual(["storage.put"]);
  });
});

describeStorageConformance("tracing(memory)", ({ clock }) => new TracingStorage({ backend: new MemoryStorage({ clock: clock.now }), clock: clock.now }));

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
describeStorageConformance(
  "tracing(file)",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "pp-otel-"));
    dirs.push(dir);
    return new TracingStorage({ backend: new FileStorage({ basePath: dir, fsync: false, clock: clock.now }), clock: clock.now });
  },
  { skip: { "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes" } },
);
