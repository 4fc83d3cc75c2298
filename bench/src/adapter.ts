// The one interface every measured system is driven through.
import type { Readable } from "node:stream";

/**
 * The operations every system is measured on. Every adapter keeps the same contract,
 * so every system does the same work: `get` returns the stored bytes or `undefined` for
 * a missing key, `list` returns the full keys under a prefix in code-point order (an
 * adapter whose library does not sort pays for the sort inside `list`).
 */
export interface Adapter {
  put(key: string, value: Buffer): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** Keys under `prefix`. The workloads only list whole-segment prefixes ending in `/`. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /** Streams a value in; systems without it skip the stream workload. */
  putStream?(key: string, source: Readable): Promise<void>;
  /** Streams a value out. */
  getStream?(key: string): Promise<AsyncIterable<Uint8Array>>;
  /** Extra upload variants measured by the upload workload (raw SDK: single PUT and multipart). */
  uploads?: Record<string, (key: string, value: Buffer) => Promise<void>>;
  /**
   * For file systems that store key `a/b` at `<root>/a/b`: the list workload creates its
   * 50 000-file tree with plain `writeFile`s under this root instead of through `put`
   * (what is measured is the listing; the files are the same).
   */
  fsRoot?: string | undefined;
  /**
   * For a layer: the same backend without the layer, in the same process. The overhead
   * workload alternates between the two, so drift of the machine hits both alike.
   */
  paired?: Adapter | undefined;
  close(): Promise<void>;
}

/** Thrown when a system cannot be loaded at all (package missing, native binding failing). */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

/** Thrown when a system returned wrong bytes, missed a key or listed the wrong keys. */
export class VerificationError extends Error {
  override name = "VerificationError";
}

/** Where a system runs and what it needs. */
export interface SystemEnv {
  /** A fresh scratch directory. */
  dir: string;
  /** s3rver endpoint. */
  s3Endpoint: string | undefined;
  /** redis-server URL (`redis://127.0.0.1:P`), when one runs. */
  redisUrl?: string | undefined;
  /** PostgreSQL URL (`postgres://postgres@127.0.0.1:P/postgres`), when a cluster runs. */
  postgresUrl?: string | undefined;
  /** Connection string of the Azurite run.ts starts, when one runs. */
  azureConnectionString?: string | undefined;
  /** A fresh bucket name for this job. */
  bucket: string;
  /** Sizes of this run (the cache is sized from them). */
  smallCount: number;
}
