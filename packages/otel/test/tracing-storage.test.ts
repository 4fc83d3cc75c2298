import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { BaseStorage, type ObjectInfo, type StorageDriver, StorageNotFoundError, createStorage } from "@pepperpy/storage-core";
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

/** Waits (a few event-loop turns at most) until `ok()` holds: a stream's span ends on its 'end' / 'close' event. */
async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !ok(); i++) await new Promise((resolve) => setImmediate(resolve));
}

const CAPABILITIES = { rangeRead: true, conditionalWrite: false, serverSideCopy: false, keyIsAlsoPrefix: true, durable: false, persistent: false };
const info = (key: string, size: number): ObjectInfo => ({ key, size, lastModified: new Date(0), etag: "e", contentType: "application/octet-stream", metadata: {}, valueType: "bytes" });

/** A storage whose every call fails with `error`, as a backend's native error. */
function failing(error: Error): BaseStorage {
  const fail = () => Promise.reject(error);
  const driver: StorageDriver = { name: "flaky", capabilities: CAPABILITIES, read: fail, stat: fail, write: fail, delete: fail, list: fail };
  return new BaseStorage(driver);
}

/** A storage whose streams yield what `chunks` yields (a pause between chunks, so a reader keeps up). */
function streaming(size: number, chunks: () => AsyncGenerator<Buffer>): BaseStorage {
  const driver: StorageDriver = {
    name: "streaming",
    capabilities: CAPABILITIES,
    read: () => Promise.reject(new Error("read is not used")),
    readStream: async (key) => ({ info: info(key, size), stream: Readable.from(chunks()) }),
    stat: async (key) => info(key, size),
    write: () => Promise.reject(new Error("read-only")),
    delete: () => undefined,
    list: () => Promise.resolve({ items: [] }),
  };
  return new BaseStorage(driver);
}
const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

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

  it("passes span status and exception messages through redact: a URL's credentials never reach a span", async () => {
    // A backend whose native error quotes a connection URL with its password, as drivers do.
    const native = new Error("connect ECONNREFUSED postgres://app:hunter2@db.internal:5432/main?token=abc123");
    const s = new TracingStorage({ backend: failing(native) });
    const error = await s.get("k").catch((e: unknown) => e);
    expect(String((error as Error).message)).toContain("hunter2"); // the caller's error is not ours to change
    const span = spans().find((x) => x.name === "storage.get")!;
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toContain("postgres://***:***@db.internal:5432/main");
    const exception = span.events.find((e) => e.name === "exception")!;
    expect(exception.attributes?.["exception.message"]).toContain("***:***@db.internal");
    const everything = JSON.stringify({ status: span.status, events: span.events, attributes: span.attributes });
    expect(everything).not.toContain("hunter2");
    expect(everything).not.toContain("abc123");
    expect(span.attributes[ATTR.outcome]).toBe("IO");
  });

  it("with recordKeys: false an error's span holds no key either (the message's context names it)", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage(), recordKeys: false });
    await expect(s.put("patients/jane-doe", "x", { ifMatch: "nope" })).rejects.toThrow(/jane-doe/);
    const failed = spans().filter((x) => x.status.code === SpanStatusCode.ERROR);
    expect(failed.length).toBeGreaterThan(0);
    expect(JSON.stringify(failed.map((x) => [x.status, x.events, x.attributes]))).not.toContain("jane");
  });

  it("a getStream span ends when the stream has been read, with the bytes read, not when it opens", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage() });
    const value = Buffer.alloc(300_000, 7);
    await s.put("big", value);
    exporter.reset();
    const stream = await s.getStream("big");
    // Opened, not yet read: the span is still open.
    expect(spans().filter((x) => x.name === "storage.getStream")).toStrictEqual([]);
    let read = 0;
    for await (const chunk of stream) read += (chunk as Buffer).byteLength;
    expect(read).toBe(value.byteLength);
    await waitFor(() => spans().some((x) => x.name === "storage.getStream"));
    const span = spans().find((x) => x.name === "storage.getStream")!;
    expect(span.attributes[ATTR.bytes]).toBe(value.byteLength);
    expect(span.attributes[ATTR.outcome]).toBe("ok");
    expect(span.events.map((e) => e.name)).toContain("stream.open");
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("a getStream span of a range records the bytes of the range", async () => {
    const s = new TracingStorage({ backend: new MemoryStorage() });
    await s.put("r", "0123456789");
    exporter.reset();
    const stream = await s.getStream("r", { start: 2, end: 5 });
    let text = "";
    for await (const chunk of stream) text += String(chunk);
    expect(text).toBe("2345");
    await waitFor(() => spans().some((x) => x.name === "storage.getStream"));
    expect(spans().find((x) => x.name === "storage.getStream")!.attributes[ATTR.bytes]).toBe(4);
  });

  it("a stream that fails mid-way ends its span as an error, with the bytes delivered before and a redacted message", async () => {
    const broken = new Error("socket hang up at https://AKIA1:wJalr%2Fsecret@bucket.s3.example.com");
    const s = new TracingStorage({
      backend: streaming(2000, async function* () {
        yield Buffer.alloc(1000, 1);
        await pause();
        throw broken;
      }),
    });
    const stream = await s.getStream("k");
    let read = 0;
    const error = await (async () => {
      for await (const chunk of stream) read += (chunk as Buffer).byteLength;
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(read).toBe(1000);
    await waitFor(() => spans().some((x) => x.name === "storage.getStream"));
    const span = spans().find((x) => x.name === "storage.getStream")!;
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes[ATTR.bytes]).toBe(1000);
    expect(span.attributes[ATTR.outcome]).toBe("IO");
    expect(JSON.stringify([span.status, span.events])).not.toContain("wJalr");
  });

  it("a getStream span whose reader closes the stream early ends as closed", async () => {
    const s = new TracingStorage({
      backend: streaming(1_000_000, async function* () {
        for (let i = 0; i < 10; i++) {
          yield Buffer.alloc(100_000, i);
          await pause();
        }
      }),
    });
    const stream = await s.getStream("big");
    for await (const _chunk of stream) break; // reads one chunk, then destroys the stream
    await waitFor(() => spans().some((x) => x.name === "storage.getStream"));
    const span = spans().find((x) => x.name === "storage.getStream")!;
    expect(span.attributes[ATTR.outcome]).toBe("closed");
    expect(span.attributes[ATTR.bytes]).toBeGreaterThan(0);
    expect(span.attributes[ATTR.bytes]).toBeLessThan(1_000_000);
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
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
    return new TracingStorage({ backend: new FileStorage({ path: dir, fsync: false, clock: clock.now }), clock: clock.now });
  },
  { skip: { "keys: accepts a key with a single 300-byte segment": "not supported by the file backend, because file names are limited to 255 bytes" } },
);
