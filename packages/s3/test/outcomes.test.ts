import type { IncomingMessage } from "node:http";
import { StorageIntegrityError, StorageOutcomeUnknownError, StorageUnavailableError } from "@pepperpy/storage-core";
import { RetryStorage } from "@pepperpy/storage-retry";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FaultProxy } from "./fault-proxy.js";
import { type S3Server, s3StorageFor, startS3Server } from "./helpers.js";

// Issue 15 items 4 and 6 on a real S3 server (s3rver) behind a loopback proxy that really
// resets connections, really loses responses (the server did the work), and really
// misorders listing pages.

let server: S3Server;
let proxy: FaultProxy;
const bucket = "outcomes";

beforeAll(async () => {
  server = await startS3Server({ bucket });
  proxy = await new FaultProxy({ targetPort: server.port, faultRate: 0, seed: 1 }).listen();
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});
beforeEach(() => {
  proxy.faultRate = 0;
  proxy.filter = undefined;
  proxy.rewrite = undefined;
});

/** Faults the next request matching `match` (and only it) with `mode`. */
function faultOnce(mode: "reset" | "lost-response", match: (req: IncomingMessage) => boolean): void {
  let armed = true;
  proxy.modes = [mode];
  proxy.faultRate = 1;
  proxy.filter = (req) => {
    if (!armed || !match(req)) return false;
    armed = false;
    return true;
  };
}

function storageFor(prefix: string) {
  return s3StorageFor(server, bucket, { prefix, endpoint: proxy.url, maxAttempts: 1, requestTimeout: 2000, timeout: 5000 });
}

describe("S3 connection resets (issue 15 item 6)", () => {
  it("a connection reset before any answer is StorageUnavailableError, retryable, as docs/errors.md promises", async () => {
    const storage = storageFor("reset");
    await storage.put("k", "v");
    faultOnce("reset", (req) => req.method === "GET");
    const error = await storage.get("k").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).retryable).toBe(true);
    expect((error as StorageUnavailableError).key).toBe("k");
    await storage.close();
  });

  it("a lost response of a PUT (the server stored it, the socket closed) is StorageUnavailableError, not a timeout", async () => {
    const storage = storageFor("lost-put");
    faultOnce("lost-response", (req) => req.method === "PUT");
    const error = await storage.put("k", "v").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(await storage.getText("k")).toBe("v");
    await storage.close();
  });
});

describe("RetryStorage over S3 after a lost response (issue 15 item 4)", () => {
  it("a move whose DeleteObject response was lost resolves: the retry finds the source's etag at the destination", async () => {
    const backend = storageFor("move-lost-delete");
    const storage = new RetryStorage({ backend, maxRetries: 3, delay: 5 });
    await storage.put("from", "the value");
    faultOnce("lost-response", (req) => req.method === "DELETE");
    await storage.move("from", "to");
    expect(await storage.getText("to")).toBe("the value");
    expect(await storage.exists("from")).toBe(false);
    await storage.close();
  });

  it("a move whose CopyObject response was lost resolves (the retry copies again)", async () => {
    const backend = storageFor("move-lost-copy");
    const storage = new RetryStorage({ backend, maxRetries: 3, delay: 5 });
    await storage.put("from", "the value");
    faultOnce("lost-response", (req) => req.method === "PUT" && req.headers["x-amz-copy-source"] !== undefined);
    await storage.move("from", "to");
    expect(await storage.getText("to")).toBe("the value");
    expect(await storage.exists("from")).toBe(false);
    await storage.close();
  });

  it("a streamed put whose response was lost is StorageOutcomeUnknownError (it cannot be replayed)", async () => {
    const backend = storageFor("stream-lost");
    const storage = new RetryStorage({ backend, maxRetries: 3, delay: 5 });
    faultOnce("lost-response", (req) => req.method === "PUT");
    const { Readable } = await import("node:stream");
    const error = await storage.put("s", Readable.from([Buffer.from("streamed")])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageOutcomeUnknownError);
    expect((error as StorageOutcomeUnknownError).key).toBe("s");
    expect((error as StorageOutcomeUnknownError).retryable).toBe(false);
    await storage.close();
  });
});

/** Reverses the order of the <Contents> entries of a ListObjectsV2 answer. */
function reverseContents(body: Buffer): Buffer {
  const xml = body.toString("utf8");
  const entries = xml.match(/<Contents>[\s\S]*?<\/Contents>/g) ?? [];
  if (entries.length < 2) return body;
  const first = xml.indexOf(entries[0]!);
  const last = xml.lastIndexOf(entries[entries.length - 1]!) + entries[entries.length - 1]!.length;
  return Buffer.from(xml.slice(0, first) + [...entries].reverse().join("") + xml.slice(last), "utf8");
}

describe("S3 listings out of order (issue 15 item 6)", () => {
  it("iterate over a server that misorders a page fails with StorageIntegrityError instead of repeating and dropping keys", async () => {
    const storage = storageFor("misorder");
    await storage.putMany(["a", "b", "c", "d", "e"].map((k) => [`k/${k}`, k] as const));
    proxy.rewrite = (req, body) => (req.method === "GET" && (req.url ?? "").includes("list-type=2") ? reverseContents(body) : undefined);
    const seen: string[] = [];
    const error = await (async () => {
      for await (const entry of storage.iterate("k/", { pageSize: 2 })) seen.push(entry.key);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageIntegrityError);
    expect((error as StorageIntegrityError).operation).toBe("listPage");
    expect((error as StorageIntegrityError).message).toContain("s3");
    // Nothing out of order reached the caller.
    expect(seen).toStrictEqual([]);
    await expect(storage.list("k/")).rejects.toBeInstanceOf(StorageIntegrityError);
    proxy.rewrite = undefined;
    expect(await storage.list("k/")).toStrictEqual(["k/a", "k/b", "k/c", "k/d", "k/e"]);
    await storage.close();
  });
});

describe("the SDK's own retry of a conditional PUT (issue 15 item 4)", () => {
  it("a create-only PUT applied by the server whose answer was lost, then refused on the SDK's retry, is outcome unknown, not a conflict", async () => {
    // s3rver ignores If-None-Match (TOOLCHAIN.md): this loopback server honours it as AWS
    // does, and loses the answer of the first PUT after storing the object.
    const { createServer } = await import("node:http");
    const stored = new Set<string>();
    let puts = 0;
    const fake = createServer(async (req, res) => {
      for await (const _ of req);
      const key = (req.url ?? "").split("?")[0]!;
      if (req.method === "PUT") {
        puts++;
        if (req.headers["if-none-match"] === "*" && stored.has(key)) {
          const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>';
          res.writeHead(412, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
          return res.end(xml);
        }
        stored.add(key);
        if (puts === 1) return req.socket.destroy(); // applied, answer lost
        res.writeHead(200, { etag: '"e"', "content-length": 0 });
        return res.end();
      }
      res.writeHead(404, { "content-length": 0 });
      res.end();
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    const port = (fake.address() as { port: number }).port;
    const storage = s3StorageFor(server, "fake", { endpoint: `http://127.0.0.1:${port}`, conditionalWrites: true, maxAttempts: 3, timeout: 10_000 });
    try {
      const error = await storage.put("lock", "mine", { ifNoneMatch: "*" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(puts).toBe(2);
      expect(error).toBeInstanceOf(StorageOutcomeUnknownError);
      expect((error as StorageOutcomeUnknownError).key).toBe("lock");
      expect((error as StorageOutcomeUnknownError).operation).toBe("put");
      expect((error as StorageOutcomeUnknownError).message).toContain("s3");
    } finally {
      await storage.close();
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });
});
