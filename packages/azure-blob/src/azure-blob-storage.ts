import { type KeyObject, createSecretKey, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import {
  BlobSASPermissions,
  BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
  Pipeline,
  type PipelineOptions,
  type RequestPolicy,
  type RequestPolicyFactory,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
  type WebResource,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";
import {
  checkOptionNames,
  BaseStorage,
  type BaseStorageOptions,
  type DriverContext,
  type ListEntry,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  StorageConfigError,
  StorageConflictError,
  StorageIntegrityError,
  StorageNotFoundError,
  StorageUnsupportedError,
  StorageValidationError,
  Secret,
  type StorageCapabilities,
  type StorageDriver,
  type StoredEntry,
  type StoredStream,
  type WriteRequest,
  contentTypeFromKey,
  fromAbortSignal,
  validateKey,
} from "@pepperpy/storage-core";
/** An Azure AD token credential (from `@azure/identity`), as the SDK accepts it. */
export type AzureTokenCredential = Extract<ConstructorParameters<typeof BlobServiceClient>[1], { getToken: unknown }>;

import { mapAzureError, redact } from "./errors.js";
import { decodeName, encodeName, fromAzureMetadata, toAzureMetadata } from "./names.js";

/** Options of {@link AzureBlobStorage}. Give one way to reach the account: `connectionString`, `url` + `accountName`/`accountKey`, `url` + `sasToken`, `url` + `credential`, or `client`. */
export interface AzureBlobStorageOptions extends BaseStorageOptions {
  /** The container. It must exist unless `createContainer` is set. */
  container: string;
  /** Name prefix inside the container (`"app/data"`): keys are stored under it and listed relative to it. */
  prefix?: string | undefined;
  /** A storage-account connection string (`AccountName=…;AccountKey=…` or with `SharedAccessSignature=…`), as text or a `Secret`. Never printed. */
  connectionString?: string | Secret<string> | undefined;
  /** The blob service URL, e.g. `https://myaccount.blob.core.windows.net` or Azurite's `http://127.0.0.1:10000/devstoreaccount1`. */
  url?: string | undefined;
  /** Account name, with `accountKey` (shared-key auth; needed for SAS URLs). */
  accountName?: string | undefined;
  /** Account key (base64), as text or a `Secret`. Never printed, not even by the client's credential. */
  accountKey?: string | Secret<string> | undefined;
  /** A SAS token (`sv=…&sig=…`), as text or a `Secret`: added to each request's URL, never kept in the client's URLs, never printed. */
  sasToken?: string | Secret<string> | undefined;
  /** An Azure AD credential from `@azure/identity` (for example `DefaultAzureCredential`). */
  credential?: AzureTokenCredential | undefined;
  /** A `ContainerClient` you built yourself; used as is. */
  client?: ContainerClient | undefined;
  /** Create the container on first use when it does not exist (default false). */
  createContainer?: boolean | undefined;
  /** Bytes per staged block, and the size above which values are uploaded as staged blocks (default 8 MiB; at most 4000 MiB). */
  blockSize?: number | undefined;
  /** Blocks staged at once per upload (default 4); memory per upload is about `blockSize × (concurrency + 1)`. */
  concurrency?: number | undefined;
  /** HTTP attempts the SDK makes per request, first try included (default 3). Set 1 under a `RetryStorage`. */
  maxAttempts?: number | undefined;
  /** Milliseconds one HTTP attempt may take before it fails retryably (default: the SDK's). */
  requestTimeout?: number | undefined;
}

/** Options of {@link AzureBlobStorage.getSignedUrl}. */
export interface AzureSignedUrlOptions {
  /** Seconds the URL is valid (default 900, at most 604 800). */
  expiresIn?: number | undefined;
  /** `GET` to download; `PUT` to upload a block blob (send header `x-ms-blob-type: BlockBlob`). Default `GET`. */
  method?: "GET" | "PUT" | undefined;
}

/** Default staged block size. */
export const DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;
/** Largest block Azure accepts. */
export const MAX_BLOCK_SIZE = 4000 * 1024 * 1024;
/** Entries per List Blobs request (the Azure limit). */
const LIST_PAGE_SIZE = 5000;
/** Reserved name segment for temporary staging blobs (keys cannot have a segment starting with `.pepperpy`). */
const TEMP_SEGMENT = ".pepperpy-tmp";
/** Continuation tokens remembered for `list` cursors. */
const CURSOR_CACHE = 1000;

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new StorageConfigError(`Invalid option ${name}: expected an integer from ${min} to ${max}`, { backend: "azure-blob" });
  }
}

function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === "") return "";
  if (typeof prefix !== "string") throw new StorageConfigError("Invalid option prefix: expected a string", { backend: "azure-blob" });
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  try {
    validateKey(trimmed);
  } catch (cause) {
    throw new StorageConfigError("Invalid option prefix: not a valid key path", { backend: "azure-blob", cause });
  }
  return `${encodeName(trimmed)}/`;
}

/** A string option given as text or as a `Secret`, held in a `Secret`. */
function heldText(name: string, value: unknown): Secret<string> | undefined {
  if (value === undefined) return undefined;
  const text = Secret.reveal(value);
  if (typeof text !== "string" || text.length === 0) {
    throw new StorageConfigError(`Invalid option ${name}: expected a non-empty string or a Secret of one`, { backend: "azure-blob" });
  }
  return Secret.isSecret(value) ? (value as Secret<string>) : new Secret(text);
}

const REDACTED = "[redacted]";

/**
 * A `StorageSharedKeyCredential` whose account key is a `KeyObject` (Node's opaque key holder,
 * which `createHmac` signs with and nothing prints) rather than the SDK's plain `Buffer`, and
 * which prints as its account name with the key `[redacted]`. The SDK signs requests and SAS
 * URLs with it as with its own class.
 */
class HeldSharedKeyCredential extends StorageSharedKeyCredential {
  /**
   * @param accountName - the storage account
   * @param accountKey - the base64 key, as text or a `Secret`, or its bytes (copied)
   */
  constructor(accountName: string, accountKey: string | Secret<string> | Uint8Array) {
    super(accountName, "");
    let bytes: Buffer;
    if (accountKey instanceof Uint8Array) {
      bytes = Buffer.alloc(accountKey.byteLength);
      bytes.set(accountKey);
    } else {
      const text = Secret.reveal(accountKey);
      if (typeof text !== "string") throw new TypeError("accountKey: expected the base64 account key");
      // Decoded outside Node's shared buffer pool, then wiped once the KeyObject holds it.
      const room = Buffer.alloc(Buffer.byteLength(text, "base64"));
      bytes = room.subarray(0, room.write(text, "base64"));
    }
    try {
      if (bytes.byteLength === 0) throw new TypeError("accountKey: expected the base64 account key");
      const key: KeyObject = createSecretKey(bytes);
      Object.defineProperty(this, "accountKey", { value: key, enumerable: false, writable: false, configurable: false });
    } finally {
      bytes.fill(0);
    }
  }

  /** What `JSON.stringify` shows: the account name, never the key. */
  toJSON(): Record<string, string> {
    return { accountName: this.accountName, accountKey: REDACTED };
  }

  [inspect.custom](): string {
    return `HeldSharedKeyCredential { accountName: ${JSON.stringify(this.accountName)}, accountKey: ${REDACTED} }`;
  }
}

/**
 * A pipeline policy that adds a SAS token, held in a `Secret`, to the URL of each request as
 * it is sent: the client and its URLs never carry the token, so printing them cannot show it.
 */
function sasPolicy(sas: Secret<string>): RequestPolicyFactory {
  return {
    create: (next: RequestPolicy): RequestPolicy => ({
      sendRequest: (request: WebResource) => {
        request.url = withQuery(request.url, sas.reveal());
        return next.sendRequest(request);
      },
    }),
  };
}

/** `url` with `query` added, once (a retried request keeps the URL it was given). */
function withQuery(url: string, query: string): string {
  if (query === "" || url.endsWith(query)) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

/** A URL without its query, and the query (`""` when none). */
function splitQuery(url: string): [string, string] {
  const at = url.indexOf("?");
  return at < 0 ? [url, ""] : [url.slice(0, at), url.slice(at + 1)];
}

/** A client for the service at `url` that signs with the SAS token (none: anonymous). */
function sasServiceClient(url: string, sas: string, pipeline: StoragePipelineOptions): BlobServiceClient {
  if (sas === "") return new BlobServiceClient(url, undefined, pipeline);
  return new BlobServiceClient(url, new Pipeline([sasPolicy(new Secret(sas))], pipeline as PipelineOptions));
}

/**
 * The Azure Blob driver: every `StorageDriver` call is one or a few Blob service requests,
 * each sent with the call's `AbortSignal`, each failure classified by {@link mapAzureError}.
 * The client and the credential live in private fields: `util.inspect` and `JSON.stringify`
 * never reach the account key or a SAS token.
 */
export class AzureBlobDriver implements StorageDriver {
  readonly name = "azure-blob";
  readonly capabilities: StorageCapabilities = {
    rangeRead: true,
    conditionalWrite: true,
    serverSideCopy: true,
    keyIsAlsoPrefix: true,
    durable: true,
    persistent: true,
  };
  readonly container: string;
  /** `""` or an (encoded) name prefix ending in `/`. */
  readonly prefix: string;
  readonly blockSize: number;
  readonly concurrency: number;
  /** The service URL without any query (no SAS). */
  readonly url: string;
  readonly #client: ContainerClient;
  readonly #sharedKey: StorageSharedKeyCredential | undefined;
  /** The SAS token the requests carry (added by a pipeline policy), for copy sources. */
  readonly #sas: Secret<string> | undefined;
  readonly #createContainer: boolean;
  #containerReady: Promise<void> | undefined;
  /** list cursor (last key of a page) → the continuation token that resumes after it. */
  readonly #cursors = new Map<string, string>();
  /** `requestTimeout`, when it applies (not to a given client): named in timeout errors. */
  readonly #requestTimeout: number | undefined;

  constructor(options: AzureBlobStorageOptions) {
    if (typeof options !== "object" || options === null) throw new StorageConfigError("AzureBlobStorage needs options with a container", { backend: "azure-blob" });
    if (typeof options.container !== "string" || !CONTAINER_NAME.test(options.container)) {
      throw new StorageConfigError("Invalid option container: expected 3-63 lowercase letters, digits and single hyphens", { backend: "azure-blob" });
    }
    checkInteger("blockSize", options.blockSize, 1, MAX_BLOCK_SIZE);
    checkInteger("concurrency", options.concurrency, 1, 64);
    checkInteger("maxAttempts", options.maxAttempts, 1, 20);
    checkInteger("requestTimeout", options.requestTimeout, 1);
    this.container = options.container;
    // A given client keeps its own pipeline: requestTimeout applies only to clients built here.
    this.#requestTimeout = options.client ? undefined : options.requestTimeout;
    this.prefix = normalizePrefix(options.prefix);
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.concurrency = options.concurrency ?? 4;
    this.#createContainer = options.createContainer ?? false;
    const pipeline: StoragePipelineOptions = {
      retryOptions: {
        maxTries: options.maxAttempts ?? 3,
        retryDelayInMs: 200,
        maxRetryDelayInMs: 5000,
        ...(options.requestTimeout !== undefined ? { tryTimeoutInMs: options.requestTimeout } : {}),
      },
    };
    const ways = [options.connectionString, options.client, options.url].filter((w) => w !== undefined).length;
    if (ways !== 1) {
      throw new StorageConfigError("AzureBlobStorage needs exactly one of connectionString, url (with accountName/accountKey, sasToken or credential) or client", {
        backend: "azure-blob",
      });
    }
    let service: BlobServiceClient | undefined;
    // Credentials are held in Secrets (a KeyObject for the account key) and reach the SDK as
    // a credential or a pipeline policy, never as text on the client or in its URLs.
    if (options.client) {
      this.#client = options.client;
      this.#sharedKey = options.client.credential instanceof StorageSharedKeyCredential ? options.client.credential : undefined;
    } else if (options.connectionString !== undefined) {
      const connectionString = heldText("connectionString", options.connectionString)!;
      let parsed: BlobServiceClient;
      try {
        // Only to read the string the SDK's way (endpoint, account, key or SAS); not kept.
        parsed = BlobServiceClient.fromConnectionString(connectionString.reveal());
      } catch {
        // The SDK's message may quote the string: say only that it is malformed.
        throw new StorageConfigError("Invalid option connectionString: not a storage-account connection string", { backend: "azure-blob" });
      }
      const [url, sas] = splitQuery(parsed.url);
      if (parsed.credential instanceof StorageSharedKeyCredential) {
        const parsedKey = (parsed.credential as unknown as { accountKey: Buffer }).accountKey;
        try {
          this.#sharedKey = new HeldSharedKeyCredential(parsed.credential.accountName, parsedKey);
        } catch {
          throw new StorageConfigError("Invalid option connectionString: not a storage-account connection string", { backend: "azure-blob" });
        } finally {
          parsedKey.fill(0);
        }
        service = new BlobServiceClient(url, this.#sharedKey, pipeline);
      } else {
        this.#sas = sas === "" ? undefined : new Secret(sas);
        service = sasServiceClient(url, sas, pipeline);
      }
      this.#client = service.getContainerClient(this.container);
    } else {
      const url = options.url!;
      if (typeof url !== "string" || !/^https?:\/\//.test(url)) throw new StorageConfigError("Invalid option url: expected an http(s) URL", { backend: "azure-blob" });
      if ((options.accountName === undefined) !== (options.accountKey === undefined)) {
        throw new StorageConfigError("Options accountName and accountKey must be given together", { backend: "azure-blob" });
      }
      if (options.accountName !== undefined) {
        const accountKey = heldText("accountKey", options.accountKey);
        try {
          this.#sharedKey = new HeldSharedKeyCredential(options.accountName, accountKey!);
        } catch {
          throw new StorageConfigError("Invalid option accountKey: expected the base64 account key", { backend: "azure-blob" });
        }
        service = new BlobServiceClient(url, this.#sharedKey, pipeline);
      } else if (options.sasToken !== undefined || options.credential === undefined) {
        // A SAS token, given as sasToken or as the URL's query (or both): added per request.
        const [base, query] = splitQuery(url);
        const sasToken = heldText("sasToken", options.sasToken)?.reveal().replace(/^\?/, "");
        const sas = [query, sasToken].filter((part) => part !== undefined && part !== "").join("&");
        this.#sas = sas === "" ? undefined : new Secret(sas);
        service = sasServiceClient(base, sas, pipeline);
      } else {
        service = new BlobServiceClient(url, options.credential, pipeline);
      }
      this.#client = service.getContainerClient(this.container);
    }
    this.url = redact(service?.url ?? this.#client.url).replace(/\?<redacted>$/, "");
  }

  /** The SDK's container client (for what this API does not cover). */
  get client(): ContainerClient {
    return this.#client;
  }

  private blob(key: string): BlockBlobClient {
    return this.#client.getBlockBlobClient(this.prefix + encodeName(key));
  }

  /** A blob's URL as a copy source: with the SAS token, when requests carry one (the service reads the source with it). */
  private copySource(blob: BlockBlobClient): string {
    return this.#sas ? withQuery(blob.url, this.#sas.reveal()) : blob.url;
  }

  private errorContext(key: string | undefined, ctx: DriverContext) {
    return { container: this.container, key, operation: ctx.operation, signal: ctx.signal, requestTimeout: this.#requestTimeout };
  }

  /** Creates the container once, when `createContainer` is set. */
  private ensureContainer(ctx: DriverContext): Promise<void> | undefined {
    if (!this.#createContainer) return undefined;
    this.#containerReady ??= this.#client.createIfNotExists({ abortSignal: ctx.signal }).then(
      () => undefined,
      (error) => {
        this.#containerReady = undefined;
        throw error;
      },
    );
    return this.#containerReady;
  }

  private async call<T>(key: string | undefined, ctx: DriverContext, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      await this.ensureContainer(ctx);
      return await fn(ctx.signal);
    } catch (error) {
      throw mapAzureError(error, this.errorContext(key, ctx));
    }
  }

  private async callOrMissing<T>(key: string, ctx: DriverContext, fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(key, ctx, fn);
    } catch (error) {
      if (error instanceof StorageNotFoundError) return undefined;
      throw error;
    }
  }

  private info(
    key: string,
    out: { contentType?: string; metadata?: Record<string, string>; etag?: string; lastModified?: Date },
    size: number,
  ): ObjectInfo {
    const { metadata, valueType, expiresAt } = fromAzureMetadata(out.metadata);
    return {
      key,
      size,
      lastModified: out.lastModified ?? new Date(0),
      etag: out.etag,
      contentType: out.contentType ?? contentTypeFromKey(key),
      metadata,
      valueType,
      expiresAt,
    };
  }

  private static totalSize(out: { contentRange?: string; contentLength?: number }, fallback: number): number {
    const m = out.contentRange ? /\/(\d+)$/.exec(out.contentRange) : null;
    return m ? Number(m[1]) : (out.contentLength ?? fallback);
  }

  /** Reads a whole body and checks its length, so a cut connection is an error, never a short value. */
  private async readBody(body: NodeJS.ReadableStream | undefined, expected: number | undefined, key: string, ctx: DriverContext): Promise<Buffer> {
    if (!body) {
      if (expected) throw new StorageIntegrityError(`Azure sent no body for ${expected} bytes`, { key, operation: ctx.operation, backend: "azure-blob", retryable: true });
      return Buffer.alloc(0);
    }
    const chunks: Buffer[] = [];
    let received = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        received += chunk.byteLength;
      }
    } catch (error) {
      throw mapAzureError(error, this.errorContext(key, ctx));
    }
    if (expected !== undefined && received !== expected) {
      throw new StorageIntegrityError(`Azure body ended after ${received} of ${expected} bytes`, { key, operation: ctx.operation, backend: "azure-blob", retryable: true });
    }
    return Buffer.concat(chunks, received);
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const out = await this.callOrMissing(key, ctx, (abortSignal) => this.blob(key).download(0, undefined, { abortSignal }));
    if (!out) return undefined;
    const data = await this.readBody(out.readableStreamBody, out.contentLength, key, ctx);
    return { info: this.info(key, out, AzureBlobDriver.totalSize(out, data.byteLength)), data };
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const start = range.start ?? 0;
    const count = range.end === undefined ? undefined : Math.max(0, range.end - start + 1);
    if (count === 0) {
      const info = await this.stat(key, ctx);
      return info && { info, stream: Readable.from([Buffer.alloc(0)]) };
    }
    let out: Awaited<ReturnType<BlockBlobClient["download"]>> | undefined;
    try {
      out = await this.callOrMissing(key, ctx, (abortSignal) => this.blob(key).download(start, count, { abortSignal }));
    } catch (error) {
      // 416: the range starts at or past the end (or the blob is empty): an empty read, as on every backend.
      const status = (error as { cause?: { statusCode?: number } }).cause?.statusCode;
      if (status === 416) {
        const info = await this.stat(key, ctx);
        return info && { info, stream: Readable.from([Buffer.alloc(0)]) };
      }
      throw error;
    }
    if (!out) return undefined;
    const body = out.readableStreamBody as Readable | undefined;
    const expected = out.contentLength;
    const errorContext = { ...this.errorContext(key, ctx), signal: undefined };
    let received = 0;
    async function* checked(): AsyncGenerator<Buffer> {
      if (!body) return;
      try {
        for await (const chunk of body) {
          received += (chunk as Buffer).byteLength;
          yield chunk as Buffer;
        }
      } catch (error) {
        throw mapAzureError(error, errorContext);
      }
      if (expected !== undefined && received !== expected) {
        throw new StorageIntegrityError(`Azure body ended after ${received} of ${expected} bytes`, { key, operation: "getStream", backend: "azure-blob", retryable: true });
      }
    }
    const stream = Readable.from(checked(), { objectMode: false });
    stream.on("close", () => {
      if (body && !body.destroyed) body.destroy();
    });
    return { info: this.info(key, out, AzureBlobDriver.totalSize(out, 0)), stream };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const out = await this.callOrMissing(key, ctx, (abortSignal) => this.blob(key).getProperties({ abortSignal }));
    if (!out) {
      // A HEAD 404 may be a missing container: check it once rather than call every key missing.
      await this.verifyContainer(key, ctx);
      return undefined;
    }
    return this.info(key, out, out.contentLength ?? 0);
  }

  #containerVerified = false;
  private async verifyContainer(key: string, ctx: DriverContext): Promise<void> {
    if (this.#containerVerified) return;
    const exists = await this.call(key, ctx, (abortSignal) => this.#client.exists({ abortSignal }));
    if (!exists) throw new StorageConfigError(`Azure container "${this.container}" does not exist (ContainerNotFound)`, { key, operation: ctx.operation, backend: "azure-blob" });
    this.#containerVerified = true;
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const params = {
      blobHTTPHeaders: { blobContentType: req.contentType },
      metadata: toAzureMetadata(req.metadata, req.valueType, req.expiresAt),
      conditions: {
        ...(req.ifNoneMatch !== undefined ? { ifNoneMatch: req.ifNoneMatch } : {}),
        ...(req.ifMatch !== undefined ? { ifMatch: req.ifMatch } : {}),
      },
    };
    const done = (out: { etag?: string; lastModified?: Date }, size: number): ObjectInfo => ({
      key,
      size,
      lastModified: out.lastModified ?? new Date(),
      etag: out.etag,
      contentType: req.contentType,
      metadata: { ...req.metadata },
      valueType: req.valueType,
      expiresAt: req.expiresAt === undefined ? undefined : new Date(req.expiresAt),
    });
    const blob = this.blob(key);
    try {
      if (req.body instanceof Uint8Array && req.body.byteLength <= this.blockSize) {
        const body = req.body;
        const out = await this.call(key, ctx, (abortSignal) => blob.upload(body, body.byteLength, { ...params, abortSignal }));
        return done(out, body.byteLength);
      }
      return await this.stageAndCommit(key, blob, req.body, params, ctx, done);
    } catch (error) {
      // ifMatch on a missing blob: Azure answers 404; for the caller the condition failed.
      if (error instanceof StorageNotFoundError && req.ifMatch !== undefined) {
        throw mapAzureError(Object.assign(new Error("the key does not exist (ifMatch)"), { statusCode: 412, code: "ConditionNotMet" }), this.errorContext(key, ctx));
      }
      throw error;
    }
  }

  /**
   * Large and streamed values: blocks of `blockSize` are staged (`Put Block`, at most
   * `concurrency` at once) and committed with their metadata in one `Put Block List`; until
   * then nothing of the new value is visible. A stream that ends within the first block goes
   * up as one `Put Blob`.
   *
   * Azure keeps one list of uncommitted blocks per blob name and discards it whenever any
   * write to that name commits, so two staged uploads of one key at once would break each
   * other (`InvalidBlockList`). An unconditional upload is therefore staged into a private
   * temporary blob under the reserved `.pepperpy-tmp/` segment (never listed, never a valid
   * key), then server-side copied onto the key (atomic) and the temporary blob deleted: last
   * writer wins, as on every backend. A conditional upload stages onto the key itself and
   * commits with its condition: a concurrent write there means the condition no longer
   * holds, reported as `StorageConflictError`.
   */
  private async stageAndCommit(
    key: string,
    blob: BlockBlobClient,
    source: Uint8Array | AsyncIterable<Uint8Array>,
    params: { blobHTTPHeaders: { blobContentType: string }; metadata: Record<string, string>; conditions: Record<string, string> },
    ctx: DriverContext,
    done: (out: { etag?: string; lastModified?: Date }, size: number) => ObjectInfo,
  ): Promise<ObjectInfo> {
    const uploadId = randomBytes(8).toString("hex");
    const conditional = Object.keys(params.conditions).length > 0;
    const staging = conditional ? blob : this.#client.getBlockBlobClient(`${this.prefix}${TEMP_SEGMENT}/${uploadId}`);
    let stagingCommitted = false;
    const blockIds: string[] = [];
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    let total = 0;
    const stage = async (chunk: Uint8Array) => {
      const blockId = Buffer.from(`${uploadId}-${String(blockIds.length).padStart(6, "0")}`).toString("base64");
      blockIds.push(blockId);
      const p: Promise<void> = staging
        .stageBlock(blockId, chunk, chunk.byteLength, { abortSignal: ctx.signal })
        .then(
          () => undefined,
          (error) => {
            failure ??= error;
          },
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
      while (inflight.size >= this.concurrency) await Promise.race(inflight);
      if (failure !== undefined) throw failure;
    };
    const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> = source instanceof Uint8Array ? [source] : source;
    let buf = Buffer.allocUnsafe(this.blockSize);
    let filled = 0;
    try {
      for await (const chunk of chunks) {
        if (ctx.signal.aborted) throw fromAbortSignal(ctx.signal, { key, operation: ctx.operation, backend: "azure-blob" });
        total += chunk.byteLength;
        let at = 0;
        while (at < chunk.byteLength) {
          const n = Math.min(chunk.byteLength - at, this.blockSize - filled);
          buf.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === this.blockSize) {
            await stage(buf);
            buf = Buffer.allocUnsafe(this.blockSize);
            filled = 0;
          }
        }
      }
      if (blockIds.length === 0) {
        const body = buf.subarray(0, filled);
        const out = await blob.upload(body, body.byteLength, { ...params, abortSignal: ctx.signal });
        return done(out, total);
      }
      if (filled > 0) await stage(buf.subarray(0, filled));
      await Promise.all(inflight);
      if (failure !== undefined) throw failure;
      if (conditional) {
        const out = await blob.commitBlockList(blockIds, { ...params, abortSignal: ctx.signal });
        return done(out, total);
      }
      await staging.commitBlockList(blockIds, { blobHTTPHeaders: params.blobHTTPHeaders, metadata: params.metadata, abortSignal: ctx.signal });
      stagingCommitted = true;
      const poller = await blob.beginCopyFromURL(this.copySource(staging), { abortSignal: ctx.signal });
      const copied = await poller.pollUntilDone();
      if (copied.copyStatus !== undefined && copied.copyStatus !== "success") {
        throw Object.assign(new Error(`server-side copy of the staged value ended ${copied.copyStatus}`), { statusCode: 500 });
      }
      // A copy that completed asynchronously: read the final etag rather than guess it.
      const settled = copied.etag !== undefined ? copied : await blob.getProperties({ abortSignal: ctx.signal });
      return done(settled, total);
    } catch (error) {
      await Promise.allSettled(inflight);
      if (conditional && (error as { code?: string }).code === "InvalidBlockList") {
        throw mapAzureError(
          Object.assign(new Error("a concurrent write to this key committed while the value was being staged"), { statusCode: 409, code: "InvalidBlockList" }),
          this.errorContext(key, ctx),
        );
      }
      throw mapAzureError(error, this.errorContext(key, ctx));
    } finally {
      // Best effort: an uncommitted temporary blob is discarded by Azure anyway; a committed
      // one left by a crash sits under .pepperpy-tmp/ (see README: lifecycle rule).
      if (!conditional && (stagingCommitted || blockIds.length > 0)) {
        await staging.deleteIfExists({ abortSignal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      }
    }
  }

  async delete(key: string, ctx: DriverContext): Promise<void> {
    await this.callOrMissing(key, ctx, (abortSignal) => this.blob(key).delete({ abortSignal }));
  }

  /**
   * Deletes the blobs under `prefix` whose deadline (in their metadata, listed with them)
   * is at or before `now`, the storage's clock; returns how many. Each delete is
   * conditioned on the etag the listing saw (`If-Match`), so a key rewritten meanwhile,
   * with a later deadline or none, is kept.
   */
  async purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    let purged = 0;
    let cursor: string | undefined;
    do {
      const page = await this.list(prefix, { cursor, limit: LIST_PAGE_SIZE }, ctx);
      for (const e of page.items) {
        if (e.expiresAt === undefined || e.expiresAt.getTime() > now || e.etag === undefined) continue;
        const etag = e.etag;
        try {
          const out = await this.callOrMissing(e.key, ctx, (abortSignal) => this.blob(e.key).delete({ abortSignal, conditions: { ifMatch: etag } }));
          if (out !== undefined) purged++;
        } catch (error) {
          // Rewritten since the listing (412): the new value stays.
          if (!(error instanceof StorageConflictError)) throw error;
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return purged;
  }

  /**
   * One page by List Blobs. The cursor is the last key of the previous page; the driver
   * remembers the continuation token that resumes after it (for the last
   * `CURSOR_CACHE` (1000) pages), so `iterate` and `list` page in one request each. A
   * cursor it does not know (another process's) is found by listing from the prefix.
   */
  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const items: ListEntry[] = [];
    const namePrefix = this.prefix + encodeName(prefix);
    const cursor = page.cursor;
    let token = cursor !== undefined ? this.#cursors.get(`${prefix}\u0000${cursor}`) : undefined;
    const skipUpTo = cursor !== undefined && token === undefined ? encodeName(cursor) : undefined;
    let more = false;
    while (items.length < page.limit) {
      const want = skipUpTo !== undefined ? LIST_PAGE_SIZE : Math.min(LIST_PAGE_SIZE, page.limit - items.length);
      const res = await this.call(prefix || undefined, ctx, async (abortSignal) => {
        const iter = this.#client.listBlobsFlat({ prefix: namePrefix, includeMetadata: true, abortSignal }).byPage({ continuationToken: token, maxPageSize: want });
        const r = await iter.next();
        return r.done ? undefined : r.value;
      });
      const blobs = res?.segment.blobItems ?? [];
      token = res?.continuationToken || undefined;
      let stoppedEarly = false;
      for (let i = 0; i < blobs.length; i++) {
        const b = blobs[i]!;
        const rel = b.name.slice(this.prefix.length);
        if (rel.startsWith(`${TEMP_SEGMENT}/`)) continue;
        if (skipUpTo !== undefined && rel <= skipUpTo) continue;
        const k = decodeName(rel);
        if (k === undefined) continue;
        if (items.length === page.limit) {
          // A page from the fallback scan ran past the limit: the rest is listed from here next time.
          stoppedEarly = true;
          break;
        }
        const { expiresAt } = fromAzureMetadata(b.metadata);
        items.push({ key: k, size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified ?? new Date(0), etag: b.properties.etag, expiresAt });
      }
      if (stoppedEarly) {
        more = true;
        token = undefined;
        break;
      }
      more = token !== undefined;
      if (!more) break;
    }
    const last = items[items.length - 1];
    if (!more || !last) return { items };
    if (token !== undefined) {
      if (this.#cursors.size >= CURSOR_CACHE) this.#cursors.delete(this.#cursors.keys().next().value!);
      this.#cursors.set(`${prefix}\u0000${last.key}`, token);
    }
    return { items, cursor: last.key };
  }

  /** Server-side Copy Blob (content, content type and metadata). */
  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    if (from === to) return (await this.stat(from, ctx)) !== undefined;
    const source = this.copySource(this.blob(from));
    const out = await this.callOrMissing(from, ctx, async (abortSignal) => {
      const poller = await this.blob(to).beginCopyFromURL(source, { abortSignal });
      return poller.pollUntilDone();
    });
    if (out === undefined) return false;
    if (out.copyStatus !== undefined && out.copyStatus !== "success") {
      throw mapAzureError(Object.assign(new Error(`copy ended ${out.copyStatus}`), { statusCode: 500 }), this.errorContext(from, ctx));
    }
    return true;
  }

  /** Azure has no rename: a server-side copy, then a delete of the source. */
  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    if (!(await this.copy(from, to, ctx))) return false;
    if (from !== to) await this.delete(from, ctx);
    return true;
  }

  async close(): Promise<void> {
    this.#cursors.clear();
  }

  /** A SAS URL for one blob (see {@link AzureBlobStorage.getSignedUrl}). */
  signedUrl(key: string, options: AzureSignedUrlOptions = {}): string {
    validateKey(key, "getSignedUrl");
    const method = options.method ?? "GET";
    const expiresIn = options.expiresIn ?? 900;
    if (method !== "GET" && method !== "PUT") throw new StorageValidationError('Invalid method: expected "GET" or "PUT"', { key, operation: "getSignedUrl", backend: "azure-blob" });
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > 604_800) {
      throw new StorageValidationError("Invalid expiresIn: expected whole seconds from 1 to 604800", { key, operation: "getSignedUrl", backend: "azure-blob" });
    }
    if (!this.#sharedKey) {
      throw new StorageUnsupportedError("SAS URLs need shared-key auth (accountName and accountKey, or a connection string with AccountKey)", {
        key,
        operation: "getSignedUrl",
        backend: "azure-blob",
      });
    }
    const blob = this.blob(key);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: this.container,
        blobName: blob.name,
        permissions: BlobSASPermissions.parse(method === "GET" ? "r" : "cw"),
        startsOn: new Date(Date.now() - 5 * 60_000),
        expiresOn: new Date(Date.now() + expiresIn * 1000),
      },
      this.#sharedKey,
    );
    return `${blob.url}?${sas.toString()}`;
  }

  /** What `JSON.stringify` shows: no credentials. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, url: this.url, container: this.container, prefix: this.prefix };
  }

  [inspect.custom](): string {
    return `AzureBlobDriver ${inspect(this.toJSON())}`;
  }
}

/**
 * A storage in an Azure Blob Storage container (or Azurite), on `@azure/storage-blob`.
 * Values are block blobs; their value type, content type, metadata and expiry travel with
 * them; large and streamed values are staged block by block and committed at once;
 * `ifNoneMatch` / `ifMatch` are ETag conditions the service checks atomically; listings
 * come back in code-point order on any server; SAS URLs are the presigned-URL equivalent.
 *
 * @example
 * const storage = new AzureBlobStorage({ container: "app", connectionString: process.env.AZURE_STORAGE_CONNECTION_STRING });
 * await storage.put("users/1", { name: "John" });
 */
/** The option names of {@link AzureBlobStorageOptions} besides the common ones (the compiler checks the list is complete). */
const AZURE_OPTION_NAMES = Object.keys({
  container: true, prefix: true, connectionString: true, url: true, accountName: true, accountKey: true, sasToken: true, credential: true,
  client: true, createContainer: true, blockSize: true, concurrency: true, maxAttempts: true, requestTimeout: true,
} satisfies Record<Exclude<keyof AzureBlobStorageOptions, keyof BaseStorageOptions>, true>);

export class AzureBlobStorage extends BaseStorage {
  protected declare readonly driver: AzureBlobDriver;

  constructor(options: AzureBlobStorageOptions) {
    checkOptionNames(options, AZURE_OPTION_NAMES, "AzureBlobStorage");
    super(new AzureBlobDriver(options), options);
  }

  /** The container. */
  get container(): string {
    return this.driver.container;
  }

  /** The name prefix inside the container (`""` or ending in `/`). */
  get prefix(): string {
    return this.driver.prefix;
  }

  /** The SDK's container client, for what this API does not cover. */
  get client(): ContainerClient {
    return this.driver.client;
  }

  /**
   * A SAS URL that lets anyone holding it `GET` (read) or `PUT` (create or replace, with
   * header `x-ms-blob-type: BlockBlob`) one blob with plain HTTP until it expires: the
   * equivalent of S3's presigned URLs. Needs shared-key auth. Blobs uploaded through a PUT
   * URL carry no value type, so `get` decodes them by content type.
   */
  async getSignedUrl(key: string, options?: AzureSignedUrlOptions): Promise<string> {
    return this.driver.signedUrl(key, options);
  }

  /** What `JSON.stringify` shows: the container and URL, never a credential. */
  toJSON(): Record<string, unknown> {
    return this.driver.toJSON();
  }

  [inspect.custom](): string {
    return `AzureBlobStorage ${inspect(this.driver.toJSON())}`;
  }
}
