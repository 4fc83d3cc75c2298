import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
} from "@azure/storage-blob";
import {
  StorageConfigError,
  StorageConflictError,
  StorageNotFoundError,
  StoragePermissionError,
  StorageUnavailableError,
  compareKeys,
  createStorage,
  parseConfig,
  registerLayer,
} from "@pepperpy/storage-core";
import { layerPlugin as compressionPlugin } from "@pepperpy/storage-compress";
import { layerPlugin as encryptionPlugin } from "@pepperpy/storage-crypto";
import { RetryStorage } from "@pepperpy/storage-retry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AzureBlobStorage, decodeName, encodeName, mapAzureError } from "../src/index.js";
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, azureStorageFor, createContainer, startAzurite, uniqueContainer } from "./helpers.js";

// Core loads a layer from @pepperpy/storage-<name>; compression and encryption are named
// otherwise, so a core-only setup registers them (the umbrella @pepperpy/storage does it itself).
registerLayer(compressionPlugin);
registerLayer(encryptionPlugin);

let server: Azurite;
let container: string;
let raw: BlobServiceClient;

beforeAll(async () => {
  server = await startAzurite();
  container = uniqueContainer("unit");
  await createContainer(server, container);
  raw = BlobServiceClient.fromConnectionString(server.connectionString);
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

/** Every string a leak could take: the key as given and its bytes in hex (how util.inspect prints a Buffer). */
function secretForms(secret: string): string[] {
  return [secret, Buffer.from(secret, "base64").toString("hex").slice(0, 32), Buffer.from(secret, "base64").toString("hex").match(/../g)!.slice(0, 8).join(" ")];
}
function expectNoSecret(text: string, secret: string): void {
  for (const form of secretForms(secret)) expect(text).not.toContain(form);
}

describe("names and listing order", () => {
  it("keys without characters from U+D7FF up are stored under their own name, visible as such to other tools", async () => {
    const storage = azureStorageFor(server, container, { prefix: "plain" });
    await storage.put("docs/read me.txt", "hello");
    const names: string[] = [];
    for await (const b of raw.getContainerClient(container).listBlobsFlat({ prefix: "plain/" })) names.push(b.name);
    expect(names).toEqual(["plain/docs/read me.txt"]);
    await storage.close();
  });

  it("lists in code-point order across pages although Azurite sorts by UTF-16 code units", async () => {
    const storage = azureStorageFor(server, container, { prefix: "order" });
    const names = ["\u{10000}", "\u{1F600}", "\ufffd", "\ue000", "\ud7ff", "\ud7fe", "z", "\u00e9", "\uffff"];
    const keys = names.map((c) => `o/${c}x`);
    for (const k of keys) await storage.put(k, k);
    const expected = [...keys].sort(compareKeys);
    expect(await storage.list("o/")).toEqual(expected);
    const paged: string[] = [];
    for await (const e of storage.iterate("o/", { pageSize: 2 })) paged.push(e.key);
    expect(paged).toEqual(expected);
    expect(await storage.get(`o/\uffffx`)).toBe(`o/\uffffx`);
    // What the server does with plain names: UTF-16 order, the reason for the encoding.
    const c = raw.getContainerClient(container);
    for (const n of ["utf16/\u{10000}", "utf16/\ue000"]) await c.getBlockBlobClient(n).upload("v", 1);
    const serverOrder: string[] = [];
    for await (const b of c.listBlobsFlat({ prefix: "utf16/" })) serverOrder.push(b.name);
    expect(serverOrder).toEqual(["utf16/\u{10000}", "utf16/\ue000"]);
    await storage.close();
  });

  it("the name encoding round-trips and keeps order for every kind of character", () => {
    const samples = ["a", "\ud7fe", "\ud7ff", "\ue000", "\uffff", "\u{10000}", "\u{10FFFF}", "\u00e9/\u{1F600}\ud7ffz", "\ud7ff\u{10FFFF}"];
    for (const s of samples) expect(decodeName(encodeName(s))).toBe(s);
    const sorted = [...samples].sort(compareKeys);
    const encoded = sorted.map(encodeName);
    expect([...encoded].sort()).toEqual(encoded);
    for (const e of encoded) for (const ch of e) expect(ch.codePointAt(0)!).toBeLessThan(0xd800);
  });

  it("a cursor from another instance (no remembered continuation token) continues at the right key", async () => {
    const a = azureStorageFor(server, container, { prefix: "cursor" });
    const keys = Array.from({ length: 7 }, (_, i) => `k${i}`);
    for (const k of keys) await a.put(k, k);
    const first = await a.listPage("", { limit: 3 });
    expect(first.items.map((e) => e.key)).toEqual(["k0", "k1", "k2"]);
    const b = azureStorageFor(server, container, { prefix: "cursor" });
    const second = await b.listPage("", { limit: 3, cursor: first.cursor });
    expect(second.items.map((e) => e.key)).toEqual(["k3", "k4", "k5"]);
    const third = await b.listPage("", { limit: 3, cursor: second.cursor });
    expect(third.items.map((e) => e.key)).toEqual(["k6"]);
    expect(third.cursor).toBeUndefined();
    await a.close();
    await b.close();
  });
});

describe("metadata, content type, staged blocks", () => {
  it("metadata names become C# identifiers on Azure and read back exactly; foreign metadata shows through", async () => {
    const storage = azureStorageFor(server, container, { prefix: "meta" });
    const metadata = { "a.b-c_d": "caf\u00e9 \u{1F600}", plain: " spaced " };
    await storage.put("m", "v", { metadata, contentType: "text/x-note" });
    const blob = raw.getContainerClient(container).getBlockBlobClient("meta/m");
    const props = await blob.getProperties();
    for (const name of Object.keys(props.metadata ?? {})) expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    expect(props.contentType).toBe("text/x-note");
    const info = await storage.stat("m");
    expect(info.metadata).toEqual(metadata);
    expect(info.contentType).toBe("text/x-note");
    await blob.setMetadata({ ...props.metadata, Foreign: "x" });
    expect((await storage.stat("m")).metadata).toEqual({ ...metadata, foreign: "x" });
    await storage.close();
  });

  it("a streamed value larger than blockSize is staged as blocks and committed at once", async () => {
    const storage = azureStorageFor(server, container, { prefix: "blocks", blockSize: 64 * 1024, concurrency: 2 });
    const data = Buffer.alloc(300 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) % 251;
    await storage.put("big", Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]));
    const blocks = await raw.getContainerClient(container).getBlockBlobClient("blocks/big").getBlockList("committed");
    expect(blocks.committedBlocks?.map((b) => b.size)).toEqual([65536, 65536, 65536, 65536, 45056]);
    expect(Buffer.from(await storage.getBytes("big")).equals(data)).toBe(true);
    // Bytes above blockSize go the same way; the condition is checked by the commit.
    const info = await storage.stat("big");
    await storage.put("big", data.subarray(0, 200 * 1024), { ifMatch: info.etag });
    await expect(storage.put("big", data, { ifMatch: info.etag })).rejects.toBeInstanceOf(StorageConflictError);
    expect((await storage.getBytes("big")).byteLength).toBe(200 * 1024);
    await storage.close();
  });
});

describe("concurrent staged uploads of one key", () => {
  it("unconditional: all succeed (last writer wins), the value is whole, no temporary blob is left or listed", async () => {
    const storage = azureStorageFor(server, container, { prefix: "race", blockSize: 64 * 1024, concurrency: 2 });
    const values = Array.from({ length: 6 }, (_, i) => Buffer.alloc(200 * 1024, i + 1));
    await Promise.all(values.map((v) => storage.put("hot", Readable.from([v]))));
    const got = Buffer.from(await storage.getBytes("hot"));
    expect(values.some((v) => v.equals(got))).toBe(true);
    expect(await storage.list("")).toEqual(["hot"]);
    const names: string[] = [];
    for await (const b of raw.getContainerClient(container).listBlobsFlat({ prefix: "race/" })) names.push(b.name);
    expect(names).toEqual(["race/hot"]);
    await storage.close();
  });

  it("conditional: of 5 concurrent staged creates with ifNoneMatch '*' exactly one wins, the rest are conflicts", async () => {
    const storage = azureStorageFor(server, container, { prefix: "race-if", blockSize: 64 * 1024 });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => storage.put("once", Readable.from([Buffer.alloc(150 * 1024, i + 1)]), { ifNoneMatch: "*" })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(StorageConflictError);
    expect((await storage.getBytes("once")).byteLength).toBe(150 * 1024);
    await storage.close();
  });
});

describe("SAS URLs", () => {
  it("a GET URL downloads and a PUT URL uploads with plain HTTP; a tampered signature is refused", async () => {
    const storage = azureStorageFor(server, container, { prefix: "sas" });
    await storage.put("doc.txt", "shared text");
    const url = await storage.getSignedUrl("doc.txt", { expiresIn: 60 });
    expect(url).toContain("sig=");
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("shared text");
    const bad = url.replace(/sig=[^&]+/, "sig=AAAA");
    expect((await fetch(bad)).status).toBe(403);
    const put = await storage.getSignedUrl("upload.json", { method: "PUT" });
    const up = await fetch(put, { method: "PUT", body: '{"up":1}', headers: { "x-ms-blob-type": "BlockBlob", "content-type": "application/json" } });
    expect(up.status).toBe(201);
    expect(await storage.get("upload.json")).toEqual({ up: 1 });
    // A read URL cannot write.
    expect((await fetch(url, { method: "PUT", body: "x", headers: { "x-ms-blob-type": "BlockBlob" } })).status).toBe(403);
    await storage.close();
  });
});

describe("errors and secrets", () => {
  it("a wrong account key is a non-retryable StoragePermissionError that leaks no secret", async () => {
    const wrongKey = Buffer.from("not-the-key-".repeat(6)).toString("base64");
    const storage = new AzureBlobStorage({ container, url: server.url, accountName: AZURITE_ACCOUNT, accountKey: wrongKey, maxAttempts: 1 });
    const error = await storage.put("k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoragePermissionError);
    expect((error as StoragePermissionError).retryable).toBe(false);
    expectNoSecret(`${(error as Error).message} ${JSON.stringify(error)} ${inspect(error, { depth: 10, showHidden: true })}`, wrongKey);
    await storage.close();
  });

  it("neither util.inspect nor JSON.stringify of a storage shows the account key, connection string or SAS token", async () => {
    const storage = azureStorageFor(server, container);
    const texts = [inspect(storage, { depth: 20, showHidden: true }), JSON.stringify(storage), String(storage)];
    for (const t of texts) {
      expectNoSecret(t, AZURITE_KEY);
      expect(t).not.toContain("AccountKey");
    }
    expect(JSON.stringify(storage)).toContain(container);
    const sas = new URL(await storage.getSignedUrl("x")).search.slice(1);
    const sasStorage = new AzureBlobStorage({ container, url: server.url, sasToken: sas, maxAttempts: 1 });
    const sig = new URLSearchParams(sas).get("sig")!;
    expect(inspect(sasStorage, { depth: 20, showHidden: true })).not.toContain(sig);
    expect(JSON.stringify(sasStorage)).not.toContain(sig);
    // The token grants read of "x" only: a put is refused, and the error does not carry the token.
    const error = await sasStorage.put("other", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoragePermissionError);
    const shown = `${(error as Error).message} ${JSON.stringify(error)} ${inspect(error, { depth: 10, showHidden: true })}`;
    expect(shown).not.toContain(sig);
    expect(shown).not.toContain(encodeURIComponent(sig));
    await storage.close();
    await sasStorage.close();
  });

  it("with a SAS token, every operation works (copy sources and staged blocks included) and neither the storage nor its client holds the token", async () => {
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: AccountSASPermissions.parse("rwdlac"),
        resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
        services: AccountSASServices.parse("b").toString(),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    const sig = new URLSearchParams(sas).get("sig")!;
    for (const storage of [
      new AzureBlobStorage({ container, prefix: "sas-token", url: server.url, sasToken: sas, blockSize: 64 * 1024, maxAttempts: 1 }),
      new AzureBlobStorage({ container, prefix: "sas-query", url: `${server.url}?${sas}`, blockSize: 64 * 1024, maxAttempts: 1 }),
    ]) {
      await storage.put("a", "one");
      await storage.copy("a", "b");
      await storage.move("b", "c");
      const big = Buffer.alloc(200 * 1024, 7);
      await storage.put("big", Readable.from([big]));
      expect(await storage.list()).toEqual(["a", "big", "c"]);
      expect(await storage.get("c")).toBe("one");
      expect(Buffer.compare(await storage.getBytes("big"), big)).toBe(0);
      await storage.deleteMany(["a", "big", "c"]);
      expect(await storage.list()).toEqual([]);
      for (const text of [inspect(storage, { depth: 20, showHidden: true }), inspect(storage.client, { depth: 20, showHidden: true }), storage.client.url]) {
        expect(text).not.toContain(sig);
        expect(text).not.toContain(encodeURIComponent(sig));
      }
      await storage.close();
    }
  });

  it("a malformed connection string is a StorageConfigError that does not quote it", async () => {
    const cs = `AccountName=x;AccountKey=${AZURITE_KEY};BlobEndpoint=not a url`;
    const error = await Promise.resolve()
      .then(() => new AzureBlobStorage({ container, connectionString: "garbage-with-secret-zzz" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageConfigError);
    expect(String((error as Error).message)).not.toContain("garbage-with-secret-zzz");
    const e2 = await createStorage({ type: "azure-blob", container, connection_string: cs, url: "http://x" }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(StorageConfigError);
    expectNoSecret(`${(e2 as Error).message} ${inspect(e2, { depth: 10 })}`, AZURITE_KEY);
  });

  it("a missing container is a StorageConfigError naming it, for reads, stats and writes", async () => {
    const storage = azureStorageFor(server, "no-such-container", { maxAttempts: 1 });
    for (const op of [() => storage.get("k"), () => storage.exists("k"), () => storage.put("k", "v")]) {
      const error = await op().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageConfigError);
      expect((error as Error).message).toContain("no-such-container");
    }
    await storage.close();
  });

  it("a server that refuses connections is a retryable StorageUnavailableError", async () => {
    const dead = await startAzurite();
    const url = dead.url;
    await dead.stop();
    const storage = new AzureBlobStorage({ container, url, accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, maxAttempts: 1 });
    const error = await storage.get("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).retryable).toBe(true);
    await storage.close();
  });

  it("maps Azure's status codes: 404 not found, 409/412 conflict, 403 permission, 503 and throttling retryable", () => {
    const c = { container: "c", key: "k", operation: "put" };
    const err = (statusCode: number, code: string) => Object.assign(new Error(`${code}\nRequestId:1`), { name: "RestError", statusCode, code });
    expect(mapAzureError(err(404, "BlobNotFound"), c)).toBeInstanceOf(StorageNotFoundError);
    expect(mapAzureError(err(409, "BlobAlreadyExists"), c)).toBeInstanceOf(StorageConflictError);
    expect(mapAzureError(err(412, "ConditionNotMet"), c)).toBeInstanceOf(StorageConflictError);
    expect(mapAzureError(err(403, "AuthorizationFailure"), c)).toBeInstanceOf(StoragePermissionError);
    for (const [s, code] of [
      [503, "ServerBusy"],
      [500, "InternalError"],
      [429, "TooManyRequests"],
    ] as const) {
      const e = mapAzureError(err(s, code), c);
      expect(e).toBeInstanceOf(StorageUnavailableError);
      expect(e.retryable).toBe(true);
    }
    const withSas = mapAzureError(Object.assign(new Error("failed http://h/c/k?sv=1&sig=SECRETSIG"), { name: "RestError" }), c);
    expect(inspect(withSas, { depth: 10 })).not.toContain("SECRETSIG");
  });
});

/**
 * A loopback proxy in front of Azurite that answers the next `throttle` requests the way Azure
 * does when it throttles (an HTTP status with an `x-ms-error-code` header and an XML error
 * body), and forwards every other request unchanged.
 */
async function throttlingProxy(target: Azurite, status: number, code: string) {
  const state = { throttle: 0, throttled: 0, forwarded: 0 };
  const proxy = createServer((req, res) => {
    if (state.throttle > 0) {
      state.throttle--;
      state.throttled++;
      req.resume();
      req.once("end", () => {
        res.writeHead(status, { "content-type": "application/xml", "x-ms-error-code": code, "x-ms-request-id": `throttled-${state.throttled}` });
        res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>The server is busy.</Message></Error>`);
      });
      return;
    }
    state.forwarded++;
    const upstream = request({ host: "127.0.0.1", port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${target.port}` } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.once("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/${AZURITE_ACCOUNT}`;
  return { state, url, close: () => new Promise<void>((resolve) => proxy.close(() => resolve())) };
}

describe("throttling, as Azure answers it over HTTP", () => {
  for (const [status, code] of [
    [503, "ServerBusy"],
    [500, "OperationTimedOut"],
    [429, "TooManyRequests"],
  ] as const) {
    it(`${status} ${code} is a retryable StorageUnavailableError naming the key, operation and backend`, async () => {
      const proxy = await throttlingProxy(server, status, code);
      const storage = new AzureBlobStorage({ container, url: proxy.url, accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, maxAttempts: 1 });
      try {
        for (const [operation, call] of [
          ["put", () => storage.put("throttled/k", "v")],
          ["get", () => storage.get("throttled/k")],
        ] as const) {
          proxy.state.throttle = 1;
          const error = await call().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(StorageUnavailableError);
          expect(error).toMatchObject({ retryable: true, key: "throttled/k", operation, backend: "azure-blob" });
          expect((error as Error).message).toContain(code);
          expectNoSecret(`${(error as Error).message} ${inspect(error, { depth: 10, showHidden: true })}`, AZURITE_KEY);
        }
        expect(proxy.state.throttled).toBe(2);
        expect(proxy.state.forwarded).toBe(0);
      } finally {
        await storage.close();
        await proxy.close();
      }
    });
  }

  it("the service's OperationTimedOut names requestTimeout and its value (sent to the service as its timeout)", async () => {
    const proxy = await throttlingProxy(server, 500, "OperationTimedOut");
    const storage = new AzureBlobStorage({ container, url: proxy.url, accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, maxAttempts: 1, requestTimeout: 2000 });
    try {
      proxy.state.throttle = 1;
      const error = await storage.get("timed/k").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect(error).toMatchObject({ retryable: true, key: "timed/k", operation: "get", backend: "azure-blob" });
      expect((error as Error).message).toContain("Azure is unavailable (OperationTimedOut, the service's timeout of 2 s set from requestTimeout 2000 ms)");
      expectNoSecret(`${(error as Error).message} ${inspect(error, { depth: 10, showHidden: true })}`, AZURITE_KEY);
    } finally {
      await storage.close();
      await proxy.close();
    }
    // Without requestTimeout (the service's default timeout), no limit is named.
    const answer = Object.assign(new Error("Operation could not be completed within the specified time."), { name: "RestError", statusCode: 500, code: "OperationTimedOut" });
    expect(mapAzureError(answer, { container: "c" }).message).toMatch(/^Azure is unavailable \(OperationTimedOut\): Operation could not/);
  });

  it("the retry layer rides out two throttled answers: the put lands once and reads back", async () => {
    const proxy = await throttlingProxy(server, 503, "ServerBusy");
    const retries: string[] = [];
    const storage = new RetryStorage({
      backend: new AzureBlobStorage({ container, url: proxy.url, accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, maxAttempts: 1 }),
      maxRetries: 3,
      delay: 1,
      onRetry: (e) => retries.push(`${e.operation} ${e.error.code}`),
    });
    try {
      proxy.state.throttle = 2;
      await storage.put("throttled/retried", { ok: true });
      expect(retries).toEqual(["put UNAVAILABLE", "put UNAVAILABLE"]);
      expect(proxy.state.throttled).toBe(2);
      // The value is on the server, written once, read without the layer.
      const stored = await raw.getContainerClient(container).getBlockBlobClient("throttled/retried").downloadToBuffer();
      expect(JSON.parse(stored.toString())).toEqual({ ok: true });
      expect(await storage.get("throttled/retried")).toEqual({ ok: true });
    } finally {
      await storage.close();
      await proxy.close();
    }
  });
});

describe("storagePlugin (config type: azure-blob)", () => {
  it("builds an AzureBlobStorage from YAML text with the connection string from the environment", async () => {
    const config = await parseConfig(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML ${ENV} reference that the config loader interpolates
      ["storage:", "  type: azure-blob", `  container: ${container}`, "  prefix: yaml", "  connection_string: ${AZ_CS}", "  block_size: 1MiB", "  create_container: true"].join("\n"),
      { env: { AZ_CS: server.connectionString } },
    );
    const storage = await createStorage(config);
    expect(storage).toBeInstanceOf(AzureBlobStorage);
    await storage.put("from/yaml", "yes");
    expect(await storage.get("from/yaml")).toBe("yes");
    expect(await raw.getContainerClient(container).getBlockBlobClient("yaml/from/yaml").exists()).toBe(true);
    await storage.close();
  });

  it("builds the whole layer stack over Azure from YAML, in the documented order, with one SDK attempt per request", async () => {
    const yaml = [
      "storage:",
      "  type: azure-blob",
      `  container: ${container}`,
      "  prefix: yaml-stack",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML ${ENV} reference that the config loader interpolates
      "  connection_string: ${AZ_CS}",
      "  options:",
      "    metrics: true",
      "    cache: { size: 10 }",
      "    compression: { threshold: 0 }",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML ${ENV} reference that the config loader interpolates
      "    encryption: { key: ${STORAGE_KEY} }",
      "    retry: { max: 2, delay: 0.01 }",
    ].join("\n");
    const storage = await createStorage(await parseConfig(yaml, { env: { AZ_CS: server.connectionString, STORAGE_KEY: "a passphrase" } }));
    expect(storage.name).toBe("metrics(cache(compress(crypto(retry(azure-blob)))))");
    await storage.put("a/1", { deep: ["x", 1] });
    expect(await storage.get("a/1")).toEqual({ deep: ["x", 1] });
    expect(await storage.list("a/")).toEqual(["a/1"]);
    expectNoSecret(`${inspect(storage, { depth: 20, showHidden: true })} ${JSON.stringify(storage)}`, AZURITE_KEY);
    await storage.close();
  });

  it("create_container makes a missing container on first use", async () => {
    const name = uniqueContainer("made");
    const storage = await createStorage({ type: "azure-blob", container: name, connection_string: server.connectionString, create_container: true });
    await storage.put("k", "v");
    expect(await raw.getContainerClient(name).exists()).toBe(true);
    await storage.close();
  });

  it("refuses max_attempts together with the retry layer", async () => {
    await expect(
      createStorage({ type: "azure-blob", container, connection_string: server.connectionString, max_attempts: 3, options: { retry: { max: 2 } } }),
    ).rejects.toMatchObject({ code: "CONFIG" });
  });
});

describe("purgeExpired", () => {
  it("deletes expired blobs by the storage's clock and keeps a key rewritten after the listing saw it", async () => {
    let now = Date.UTC(2030, 0, 1);
    const storage = azureStorageFor(server, container, { prefix: "purge-race", clock: () => now });
    await storage.put("p/a", "old a", { ttl: 1000 });
    await storage.put("p/b", "old b", { ttl: 1000 });
    await storage.put("p/keep", "no deadline");
    now += 5000; // both deadlines passed by the injected clock; Azure's own time plays no part
    // The driver's listing sees both expired blobs; before it returns, another writer
    // rewrites p/b (a new etag). The delete of p/b is conditioned on the listed etag: kept.
    const driver = (storage as unknown as { driver: { list: (...a: unknown[]) => Promise<unknown> } }).driver;
    const list = driver.list.bind(driver);
    let rewritten = false;
    driver.list = async (...args: unknown[]) => {
      const page = await list(...args);
      if (!rewritten) {
        rewritten = true;
        await raw.getContainerClient(container).getBlockBlobClient("purge-race/p/b").upload("rewritten", 9);
      }
      return page;
    };
    expect(await storage.purgeExpired("p/")).toBe(1);
    expect(rewritten).toBe(true);
    expect(await raw.getContainerClient(container).getBlockBlobClient("purge-race/p/a").exists()).toBe(false);
    expect(await raw.getContainerClient(container).getBlockBlobClient("purge-race/p/b").exists()).toBe(true);
    expect(await storage.get("p/keep")).toBe("no deadline");
    expect(await storage.purgeExpired("p/")).toBe(0);
    await storage.close();
  });
});
