import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { StorageError, StoragePartialWriteError, StoragePermissionError, StorageUnavailableError } from "@pepperpy/storage-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3DeleteFailure, S3DeleteManyError, S3Storage, mapS3Error } from "../src/index.js";

// s3rver ignores If-None-Match / If-Match on PUT and cannot fail single keys of a
// DeleteObjects. This loopback server answers those requests the way AWS S3 does, so the
// headers the driver sends and its mapping of the answers are tested for real over HTTP.

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
let url = "";
const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
  let body = "";
  for await (const c of req) body += c;
  seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
  const xmlError = (status: number, code: string) => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message><RequestId>fake</RequestId></Error>`;
    res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
    res.end(xml);
  };
  if (req.method === "PUT" && (req.headers["if-none-match"] === "*" || req.headers["if-match"] === '"stale"')) return xmlError(412, "PreconditionFailed");
  if (req.method === "PUT" && req.headers["if-match"] === '"current"') {
    res.writeHead(200, { etag: '"next"', "content-length": 0 });
    return res.end();
  }
  if (req.method === "POST" && req.url?.includes("?delete")) {
    const keys = [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!);
    const errors = keys
      .filter((k) => k.includes("locked") || k.includes("flaky"))
      .map((k) => `<Error><Key>${k}</Key><Code>${k.includes("locked") ? "AccessDenied" : "InternalError"}</Code><Message>no</Message></Error>`)
      .join("");
    const xml = `<?xml version="1.0" encoding="UTF-8"?><DeleteResult>${errors}</DeleteResult>`;
    res.writeHead(200, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
    return res.end(xml);
  }
  xmlError(500, "InternalError");
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function storage(): S3Storage {
  return new S3Storage({
    bucket: "fake",
    prefix: "p",
    endpoint: url,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
    maxAttempts: 1,
    clientConfig: { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" },
  });
}

describe("conditional writes (loopback server answering like S3)", () => {
  it("ifNoneMatch '*' is sent as If-None-Match and a 412 is a StorageConflictError", async () => {
    const s = storage();
    const error = await s.put("a", "x", { ifNoneMatch: "*" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("CONFLICT");
    expect((error as StorageError).retryable).toBe(false);
    expect((error as StorageError).key).toBe("a");
    const put = seen.filter((r) => r.method === "PUT").at(-1)!;
    expect(put.url.split("?")[0]).toBe("/fake/p/a");
    expect(put.headers["if-none-match"]).toBe("*");
    await s.close();
  });

  it("ifMatch is sent as If-Match: a stale etag is a conflict, the current one writes", async () => {
    const s = storage();
    await expect(s.put("a", "x", { ifMatch: '"stale"' })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(seen.filter((r) => r.method === "PUT").at(-1)!.headers["if-match"]).toBe('"stale"');
    const info = await s.put("a", "y", { ifMatch: '"current"' });
    expect(info.etag).toBe('"next"');
    await s.close();
  });

  it("with conditionalWrites: false a conditional put is refused before any request", async () => {
    const s = new S3Storage({ bucket: "fake", endpoint: url, region: "us-east-1", forcePathStyle: true, conditionalWrites: false, credentials: { accessKeyId: "AK", secretAccessKey: "SK" } });
    const count = seen.length;
    await expect(s.put("a", "x", { ifNoneMatch: "*" })).rejects.toMatchObject({ code: "UNSUPPORTED" });
    expect(seen.length).toBe(count);
    await s.close();
  });
});

describe("deleteMany per-key failures", () => {
  it("names every key DeleteObjects could not delete, relative to the prefix, in a StoragePartialWriteError", async () => {
    const s = storage();
    const keys = ["ok/1", "locked/1", "ok/2", "flaky/1"];
    const error = (await s.deleteMany(keys).catch((e: unknown) => e)) as StoragePartialWriteError;
    // The one partial-failure class; the deprecated S3 subclass still matches for old catchers.
    expect(error).toBeInstanceOf(StoragePartialWriteError);
    expect(error).toBeInstanceOf(S3DeleteManyError);
    expect(error).toBeInstanceOf(StorageError);
    expect(error.code).toBe("PARTIAL_WRITE");
    expect(error.backend).toBe("s3");
    expect(error.operation).toBe("deleteMany");
    expect(error.succeeded).toStrictEqual([]);
    expect(error.failures.map((f) => ({ key: f.key, backend: f.backend, code: (f as S3DeleteFailure).code, message: (f as S3DeleteFailure).message }))).toStrictEqual([
      { key: "locked/1", backend: "s3", code: "AccessDenied", message: "no" },
      { key: "flaky/1", backend: "s3", code: "InternalError", message: "no" },
    ]);
    // Each key's error is classified as a whole request failing with its code would be.
    const [locked, flaky] = error.failures;
    expect(locked!.error).toBeInstanceOf(StoragePermissionError);
    expect(locked!.error).toMatchObject({ key: "locked/1", operation: "deleteMany", backend: "s3", retryable: false });
    expect(locked!.error.message).toContain("AccessDenied");
    expect(flaky!.error).toBeInstanceOf(StorageUnavailableError);
    expect(flaky!.error).toMatchObject({ key: "flaky/1", retryable: true });
    expect(error.message).toContain('"locked/1" (AccessDenied)');
    expect(error.message).toContain('"flaky/1" (InternalError)');
    expect(error.retryable).toBe(false); // AccessDenied will not go away by retrying
    const transient = (await s.deleteMany(["flaky/2"]).catch((e: unknown) => e)) as StoragePartialWriteError;
    expect(transient).toBeInstanceOf(StoragePartialWriteError);
    expect(transient.retryable).toBe(true);
    expect(transient.key).toBe("flaky/2");
    await s.close();
  });

  it("a plain StoragePartialWriteError (a composite's) is not an S3DeleteManyError", () => {
    const composite = new StoragePartialWriteError("p", { failures: [{ index: 0, backend: "file", error: new StorageUnavailableError("x") }], succeeded: [1] });
    expect(composite).not.toBeInstanceOf(S3DeleteManyError);
    expect(composite).toBeInstanceOf(StoragePartialWriteError);
  });

  it("sends batches of at most 1,000 keys", async () => {
    const s = storage();
    const before = seen.length;
    await s.deleteMany(Array.from({ length: 2500 }, (_, i) => `ok/${i}`));
    const batches = seen.slice(before).filter((r) => r.method === "POST");
    expect(batches.map((b) => b.body.split("<Key>").length - 1).sort((a, b) => a - b)).toStrictEqual([500, 1000, 1000]);
    await s.close();
  });
});

describe("mapS3Error", () => {
  const ctx = { bucket: "b", key: "k", operation: "get" };
  const sdkError = (name: string, status?: number, extra: object = {}) =>
    Object.assign(new Error(name), { name, $metadata: status === undefined ? {} : { httpStatusCode: status }, ...extra });
  it.each([
    ["NoSuchKey", 404, "NOT_FOUND", false],
    ["NotFound", 404, "NOT_FOUND", false],
    ["NoSuchBucket", 404, "CONFIG", false],
    ["AccessDenied", 403, "PERMISSION", false],
    ["InvalidAccessKeyId", 403, "PERMISSION", false],
    ["SignatureDoesNotMatch", 403, "PERMISSION", false],
    ["PreconditionFailed", 412, "CONFLICT", false],
    ["SlowDown", 503, "UNAVAILABLE", true],
    ["ServiceUnavailable", 503, "UNAVAILABLE", true],
    ["TooManyRequests", 429, "UNAVAILABLE", true],
    ["InternalError", 500, "UNAVAILABLE", true],
    ["BadGateway", 502, "UNAVAILABLE", true],
    ["GatewayTimeout", 504, "UNAVAILABLE", true],
    ["RequestTimeout", 400, "TIMEOUT", true],
    ["TimeoutError", undefined, "TIMEOUT", true],
  ] as const)("%s (HTTP %s) → %s, retryable %s", (name, status, code, retryable) => {
    const e = mapS3Error(sdkError(name, status), ctx);
    expect(e.code).toBe(code);
    expect(e.retryable).toBe(retryable);
    if (code === "CONFIG") expect(e.message).toContain('"b"');
  });
  it.each(["ECONNREFUSED", "ECONNRESET", "EPIPE"])("%s → retryable UNAVAILABLE", (code) => {
    const e = mapS3Error(Object.assign(new Error(`connect ${code}`), { code }), ctx);
    expect(e.code).toBe("UNAVAILABLE");
    expect(e.retryable).toBe(true);
  });
  it("a timeout names the limit that ran out: requestTimeout, else the SDK's own timeout as its text states it", () => {
    const sdkTimeout = (message: string) => Object.assign(new Error(message), { name: "TimeoutError", $metadata: {} });
    const configured = mapS3Error(sdkTimeout("@smithy/node-http-handler - the request socket timed out after 2500 ms of inactivity (configured by client requestHandler)."), {
      ...ctx,
      requestTimeout: 2500,
    });
    expect(configured.code).toBe("TIMEOUT");
    expect(configured.message).toContain("S3 request timed out after 2500 ms (requestTimeout; TimeoutError)");
    expect(configured).toMatchObject({ key: "k", operation: "get", backend: "s3" });
    const byDefault = mapS3Error(sdkTimeout("@smithy/node-http-handler - the request socket timed out after 120000 ms of inactivity (service default socket timeout)."), ctx);
    expect(byDefault.message).toContain("S3 request timed out after 120000 ms (the SDK's default socket timeout; TimeoutError)");
    const connect = mapS3Error(
      sdkTimeout("@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 900 ms."),
      ctx,
    );
    expect(connect.message).toContain("after 900 ms (the SDK HTTP handler's connectionTimeout; TimeoutError)");
    expect(mapS3Error(sdkTimeout("timeout"), ctx).message).toContain("S3 request timed out (the SDK's HTTP handler timeout; TimeoutError)");
    // S3's own RequestTimeout answer is the server's idle timeout, not requestTimeout.
    expect(mapS3Error(sdkError("RequestTimeout", 400), { ...ctx, requestTimeout: 2500 }).message).toContain(
      "S3 request timed out (S3's own idle-connection timeout; RequestTimeout, HTTP 400)",
    );
  });
  it("an abort of the call's signal is reported as such, not as a network error", () => {
    const c = new AbortController();
    c.abort();
    expect(mapS3Error(Object.assign(new Error("aborted"), { name: "AbortError" }), { ...ctx, signal: c.signal }).code).toBe("ABORTED");
  });
});
