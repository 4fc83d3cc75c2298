import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { createStorage, isStorageError, type Storage, type StorageConfig, StorageError } from "@pepperpy/storage-core";
import { RetryStorage } from "@pepperpy/storage-retry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Storage, storagePlugin } from "../src/index.js";
import { FaultProxy, startBlackHole } from "./fault-proxy.js";
import { type S3Server, rawClient, s3StorageFor, sha256, startS3Server, uniqueBucket } from "./helpers.js";

let server: S3Server;
let bucket: string;

beforeAll(async () => {
  server = await startS3Server();
  bucket = uniqueBucket("main");
  await server.createBucket(bucket);
});
afterAll(async () => {
  await server?.stop();
});

/** 1 MiB chunks of random bytes, hashing what it yields. */
function randomStream(totalMiB: number, hash: ReturnType<typeof createHash>, failAfterMiB?: number): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < totalMiB; i++) {
        if (failAfterMiB !== undefined && i === failAfterMiB) throw new Error("source stream failed on purpose");
        const chunk = randomBytes(1024 * 1024);
        hash.update(chunk);
        yield chunk;
      }
    })(),
  );
}

async function caught(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof StorageError) return error;
    throw new Error(`expected a StorageError, got ${String(error)}`);
  }
  throw new Error("expected a rejection");
}

describe("S3Storage on s3rver", () => {
  it("round-trips a 24 MiB stream by SHA-256 through a multipart upload", async () => {
    const proxy = await new FaultProxy({ targetPort: server.port }).listen();
    const storage = s3StorageFor(server, bucket, { prefix: "big", partSize: 5 * 1024 * 1024, endpoint: proxy.url });
    const written = createHash("sha256");
    const info = await storage.put("blob.bin", randomStream(24, written));
    const wrote = written.digest("hex");
    expect(info.size).toBe(24 * 1024 * 1024);
    // Multipart on the wire: CreateMultipartUpload, 5 parts of at most 5 MiB, CompleteMultipartUpload.
    expect(proxy.log.filter((r) => r.method === "POST" && r.url.includes("uploads")).length).toBe(1);
    expect(proxy.log.filter((r) => r.method === "PUT" && r.url.includes("partNumber=")).length).toBe(5);
    expect(proxy.log.filter((r) => r.method === "POST" && r.url.includes("uploadId=")).length).toBe(1);
    const read = createHash("sha256");
    let bytes = 0;
    for await (const chunk of await storage.getStream("blob.bin")) {
      read.update(chunk as Buffer);
      bytes += (chunk as Buffer).byteLength;
    }
    const readBack = read.digest("hex");
    console.log(`24 MiB multipart round-trip: wrote sha256 ${wrote}, read ${bytes} bytes sha256 ${readBack}`);
    expect(readBack).toBe(wrote);
    expect(bytes).toBe(24 * 1024 * 1024);
    // A range inside the third part.
    const whole = await storage.getBytes("blob.bin");
    const range = Buffer.concat(await (await storage.getStream("blob.bin", { start: 11 * 1024 * 1024 - 3, end: 11 * 1024 * 1024 + 4 })).toArray());
    expect(range).toEqual(Buffer.from(whole.subarray(11 * 1024 * 1024 - 3, 11 * 1024 * 1024 + 5)));
    expect(sha256(whole)).toBe(wrote);
    await storage.close();
    await proxy.close();
  });

  it("lists 1,234 keys of 1,234 (past the 1,000-key page of ListObjectsV2), relative to the prefix", { timeout: 150_000 }, async () => {
    const proxy = await new FaultProxy({ targetPort: server.port }).listen();
    const direct = s3StorageFor(server, bucket, { prefix: "many/app" });
    const storage = s3StorageFor(server, bucket, { prefix: "many/app", endpoint: proxy.url });
    const other = s3StorageFor(server, bucket, { prefix: "many/other" });
    const keys = Array.from({ length: 1234 }, (_, i) => `item/${String(i).padStart(5, "0")}`);
    await direct.putMany(
      keys.map((k) => [k, k] as const),
      { concurrency: 32 },
    );
    await other.put("item/elsewhere", "x");
    const listed = await storage.list();
    console.log(`list returned ${listed.length} keys of ${keys.length}`);
    expect(listed).toStrictEqual(keys);
    expect(await storage.list("item/0123")).toStrictEqual(keys.slice(1230, 1234).filter((k) => k.startsWith("item/0123")));
    let n = 0;
    for await (const e of storage.iterate("", { pageSize: 500 })) {
      expect(e.key).toBe(keys[n]);
      n++;
    }
    expect(n).toBe(1234);
    expect(await other.list()).toStrictEqual(["item/elsewhere"]);

    // ListObjectsV2 was paged with StartAfter, never with a continuation token.
    const lists = proxy.log.filter((r) => r.url.includes("list-type=2"));
    expect(lists.length).toBeGreaterThanOrEqual(2);
    expect(lists.some((r) => r.url.includes("start-after="))).toBe(true);
    expect(lists.some((r) => r.url.includes("continuation-token"))).toBe(false);

    // deleteMany: DeleteObjects in batches of at most 1,000 keys.
    const before = proxy.log.length;
    await storage.deleteMany(keys);
    const deletes = proxy.log.slice(before).filter((r) => r.method === "POST" && r.url.includes("delete"));
    // Two batches (1,000 + 234 keys); the SDK may resend one after a dropped keep-alive socket.
    expect(deletes.length).toBeGreaterThanOrEqual(2);
    for (const d of deletes) expect(d.keysInBody).toBeLessThanOrEqual(1000);
    expect(Math.max(...deletes.map((d) => d.keysInBody ?? 0))).toBe(1000);
    expect(await storage.list()).toStrictEqual([]);
    expect(await other.list()).toStrictEqual(["item/elsewhere"]);
    await storage.close();
    await other.close();
    await proxy.close();
  });

  it("a streamed upload that fails leaves nothing visible and aborts the multipart upload", async () => {
    const proxy = await new FaultProxy({ targetPort: server.port }).listen();
    const storage = s3StorageFor(server, bucket, { prefix: "failing", endpoint: proxy.url, partSize: 5 * 1024 * 1024 });
    const error = await caught(storage.put("half.bin", randomStream(16, createHash("sha256"), 12)));
    expect(error.message).toContain("half.bin");
    expect(await storage.exists("half.bin")).toBe(false);
    expect(await storage.list()).toStrictEqual([]);
    // Parts were uploaded, then AbortMultipartUpload (DELETE ?uploadId=) was sent.
    expect(proxy.log.some((r) => r.method === "PUT" && r.url.includes("partNumber="))).toBe(true);
    expect(proxy.log.some((r) => r.method === "DELETE" && r.url.includes("uploadId="))).toBe(true);
    await storage.close();
    await proxy.close();
  });

  it("an abort during a multipart upload rejects with StorageAbortedError and stores nothing", async () => {
    const storage = s3StorageFor(server, bucket, { prefix: "aborting", partSize: 5 * 1024 * 1024 });
    const controller = new AbortController();
    const source = Readable.from(
      (async function* () {
        for (let i = 0; i < 40; i++) {
          if (i === 8) controller.abort();
          yield randomBytes(1024 * 1024);
        }
      })(),
    );
    const error = await caught(storage.put("aborted.bin", source, { signal: controller.signal }));
    expect(error.code).toBe("ABORTED");
    expect(await storage.exists("aborted.bin")).toBe(false);
    await storage.close();
  });

  it("keeps user metadata exactly, non-ASCII and header-hostile values included, and stores the value type", async () => {
    const storage = s3StorageFor(server, bucket, { prefix: "meta" });
    const metadata = {
      plain: "hello world",
      accents: "héllo wörld",
      cjk: "日本語テキスト",
      emoji: "🚀 launch",
      spaces: "  padded  ",
      empty: "",
      lookalike: "=?UTF-8?B?aGk=?=",
    };
    await storage.put("m.json", { a: 1 }, { metadata, contentType: "application/vnd.test+json" });
    const info = await storage.stat("m.json");
    expect(info.metadata).toStrictEqual(metadata);
    expect(info.contentType).toBe("application/vnd.test+json");
    expect(info.valueType).toBe("json");
    expect(await storage.get("m.json")).toStrictEqual({ a: 1 });
    // On the wire: the value type as x-amz-meta-pepperpy-type, non-ASCII as RFC 2047 words.
    const raw = await rawClient(server).send(new HeadObjectCommand({ Bucket: bucket, Key: "meta/m.json" }));
    expect(raw.Metadata?.["pepperpy-type"]).toBe("json");
    expect(raw.Metadata?.plain).toBe("hello world");
    expect(raw.Metadata?.accents).toMatch(/^=\?UTF-8\?B\?/);
    // copy keeps value type, content type and metadata (server-side, MetadataDirective COPY).
    await storage.copy("m.json", "copy/m.json");
    expect(await storage.stat("copy/m.json")).toMatchObject({ metadata, contentType: "application/vnd.test+json", valueType: "json" });
    await storage.move("copy/m.json", "moved/ü ?#+&=.json");
    expect(await storage.exists("copy/m.json")).toBe(false);
    expect(await storage.get("moved/ü ?#+&=.json")).toStrictEqual({ a: 1 });
    expect((await storage.stat("moved/ü ?#+&=.json")).metadata).toStrictEqual(metadata);
    await storage.close();
  });

  it("reads objects written by other tools, decoded by content type", async () => {
    const storage = s3StorageFor(server, bucket, { prefix: "foreign" });
    const url = await storage.getSignedUrl("note.txt", { method: "PUT", expiresIn: 60 });
    const res = await fetch(url, { method: "PUT", body: "from curl", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(200);
    expect(await storage.get("note.txt")).toBe("from curl");
    expect((await storage.stat("note.txt")).valueType).toBeUndefined();
    await storage.close();
  });

  it("presigned GET and PUT URLs work with plain fetch", async () => {
    const storage = s3StorageFor(server, bucket, { prefix: "signed" });
    await storage.put("report.bin", Buffer.from([0, 1, 2, 255]));
    const getUrl = await storage.getSignedUrl("report.bin", { expiresIn: 120 });
    expect(getUrl).toContain("X-Amz-Signature=");
    const got = await fetch(getUrl);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));

    const putUrl = await storage.getSignedUrl("upload.bin", { method: "PUT", expiresIn: 120 });
    const put = await fetch(putUrl, { method: "PUT", body: new Uint8Array([9, 8, 7]) });
    expect(put.status).toBe(200);
    expect(await storage.getBytes("upload.bin")).toEqual(Buffer.from([9, 8, 7]));

    // (s3rver does not verify signatures, so a tampered URL cannot be tested here.)
    await expect(storage.getSignedUrl("x", { expiresIn: 0 })).rejects.toMatchObject({ code: "VALIDATION" });
    await expect(storage.getSignedUrl("../x")).rejects.toMatchObject({ code: "VALIDATION" });
    await storage.close();
  });
});

describe("S3 errors", () => {
  it("a missing bucket is a non-retryable StorageConfigError naming the bucket, on every operation", async () => {
    const storage = s3StorageFor(server, "no-such-bucket-here");
    for (const op of [() => storage.get("a"), () => storage.put("a", "x"), () => storage.list(), () => storage.exists("a"), () => storage.delete("a")]) {
      const error = await caught(op());
      expect(error.code).toBe("CONFIG");
      expect(error.retryable).toBe(false);
      expect(error.message).toContain("no-such-bucket-here");
    }
    await storage.close();
  });

  it("bad credentials are a non-retryable StoragePermissionError that leaks no secret", async () => {
    const storage = s3StorageFor(server, bucket, { credentials: { accessKeyId: "AKIAWRONGWRONG", secretAccessKey: "super-secret-value-123" } });
    const error = await caught(storage.put("a", "x"));
    expect(error.code).toBe("PERMISSION");
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain("super-secret-value-123");
    expect(JSON.stringify(error)).not.toContain("super-secret-value-123");
    await storage.close();
  });

  it("a dead endpoint fails with a retryable StorageUnavailableError", async () => {
    const dead = await startBlackHole();
    const port = new URL(dead.url).port;
    await dead.close(); // nothing listens there any more
    const storage = s3StorageFor(server, bucket, { endpoint: `http://127.0.0.1:${port}`, maxAttempts: 2, timeout: 5000 });
    const error = await caught(storage.get("a"));
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.retryable).toBe(true);
    await storage.close();
  });

  it("an endpoint that never answers fails with a retryable StorageTimeoutError within the timeout", async () => {
    const hole = await startBlackHole();
    const storage = s3StorageFor(server, bucket, { endpoint: hole.url, timeout: 800 });
    const error = await caught(storage.get("a"));
    expect(error.code).toBe("TIMEOUT");
    expect(error.retryable).toBe(true);
    // With a per-request socket timeout the SDK gives up on its own, still a retryable timeout.
    const perRequest = s3StorageFor(server, bucket, { endpoint: hole.url, requestTimeout: 300, maxAttempts: 1, timeout: 10_000 });
    const e2 = await caught(perRequest.put("a", "x"));
    expect(e2.code).toBe("TIMEOUT");
    expect(e2.retryable).toBe(true);
    // The message names the limit that ran out: the option and its value.
    expect(e2.message).toContain("S3 request timed out after 300 ms (requestTimeout; TimeoutError)");
    expect(e2).toMatchObject({ key: "a", operation: "put", backend: "s3" });
    await storage.close();
    await perRequest.close();
    await hole.close();
  });

  it("a body that stalls mid-way fails with a retryable StorageTimeoutError, never a short value", async () => {
    // Answers every GET with headers and the first 100 of 1,000 bytes, then goes silent.
    const stalling = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-length": "1000", "content-type": "application/octet-stream", etag: '"x"' });
      res.write(Buffer.alloc(100, 1));
    });
    await new Promise<void>((resolve) => stalling.listen(0, "127.0.0.1", resolve));
    // The driver has to let go of the connection when the timeout fires, not leave it open.
    const released = new Promise<void>((resolve) => stalling.once("connection", (socket) => socket.once("close", () => resolve())));
    const { port } = stalling.address() as AddressInfo;
    const storage = s3StorageFor(server, bucket, { endpoint: `http://127.0.0.1:${port}`, timeout: 500, maxAttempts: 1 });
    const error = await caught(storage.getBytes("stalled.bin"));
    expect(error.code).toBe("TIMEOUT");
    expect(error.retryable).toBe(true);
    expect(error.key).toBe("stalled.bin");
    await released;
    await storage.close();
    stalling.closeAllConnections();
    await new Promise<void>((resolve) => stalling.close(() => resolve()));
  });

  it("a truncated body is never returned as a value: it is a retryable error", async () => {
    const storage0 = s3StorageFor(server, bucket, { prefix: "trunc" });
    const value = randomBytes(64 * 1024);
    await storage0.put("v.bin", value);
    for (const mode of ["truncate", "reset-mid-body"] as const) {
      const proxy = await new FaultProxy({ targetPort: server.port, faultRate: 1, modes: [mode], filter: (r) => r.method === "GET" }).listen();
      const storage = s3StorageFor(server, bucket, { prefix: "trunc", endpoint: proxy.url, maxAttempts: 1 });
      const e1 = await caught(storage.getBytes("v.bin"));
      expect(e1.code).toBe("UNAVAILABLE");
      expect(e1.retryable).toBe(true);
      const stream = await storage.getStream("v.bin").catch((e: unknown) => e);
      if (stream instanceof Readable) {
        const e2 = await stream.toArray().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isStorageError(e2)).toBe(true);
        expect((e2 as StorageError).retryable).toBe(true);
      } else {
        expect(isStorageError(stream) && stream.retryable).toBe(true);
      }
      // With retries in front, the value read is whole or the call fails: never short.
      proxy.faultRate = 0.5;
      const retried = new RetryStorage({ backend: storage, maxRetries: 6, delay: 1, budget: Number.POSITIVE_INFINITY });
      const got = await retried.getBytes("v.bin");
      expect(sha256(got)).toBe(sha256(value));
      await retried.close();
      await proxy.close();
    }
    await storage0.close();
  });
});

describe("storagePlugin (config type: s3)", () => {
  // Untyped on purpose: these cases also give fields the compiler would refuse.
  function config(extra: Record<string, unknown> = {}): StorageConfig {
    return {
      type: "s3",
      bucket,
      prefix: "plugin",
      endpoint: server.endpoint,
      region: "us-east-1",
      force_path_style: true,
      access_key_id: "S3RVER",
      secret_access_key: "S3RVER",
      checksums: "when_required",
      ...extra,
    } as StorageConfig;
  }

  it("builds an S3Storage with the SDK's retries (max_attempts) when no retry layer is configured", async () => {
    const storage = (await createStorage(config({ max_attempts: 4, part_size: "6MiB" }))) as S3Storage;
    expect(storage).toBeInstanceOf(S3Storage);
    expect(storage.client).toBeUndefined(); // the SDK loads on first use
    expect(await (await storage.getClient()).config.maxAttempts()).toBe(4);
    await storage.put("p", "from config");
    expect(await storage.get("p")).toBe("from config");
    await storage.close();
  });

  it("gives the retry layer sole ownership of retries: the SDK then makes one attempt", async () => {
    const stack = await createStorage(config({ options: { retry: { max: 2, delay: 0.01 } } }));
    expect(stack).toBeInstanceOf(RetryStorage);
    const inner = (stack as RetryStorage).backend as S3Storage;
    expect(await (await inner.getClient()).config.maxAttempts()).toBe(1);
    expect(await stack.get("p")).toBe("from config");
    await stack.close();
    await expect(createStorage(config({ max_attempts: 3, options: { retry: { max: 2 } } }))).rejects.toMatchObject({ code: "CONFIG" });
  });

  it("rejects a config without bucket or with half the credentials, never printing the secret", async () => {
    // @ts-expect-error bucket is required, for the compiler as at run time
    await expect(createStorage({ type: "s3" })).rejects.toMatchObject({ code: "CONFIG" });
    const error = await caught(createStorage(config({ access_key_id: undefined, secret_access_key: "hidden-secret-xyz" })) as Promise<Storage>);
    expect(error.code).toBe("CONFIG");
    expect(error.message).not.toContain("hidden-secret-xyz");
    expect(storagePlugin.required).toContain("bucket");
  });

  it("validates constructor options", () => {
    expect(() => new S3Storage("")).toThrow(/bucket/);
    expect(() => new S3Storage({ bucket: "b", partSize: 1024 })).toThrow(/partSize/);
    expect(() => new S3Storage({ bucket: "b", prefix: "a//b" })).toThrow(/prefix/);
    expect(new S3Storage({ bucket: "b", prefix: "/app/" }).prefix).toBe("app/");
    expect(new S3Storage("b").capabilities).toMatchObject({ rangeRead: true, serverSideCopy: true, conditionalWrite: true, durable: true });
  });
});
