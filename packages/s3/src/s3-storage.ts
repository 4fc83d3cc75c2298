import { constants } from "node:buffer";
import { Readable } from "node:stream";
import type { GetObjectCommandOutput, HeadObjectCommandOutput, S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import {
  checkOptionNames,
  BaseStorage,
  type BaseStorageOptions,
  type DriverContext,
  type ListEntry,
  type ListPage,
  type ListPageRequest,
  type ObjectInfo,
  Secret,
  StorageConfigError,
  type StorageError,
  StorageNotFoundError,
  type PartialFailure,
  StoragePartialWriteError,
  StorageUnavailableError,
  StorageValidationError,
  type StorageCapabilities,
  type StorageDriver,
  type StoredEntry,
  type StoredStream,
  type WriteRequest,
  contentTypeFromKey,
  mapLimit,
  validateKey,
} from "@pepperpy/storage-core";
import { mapS3Error, truncatedBody } from "./errors.js";
import { fromS3Metadata, toS3Metadata } from "./metadata.js";
import { type LoadedSdk, loadLibStorage, loadPresigner, loadS3 } from "./sdk.js";

/**
 * Static credentials (each field plain or in a `Secret`, as config delivers them), or a
 * provider function as the AWS SDK accepts them.
 */
export type S3Credentials =
  | NonNullable<S3ClientConfig["credentials"]>
  | { accessKeyId: string | Secret<string>; secretAccessKey: string | Secret<string>; sessionToken?: string | Secret<string> | undefined };

/**
 * Static credentials become a provider that reads them from `Secret`s: the SDK client keeps
 * the provider, not the strings, so printing the storage or its client shows no credential.
 */
function heldCredentials(credentials: S3Credentials): NonNullable<S3ClientConfig["credentials"]> {
  if (typeof credentials === "function") return credentials;
  const c = credentials as { accessKeyId: unknown; secretAccessKey: unknown; sessionToken?: unknown; expiration?: Date };
  const accessKeyId = new Secret(String(Secret.reveal(c.accessKeyId)));
  const secretAccessKey = new Secret(String(Secret.reveal(c.secretAccessKey)));
  const token = Secret.reveal(c.sessionToken);
  const sessionToken = token === undefined ? undefined : new Secret(String(token));
  const expiration = c.expiration;
  return async () => ({
    accessKeyId: accessKeyId.reveal(),
    secretAccessKey: secretAccessKey.reveal(),
    ...(sessionToken ? { sessionToken: sessionToken.reveal() } : {}),
    ...(expiration ? { expiration } : {}),
  });
}

/** Options of {@link S3Storage}. */
/** Every option `S3Storage` reads (checked at run time: a misspelt one is a config error). */
const S3_OPTION_NAMES = [
  "bucket",
  "prefix",
  "region",
  "endpoint",
  "forcePathStyle",
  "credentials",
  "client",
  "partSize",
  "queueSize",
  "maxAttempts",
  "requestTimeout",
  "conditionalWrites",
  "clientConfig",
  "listExpiry",
  "timeout",
  "maxSize",
] as const;

export interface S3StorageOptions extends BaseStorageOptions {
  /** The bucket. It must exist; a missing bucket is a `StorageConfigError` naming it. */
  bucket: string;
  /** Key prefix inside the bucket (`"app/data"`): keys are stored under it and listed relative to it. */
  prefix?: string | undefined;
  /** AWS region; default from the SDK's provider chain (`AWS_REGION`, `~/.aws/config`), or `us-east-1` with a custom `endpoint`. */
  region?: string | undefined;
  /** Endpoint of an S3-compatible server (MinIO, R2, Ceph RGW, …). */
  endpoint?: string | undefined;
  /** Path-style URLs (`https://host/bucket/key`), needed by most self-hosted servers. */
  forcePathStyle?: boolean | undefined;
  /** Credentials; default: the SDK's provider chain (environment, profile, instance role). */
  credentials?: S3Credentials | undefined;
  /**
   * A client you built yourself. It is used as is (its retries, timeouts and checksum
   * settings) and not destroyed by `close()`; `region`, `endpoint`, `credentials`,
   * `maxAttempts`, `requestTimeout` and `clientConfig` are then ignored.
   */
  client?: S3Client | undefined;
  /** Bytes per multipart part and the size above which byte values go up as multipart (default 8 MiB, at least 5 MiB). */
  partSize?: number | undefined;
  /** Parts uploaded at once per multipart upload (default 4). */
  queueSize?: number | undefined;
  /**
   * HTTP attempts the SDK makes per request, first try included (default 3). Set it to 1
   * when a `RetryStorage` wraps this storage, so that one layer owns retries (the config
   * factory does this for you). See "Retries" in the README.
   */
  maxAttempts?: number | undefined;
  /** Milliseconds a request's socket may stay idle (connect, headers or body) before it fails as a retryable timeout. Default: the SDK's. */
  requestTimeout?: number | undefined;
  /**
   * Whether the server honours `If-None-Match` / `If-Match` on PUT (default true: AWS since
   * 2024, MinIO, R2). Set false for servers that silently ignore them; conditional puts
   * then reject with `StorageUnsupportedError` instead of overwriting.
   */
  conditionalWrites?: boolean | undefined;
  /** Extra S3Client settings (for example `requestChecksumCalculation: "WHEN_REQUIRED"` for older S3-compatible servers). */
  clientConfig?: Partial<S3ClientConfig> | undefined;
  /**
   * How listings learn expiry deadlines, which ListObjectsV2 does not return (they live in
   * object metadata, see README "Expiry"):
   * - `"auto"` (default): the first write with a deadline creates a marker object
   *   (`<prefix>.pepperpy-expiry`); a listing page HEADs the marker until it has been
   *   seen (one request), and once it exists HEADs every listed key (16 at a time) so that
   *   expired keys are left out. Storages that never used expiry list as cheaply as before.
   * - `"always"`: HEAD every listed key, marker or not (objects given a deadline by another
   *   tool, or through another `prefix` of the bucket).
   * - `"never"`: no HEADs: listings stay one request per 1000 keys, but expired keys show in
   *   `list` / `iterate` until `purgeExpired` or a lifecycle rule removes them (reads,
   *   `stat` and `exists` still hide them).
   */
  listExpiry?: "auto" | "always" | "never" | undefined;
}

/** Name of the marker object, under the storage's prefix, that says values with deadlines may exist. */
export const EXPIRY_MARKER = ".pepperpy-expiry";

/** HEAD requests in flight at once while a listing fetches deadlines. */
const HEAD_CONCURRENCY = 16;

/** Options of {@link S3Storage.getSignedUrl}. */
export interface SignedUrlOptions {
  /** Seconds the URL is valid (default 900, at most 604 800). */
  expiresIn?: number | undefined;
  /** `GET` to download, `PUT` to upload the body of the request as the object (default `GET`). */
  method?: "GET" | "PUT" | undefined;
}

/** Default multipart part size. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Smallest part S3 accepts (except the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Keys per DeleteObjects request (the S3 limit). */
export const DELETE_BATCH_SIZE = 1000;
/** Keys per ListObjectsV2 request (the S3 limit). */
const LIST_PAGE_SIZE = 1000;
const DEFAULT_MAX_ATTEMPTS = 3;

/** The S3 error codes of a DeleteObjects entry that may succeed when tried again. */
function checkInteger(name: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new StorageConfigError(`Invalid option ${name}: expected an integer >= ${min}`, { backend: "s3" });
  }
}

/** Normalises the storage prefix to `""` or `"some/path/"`. */
function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === "") return "";
  if (typeof prefix !== "string") throw new StorageConfigError("Invalid option prefix: expected a string", { backend: "s3" });
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  try {
    validateKey(trimmed);
  } catch (cause) {
    throw new StorageConfigError(`Invalid option prefix: ${(cause as StorageError).detail}`, { backend: "s3", cause });
  }
  return `${trimmed}/`;
}

function ignore(): void {}

/** Largest Buffer this Node can allocate. */
const MAX_LENGTH = constants.MAX_LENGTH;

/** Builds an S3 `x-amz-copy-source` value: bucket and key, each path segment URL-encoded. */
function copySource(bucket: string, key: string): string {
  return `${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * The S3 driver: every `StorageDriver` call is one or a few S3 requests, each sent with
 * the call's `AbortSignal`, each failure classified by {@link mapS3Error}.
 */
export class S3Driver implements StorageDriver {
  readonly name = "s3";
  readonly capabilities: StorageCapabilities;
  /** The client given in the options, or the one built on first use (see {@link getClient}). */
  #client: S3Client | undefined;
  /** The settings of the client this driver builds, when none was given. */
  readonly #clientConfig: S3ClientConfig | undefined;
  /** `requestTimeout`, when it applies (not to a given client): named in timeout errors. */
  readonly #requestTimeout: number | undefined;
  /** The SDK and the client, once loaded: later calls use them without awaiting anything. */
  #sdk: LoadedSdk | undefined;
  #loading: Promise<LoadedSdk> | undefined;
  readonly bucket: string;
  /** `""` or a prefix ending in `/`. */
  readonly prefix: string;
  readonly partSize: number;
  readonly queueSize: number;
  private readonly ownsClient: boolean;
  /** Set once HeadBucket succeeded: a 404 of HeadObject then means "no such key". */
  private bucketVerified = false;
  /** See {@link S3StorageOptions.listExpiry}. */
  readonly listExpiry: "auto" | "always" | "never";
  /** Set once the expiry marker is known to exist (it is never removed by this library). */
  private markerSeen = false;

  constructor(options: S3StorageOptions) {
    if (typeof options !== "object" || options === null) throw new StorageConfigError("S3Storage needs a bucket name or options", { backend: "s3" });
    checkOptionNames(options, S3_OPTION_NAMES, "S3Storage");
    if (typeof options.bucket !== "string" || options.bucket.length === 0) {
      throw new StorageConfigError("Invalid option bucket: expected a bucket name", { backend: "s3" });
    }
    checkInteger("partSize", options.partSize, MIN_PART_SIZE);
    checkInteger("queueSize", options.queueSize, 1);
    checkInteger("maxAttempts", options.maxAttempts, 1);
    checkInteger("requestTimeout", options.requestTimeout, 1);
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.queueSize = options.queueSize ?? 4;
    const listExpiry = options.listExpiry ?? "auto";
    if (listExpiry !== "auto" && listExpiry !== "always" && listExpiry !== "never") {
      throw new StorageConfigError('Invalid option listExpiry: expected "auto", "always" or "never"', { backend: "s3" });
    }
    this.listExpiry = listExpiry;
    this.capabilities = {
      rangeRead: true,
      conditionalWrite: options.conditionalWrites ?? true,
      serverSideCopy: true,
      keyIsAlsoPrefix: true,
      durable: true,
      persistent: true,
    };
    if (options.client) {
      this.#client = options.client;
      this.#clientConfig = undefined;
      this.#requestTimeout = undefined;
      this.ownsClient = false;
    } else {
      const region = options.region ?? (options.endpoint ? (process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1") : undefined);
      const config: S3ClientConfig = {
        ...options.clientConfig,
        maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      };
      if (region !== undefined) config.region = region;
      if (options.endpoint !== undefined) config.endpoint = options.endpoint;
      if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle;
      if (options.credentials !== undefined) config.credentials = heldCredentials(options.credentials);
      if (options.requestTimeout !== undefined) {
        config.requestHandler = { connectionTimeout: options.requestTimeout, socketTimeout: options.requestTimeout };
      }
      // The client is built with the SDK, on the first request (see sdk.ts).
      this.#clientConfig = config;
      this.#requestTimeout = options.requestTimeout;
      this.ownsClient = true;
    }
  }

  /**
   * The SDK client, once it exists: the one given in the options, or the one built on the
   * first request. Before that (nothing sent yet, SDK not loaded) it is `undefined`; use
   * {@link getClient} to load the SDK and get it.
   */
  get client(): S3Client | undefined {
    return this.#client;
  }

  /** Loads the AWS SDK if needed and returns the client requests go through. */
  async getClient(): Promise<S3Client> {
    return (await this.sdk()).client;
  }

  /** The SDK module and client: loaded by the first call, then returned synchronously-resolved. */
  private sdk(): Promise<LoadedSdk> {
    if (this.#sdk) return Promise.resolve(this.#sdk);
    this.#loading ??= loadS3().then(
      (s3) => {
        this.#client ??= new s3.S3Client(this.#clientConfig ?? {});
        this.#sdk = { s3, client: this.#client };
        return this.#sdk;
      },
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  /** The S3 key of a storage key. */
  fullKey(key: string): string {
    return this.prefix + key;
  }

  private errorContext(key: string | undefined, ctx: DriverContext) {
    return { bucket: this.bucket, key, operation: ctx.operation, signal: ctx.signal, requestTimeout: this.#requestTimeout };
  }

  /** Sends one SDK call and maps its failure. */
  private async call<T>(key: string | undefined, ctx: DriverContext, fn: (signal: AbortSignal, sdk: LoadedSdk) => Promise<T>): Promise<T> {
    try {
      return await fn(ctx.signal, this.#sdk ?? (await this.sdk()));
    } catch (error) {
      throw mapS3Error(error, this.errorContext(key, ctx));
    }
  }

  /** Like {@link call}, with "not found" as `undefined`. */
  private async callOrMissing<T>(key: string, ctx: DriverContext, fn: (signal: AbortSignal, sdk: LoadedSdk) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(key, ctx, fn);
    } catch (error) {
      if (error instanceof StorageNotFoundError) return undefined;
      throw error;
    }
  }

  private info(key: string, out: GetObjectCommandOutput | HeadObjectCommandOutput, size: number): ObjectInfo {
    const { valueType, expiresAt, metadata } = fromS3Metadata(out.Metadata);
    return {
      key,
      size,
      lastModified: out.LastModified ?? new Date(0),
      etag: out.ETag,
      contentType: out.ContentType ?? contentTypeFromKey(key),
      metadata,
      valueType,
      expiresAt,
    };
  }

  /** Total object size of a (possibly ranged) GET: from `Content-Range` when present. */
  private static totalSize(out: GetObjectCommandOutput, fallback: number): number {
    const m = out.ContentRange ? /\/(\d+)$/.exec(out.ContentRange) : null;
    return m ? Number(m[1]) : (out.ContentLength ?? fallback);
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const out = await this.callOrMissing(key, ctx, (abortSignal, { client, s3 }) =>
      client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }), { abortSignal }),
    );
    if (!out) return undefined;
    const data = await this.readBody(out, key, ctx);
    return { info: this.info(key, out, S3Driver.totalSize(out, data.byteLength)), data };
  }

  /**
   * Reads a whole response body, failing on a body shorter (or longer) than its
   * `Content-Length`, so a connection cut mid-body is a retryable error, never a value.
   * Collected with plain stream events rather than an async iterator: per GET that is
   * the work the SDK's own `transformToByteArray` does, plus the length check.
   */
  private readBody(out: GetObjectCommandOutput, key: string, ctx: DriverContext): Promise<Buffer> {
    const body = out.Body as Readable | undefined;
    const expected = out.ContentLength;
    if (!body) {
      return expected ? Promise.reject(truncatedBody(0, expected, this.errorContext(key, ctx))) : Promise.resolve(Buffer.alloc(0));
    }
    const signal = ctx.signal;
    const errorContext = this.errorContext(key, ctx);
    // With a known length the bytes go straight into one buffer of that size: no list of
    // chunks held next to the result (a 64 MiB get peaks at 64 MiB, not 128), no final concat.
    const into = expected !== undefined && expected <= MAX_LENGTH ? Buffer.allocUnsafe(expected) : undefined;
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let settled = false;
      const settle = (error: StorageError | undefined) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        body.off("data", onData);
        body.off("end", onEnd);
        body.off("error", onError);
        body.off("close", onClose);
        if (error) {
          if (!body.destroyed) body.destroy();
          // Late stream errors after we gave up must not surface as unhandled.
          body.on("error", ignore);
          reject(error);
        } else {
          resolve(into ?? Buffer.concat(chunks, received));
        }
      };
      const onData = (chunk: Buffer | Uint8Array) => {
        if (into) {
          // More bytes than Content-Length: as wrong as fewer.
          if (received + chunk.byteLength > into.byteLength) return settle(truncatedBody(received + chunk.byteLength, into.byteLength, errorContext));
          into.set(chunk, received);
        } else {
          chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        }
        received += chunk.byteLength;
      };
      const onEnd = () => settle(expected !== undefined && received !== expected ? truncatedBody(received, expected, errorContext) : undefined);
      const onError = (error: unknown) => settle(mapS3Error(error, errorContext));
      // Closed before its end: the connection went away mid-body.
      const onClose = () =>
        settle(
          expected !== undefined
            ? truncatedBody(received, expected, errorContext)
            : mapS3Error(Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" }), errorContext),
        );
      const onAbort = () => settle(mapS3Error(signal.reason, errorContext));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      body.on("data", onData);
      body.once("end", onEnd);
      body.once("error", onError);
      body.once("close", onClose);
    });
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const { start, end } = range;
    const header = start === undefined && end === undefined ? undefined : `bytes=${start ?? 0}-${end ?? ""}`;
    let out: GetObjectCommandOutput | undefined;
    try {
      out = await this.callOrMissing(key, ctx, (abortSignal, { client, s3 }) =>
        client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Range: header }), { abortSignal }),
      );
    } catch (error) {
      // 416: the range starts at or past the end (or the object is empty): an empty read, as on every backend.
      const status = ((error as StorageError).cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
      if (header !== undefined && status === 416) {
        const info = await this.stat(key, ctx);
        return info && { info, stream: Readable.from([Buffer.alloc(0)]) };
      }
      throw error;
    }
    if (!out) return undefined;
    const body = (out.Body as Readable | undefined) ?? Readable.from([Buffer.alloc(0)]);
    const expected = out.ContentLength;
    const errorContext = this.errorContext(key, ctx);
    let received = 0;
    // A stream that ends short of Content-Length errors instead of ending cleanly.
    async function* checked(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of body) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
          received += buf.byteLength;
          yield buf;
        }
      } catch (error) {
        throw mapS3Error(error, { ...errorContext, signal: undefined });
      }
      if (expected !== undefined && received !== expected) throw truncatedBody(received, expected, errorContext);
    }
    const stream = Readable.from(checked(), { objectMode: false });
    stream.on("close", () => {
      if (!body.destroyed) body.destroy();
    });
    return { info: this.info(key, out, S3Driver.totalSize(out, 0)), stream };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const out = await this.callOrMissing(key, ctx, (abortSignal, { client, s3 }) =>
      client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }), { abortSignal }),
    );
    if (!out) {
      // HEAD responses have no body, so a missing bucket looks like a missing key: check once.
      if (!this.bucketVerified) await this.verifyBucket(key, ctx);
      return undefined;
    }
    return this.info(key, out, out.ContentLength ?? 0);
  }

  private async verifyBucket(key: string, ctx: DriverContext): Promise<void> {
    try {
      await this.call(key, ctx, (abortSignal, { client, s3 }) => client.send(new s3.HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }));
      this.bucketVerified = true;
    } catch (error) {
      if (error instanceof StorageNotFoundError) {
        throw new StorageConfigError(`S3 bucket "${this.bucket}" does not exist (NoSuchBucket)`, { key, operation: ctx.operation, backend: "s3", cause: error });
      }
      throw error;
    }
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    // The marker goes first: a value with a deadline is never visible before listings know
    // to look for deadlines.
    if (req.expiresAt !== undefined) await this.ensureMarker(ctx);
    const params = {
      Bucket: this.bucket,
      Key: this.fullKey(key),
      ContentType: req.contentType,
      Metadata: toS3Metadata(req.metadata, req.valueType, req.expiresAt),
      IfNoneMatch: req.ifNoneMatch,
      IfMatch: req.ifMatch,
    };
    const done = (etag: string | undefined, size: number): ObjectInfo => ({
      key,
      size,
      lastModified: new Date(),
      etag,
      contentType: req.contentType,
      metadata: { ...req.metadata },
      valueType: req.valueType,
      expiresAt: req.expiresAt === undefined ? undefined : new Date(req.expiresAt),
    });
    if (req.body instanceof Uint8Array && req.body.byteLength <= this.partSize) {
      const body = req.body;
      const out = await this.call(key, ctx, (abortSignal, { client, s3 }) =>
        client.send(new s3.PutObjectCommand({ ...params, Body: body, ContentLength: body.byteLength }), { abortSignal }),
      );
      return done(out.ETag, body.byteLength);
    }
    return this.upload(key, params, req.body, ctx, done);
  }

  /**
   * Multipart upload through lib-storage's `Upload`. Every request carries the call's
   * signal; on any failure the multipart upload is aborted, so no part of it ever
   * becomes visible (S3 shows an object only after CompleteMultipartUpload).
   */
  private async upload(
    key: string,
    params: Record<string, unknown> & { Bucket: string; Key: string },
    source: Uint8Array | AsyncIterable<Uint8Array>,
    ctx: DriverContext,
    done: (etag: string | undefined, size: number) => ObjectInfo,
  ): Promise<ObjectInfo> {
    let size = 0;
    let body: Uint8Array | Readable;
    if (source instanceof Uint8Array) {
      body = source;
      size = source.byteLength;
    } else {
      body = Readable.from(
        (async function* counted() {
          for await (const chunk of source) {
            size += chunk.byteLength;
            yield chunk;
          }
        })(),
        { objectMode: false },
      );
    }
    let uploadId: string | undefined;
    let client: S3Client;
    let s3: LoadedSdk["s3"];
    let Upload: Awaited<ReturnType<typeof loadLibStorage>>["Upload"];
    try {
      ({ client, s3 } = await this.sdk());
      ({ Upload } = await loadLibStorage());
    } catch (error) {
      if (body instanceof Readable && !body.destroyed) body.destroy();
      throw mapS3Error(error, this.errorContext(key, ctx));
    }
    // lib-storage sends without a signal; this view of the client adds the call's.
    const signalled = {
      config: client.config,
      send: async (command: Parameters<S3Client["send"]>[0], options?: object) => {
        const out = await client.send(command, { ...options, abortSignal: ctx.signal });
        if (command instanceof s3.CreateMultipartUploadCommand) uploadId = (out as { UploadId?: string }).UploadId;
        return out;
      },
    } as unknown as S3Client;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const upload = new Upload({
      client: signalled,
      params: { ...params, Body: body },
      partSize: this.partSize,
      queueSize: this.queueSize,
      // This driver aborts itself, so the original error is reported rather than the abort's.
      leavePartsOnError: true,
      abortController: controller,
    });
    try {
      const out = await upload.done();
      return done(out.ETag, size);
    } catch (error) {
      const mapped = mapS3Error(error, this.errorContext(key, ctx));
      if (body instanceof Readable && !body.destroyed) body.destroy();
      if (uploadId !== undefined) await this.abortMultipart(params.Key, uploadId);
      throw mapped;
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Best effort: a failed abort leaves parts a bucket lifecycle rule cleans up (see README). */
  private async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      const { client, s3 } = await this.sdk();
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), {
        abortSignal: AbortSignal.timeout(10_000),
      });
    } catch {
      // The upload stays incomplete and invisible; the original error is what matters to the caller.
    }
  }

  async delete(key: string, ctx: DriverContext): Promise<void> {
    await this.callOrMissing(key, ctx, (abortSignal, { client, s3 }) =>
      client.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }), { abortSignal }),
    );
  }

  /** Creates the expiry marker unless it is known to exist (one HEAD, at most one PUT, per instance). */
  private async ensureMarker(ctx: DriverContext): Promise<void> {
    if (this.markerSeen) return;
    if (await this.markerExists(ctx)) return;
    const body = "Values under this prefix carry expiry deadlines (x-amz-meta-pepperpy-expires): @pepperpy/storage-s3 lists them with a HEAD per key.\n";
    await this.call(EXPIRY_MARKER, ctx, (abortSignal, { client, s3 }) =>
      client.send(new s3.PutObjectCommand({ Bucket: this.bucket, Key: this.fullKey(EXPIRY_MARKER), Body: body, ContentType: "text/plain" }), {
        abortSignal,
      }),
    );
    this.markerSeen = true;
  }

  private async markerExists(ctx: DriverContext): Promise<boolean> {
    if (this.markerSeen) return true;
    const out = await this.callOrMissing(EXPIRY_MARKER, ctx, (abortSignal, { client, s3 }) =>
      client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(EXPIRY_MARKER) }), { abortSignal }),
    );
    if (out) this.markerSeen = true;
    return this.markerSeen;
  }

  /**
   * Whether a listing must fetch deadlines: ListObjectsV2 returns no metadata. See
   * {@link S3StorageOptions.listExpiry}. `purge`: `purgeExpired` asks, and looks even with `"never"`.
   */
  private async deadlinesMayExist(ctx: DriverContext, purge: boolean): Promise<boolean> {
    if (this.listExpiry === "always") return true;
    if (this.listExpiry === "never" && !purge) return false;
    if (this.listExpiry === "never") return true;
    return this.markerExists(ctx);
  }

  /** Gives every entry its deadline with a HEAD; entries deleted meanwhile are dropped. */
  private async withDeadlines(items: ListEntry[], ctx: DriverContext): Promise<ListEntry[]> {
    const infos = await mapLimit(items, HEAD_CONCURRENCY, (item) => this.stat(item.key, ctx));
    const out: ListEntry[] = [];
    items.forEach((item, i) => {
      const info = infos[i];
      if (!info) return;
      out.push(info.expiresAt === undefined ? item : { ...item, expiresAt: info.expiresAt, etag: info.etag ?? item.etag });
    });
    return out;
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const listed = await this.listRaw(prefix, page, ctx);
    if (listed.items.length === 0 || !(await this.deadlinesMayExist(ctx, false))) return listed;
    const items = await this.withDeadlines(listed.items, ctx);
    return listed.cursor === undefined ? { items } : { items, cursor: listed.cursor };
  }

  /**
   * HEADs every key under the prefix, and deletes those whose deadline is at or before
   * `now` with `If-Match` on the etag that HEAD saw: a key rewritten between the two
   * requests is kept (AWS S3 honours If-Match on DeleteObject; servers that ignore it,
   * such as s3rver, leave that short window open).
   */
  async purgeExpired(prefix: string, now: number, ctx: DriverContext): Promise<number> {
    if (!(await this.deadlinesMayExist(ctx, true))) return 0;
    let deleted = 0;
    let cursor: string | undefined;
    do {
      const listed = await this.listRaw(prefix, { cursor, limit: LIST_PAGE_SIZE }, ctx);
      await mapLimit(listed.items, HEAD_CONCURRENCY, async (item) => {
        const info = await this.stat(item.key, ctx);
        if (info?.expiresAt === undefined || info.expiresAt.getTime() > now) return;
        try {
          await this.call(item.key, ctx, (abortSignal, { client, s3 }) =>
            client.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(item.key), IfMatch: info.etag }), { abortSignal }),
          );
          deleted++;
        } catch (error) {
          // 412: rewritten since the HEAD (kept); 404: deleted by someone else.
          if (error instanceof StorageNotFoundError || (error as StorageError).code === "CONFLICT") return;
          throw error;
        }
      });
      cursor = listed.cursor;
    } while (cursor !== undefined);
    return deleted;
  }

  /** One page of ListObjectsV2 entries, without the expiry marker. */
  private async listRaw(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const items: ListEntry[] = [];
    let startAfter = page.cursor !== undefined ? this.fullKey(page.cursor) : undefined;
    let more = false;
    // Paged by StartAfter (the last key), never by continuation token, so a cursor is
    // just a key and pages of any size work on every S3-compatible server.
    while (items.length < page.limit) {
      const out = await this.call(prefix || undefined, ctx, (abortSignal, { client, s3 }) =>
        client.send(
          new s3.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            StartAfter: startAfter,
            MaxKeys: Math.min(LIST_PAGE_SIZE, page.limit - items.length),
          }),
          { abortSignal },
        ),
      );
      const contents = out.Contents ?? [];
      for (const o of contents) {
        if (o.Key === undefined || !o.Key.startsWith(this.prefix)) continue;
        if (o.Key.length === this.prefix.length + EXPIRY_MARKER.length && o.Key.endsWith(EXPIRY_MARKER)) continue;
        items.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0), etag: o.ETag });
      }
      more = out.IsTruncated === true;
      if (!more) break;
      const last = contents[contents.length - 1]?.Key;
      if (last === undefined) {
        throw new StorageUnavailableError("S3 returned an empty page marked truncated", { operation: ctx.operation, backend: "s3", retryable: true });
      }
      startAfter = last;
    }
    const last = items[items.length - 1];
    return more && last ? { items, cursor: last.key } : { items };
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const out = await this.callOrMissing(from, ctx, (abortSignal, { client, s3 }) =>
      client.send(
        new s3.CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.fullKey(to),
          CopySource: copySource(this.bucket, this.fullKey(from)),
          MetadataDirective: "COPY",
        }),
        { abortSignal },
      ),
    );
    if (out !== undefined) return true;
    // Some S3-compatible servers decode x-amz-copy-source only partly (s3rver leaves
    // %2B, %3F, %26 … encoded) and answer NoSuchKey for a source that exists: copy such
    // an object through this process instead, with its type, content type and metadata.
    const source = await this.readStream(from, {}, ctx);
    if (!source) return false;
    await this.upload(
      to,
      {
        Bucket: this.bucket,
        Key: this.fullKey(to),
        ContentType: source.info.contentType,
        Metadata: toS3Metadata(source.info.metadata, source.info.valueType, source.info.expiresAt?.getTime()),
      },
      source.stream,
      ctx,
      (etag) => ({ ...source.info, key: to, etag }),
    );
    return true;
  }

  /** S3 has no rename: a server-side copy, then a delete of the source. */
  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    if (!(await this.copy(from, to, ctx))) return false;
    await this.delete(from, ctx);
    return true;
  }

  async deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += DELETE_BATCH_SIZE) batches.push(keys.slice(i, i + DELETE_BATCH_SIZE));
    const failures: S3DeleteFailure[] = [];
    await mapLimit(batches, 4, async (batch) => {
      const out = await this.call(undefined, ctx, (abortSignal, { client, s3 }) =>
        client.send(
          new s3.DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: this.fullKey(k) })), Quiet: true },
          }),
          { abortSignal },
        ),
      );
      for (const e of out.Errors ?? []) {
        if (e.Code === "NoSuchKey") continue;
        const full = e.Key ?? "";
        const key = full.startsWith(this.prefix) ? full.slice(this.prefix.length) : full;
        failures.push(deleteFailure(e, key, this.bucket, ctx.operation));
      }
    });
    if (failures.length > 0) throw new S3DeleteManyError(failures, keys.length, ctx.operation);
  }

  async close(): Promise<void> {
    // A client never built (no request was made) has nothing to release.
    if (this.ownsClient) this.#client?.destroy();
  }

  /** A presigned URL for one object (see {@link S3Storage.getSignedUrl}). */
  async signedUrl(key: string, options: SignedUrlOptions = {}): Promise<string> {
    validateKey(key, "getSignedUrl");
    const method = options.method ?? "GET";
    const expiresIn = options.expiresIn ?? 900;
    if (method !== "GET" && method !== "PUT") throw new StorageValidationError('Invalid method: expected "GET" or "PUT"', { key, operation: "getSignedUrl", backend: "s3" });
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > 604_800) {
      throw new StorageValidationError("Invalid expiresIn: expected whole seconds from 1 to 604800", { key, operation: "getSignedUrl", backend: "s3" });
    }
    const input = { Bucket: this.bucket, Key: this.fullKey(key) };
    try {
      const [{ client, s3 }, { getSignedUrl: presign }] = await Promise.all([this.sdk(), loadPresigner()]);
      const command = method === "GET" ? new s3.GetObjectCommand(input) : new s3.PutObjectCommand(input);
      return await presign(client, command, { expiresIn });
    } catch (error) {
      throw mapS3Error(error, { bucket: this.bucket, key, operation: "getSignedUrl" });
    }
  }
}

/** One key DeleteObjects could not delete: a per-key {@link PartialFailure} with the S3 error code. */
export interface S3DeleteFailure extends PartialFailure {
  /** The key (relative to the storage's prefix). */
  key: string;
  /** The S3 error code (`AccessDenied`, `InternalError`, …). */
  code: string;
  /** The S3 error message for this key, as the server sent it (`undefined` when it sent none). */
  message: string | undefined;
}

/** An entry of a DeleteObjects `Errors` list, as the SDK parses it. */
interface DeleteObjectsErrorEntry {
  Key?: string | undefined;
  Code?: string | undefined;
  Message?: string | undefined;
}

/**
 * `deleteMany` removed some keys but not all: the one partial-failure error of the library,
 * {@link StoragePartialWriteError} (code `PARTIAL_WRITE`), whose `failures` name every key
 * that is still there with its `error` mapped from the S3 code by {@link mapS3Error} (an
 * `AccessDenied` is a `StoragePermissionError`, an `InternalError` / `SlowDown` a retryable
 * `StorageUnavailableError`) and the S3 `code` itself. Retryable when every failure is.
 *
 * @deprecated Catch {@link StoragePartialWriteError} instead; this subclass is what S3
 * throws, kept so `instanceof S3DeleteManyError` goes on working, and will be removed.
 */
export class S3DeleteManyError extends StoragePartialWriteError {
  declare readonly failures: S3DeleteFailure[];

  constructor(failures: S3DeleteFailure[], total: number, operation?: string) {
    const shown = failures
      .slice(0, 10)
      .map((f) => `${JSON.stringify(f.key)} (${f.code})`)
      .join(", ");
    const more = failures.length > 10 ? ` and ${failures.length - 10} more` : "";
    super(`DeleteObjects failed for ${failures.length} of ${total} keys: ${shown}${more}`, {
      operation,
      backend: "s3",
      key: failures.length === 1 ? failures[0]!.key : undefined,
      failures,
    });
  }
}

/** The per-key failure for one DeleteObjects error entry, its error mapped as a whole request's would be. */
function deleteFailure(entry: DeleteObjectsErrorEntry, key: string, bucket: string, operation: string | undefined): S3DeleteFailure {
  const code = entry.Code ?? "Unknown";
  // Classified exactly as a whole request failing with this code would be; `cause` keeps the
  // entry. The server's message stays in `message`, out of the error's text, as mapS3Error does.
  const error = mapS3Error({ name: code, Code: code, Key: entry.Key, Message: entry.Message }, { bucket, key, operation });
  return { backend: "s3", key, code, message: entry.Message, error };
}

/**
 * A storage in an S3 bucket: AWS S3 or any S3-compatible server (MinIO, Cloudflare R2,
 * Ceph RGW, …). Values round-trip exactly (their type travels in object metadata),
 * large and streamed values go up as multipart uploads that are never visible half
 * written, listings have no 1,000-key ceiling, and every SDK failure is a typed
 * `StorageError` with an honest `retryable`.
 *
 * @example
 * const storage = new S3Storage({ bucket: "my-bucket", prefix: "app", region: "eu-west-1" });
 * await storage.put("users/1", { name: "John" });
 */
export class S3Storage extends BaseStorage {
  protected declare readonly driver: S3Driver;

  constructor(options: string | S3StorageOptions) {
    const opts: S3StorageOptions = typeof options === "string" ? { bucket: options } : options;
    super(new S3Driver(opts), opts);
  }

  /** The bucket. */
  get bucket(): string {
    return this.driver.bucket;
  }

  /** The key prefix inside the bucket (`""` or ending in `/`). */
  get prefix(): string {
    return this.driver.prefix;
  }

  /**
   * The SDK client, for what this API does not cover, once it exists: the one you passed as
   * `client`, or the one built on the first request. The AWS SDK loads on first use, so
   * before any request this is `undefined`; `await storage.getClient()` loads it.
   */
  get client(): S3Client | undefined {
    return this.driver.client;
  }

  /** The SDK client requests go through, loading the AWS SDK first if no request has yet. */
  async getClient(): Promise<S3Client> {
    return this.driver.getClient();
  }

  /**
   * A presigned URL that lets anyone holding it `GET` or `PUT` one object with plain HTTP
   * until it expires. Objects uploaded through a PUT URL carry no value type, so `get`
   * decodes them by content type (JSON, `text/*`, otherwise bytes).
   */
  async getSignedUrl(key: string, options?: SignedUrlOptions): Promise<string> {
    return this.driver.signedUrl(key, options);
  }
}
