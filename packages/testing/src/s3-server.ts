import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** A bucket to create before the server answers (optional). */
  bucket?: string | undefined;
  /** Data directory; default a fresh temp directory, removed by `stop()`. */
  directory?: string | undefined;
  /** Milliseconds to wait for the server to start (default 20 000). */
  startTimeout?: number | undefined;
}

/** A running s3rver, as {@link startS3Server} returns it. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  /** The bucket created at start, when one was asked for. */
  bucket?: string | undefined;
  /** Creates a bucket (idempotent). */
  createBucket(name: string): Promise<void>;
  /** Stops the server process and removes its temp directory. */
  stop(): Promise<void>;
  /**
   * S3Client settings s3rver needs: path-style URLs, its fixed credentials, and checksums
   * only where required (otherwise it stores aws-chunked framing as content).
   */
  clientConfig: {
    endpoint: string;
    region: string;
    forcePathStyle: true;
    credentials: { accessKeyId: string; secretAccessKey: string };
    requestChecksumCalculation: "WHEN_REQUIRED";
    responseChecksumValidation: "WHEN_REQUIRED";
  };
}

// Runs inside the child. s3rver's list continuation tokens use DES, which OpenSSL 3
// only offers under --openssl-legacy-provider; a child process keeps that flag (and
// s3rver's event-loop work) out of the test process.
//
// s3rver 3.7 acknowledges a PUT once it has read the request body, before the object file is
// completely written (it waits for its hashing stream, not the file stream), and writes the
// object and its .md5 / metadata files in place. A GET right after an acknowledged PUT could
// then read an empty or short object, with a Content-Length to match (taken from the file's
// size): 5 in 400 put-then-get pairs of this library, under load. Real S3 is atomic with
// read-after-write consistency, so the child makes s3rver's store write each file to a temp
// file beside the data directory, wait until it is written and closed, then rename it into
// place: an acknowledged PUT is readable, and a reader never sees a half-written object.
const CHILD_SCRIPT = `
const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");
const stream = require("node:stream");
const S3rver = require(process.env.S3RVER_PATH);
const server = new S3rver({ address: "127.0.0.1", port: 0, directory: process.env.S3RVER_DIR, silent: true, allowMismatchedSignatures: false });
const store = server.store;
const tmpDir = process.env.S3RVER_TMP;
fs.mkdirSync(tmpDir, { recursive: true }); // sync-ok: once, at the child server's start-up, before it listens
let seq = 0;
async function replaceFile(target, write) {
  const tmp = path.join(tmpDir, process.pid + "-" + ++seq);
  try {
    await write(tmp);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await fs.promises.rename(tmp, target);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}
const writeAtomically = (target, data) => replaceFile(target, (tmp) => fs.promises.writeFile(tmp, data));
store.putObject = async function putObject(object) {
  const md5 = crypto.createHash("md5");
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? stream.Readable.from([object.content]) : object.content;
  const count = new stream.Transform({ transform(chunk, encoding, callback) { md5.update(chunk); size += chunk.length; callback(null, chunk); } });
  await replaceFile(this.getResourcePath(object.bucket, object.key, "object"), (tmp) => stream.promises.pipeline(source, count, fs.createWriteStream(tmp)));
  const digest = md5.digest("hex");
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
const S3Object = require(path.join(path.dirname(process.env.S3RVER_PATH), "models", "object.js"));
const pickMetadata = (metadata) => {
  const json = {};
  for (const [k, v] of Object.entries(metadata)) if (S3Object.ALLOWED_METADATA.includes(k) || k.startsWith("x-amz-meta-")) json[k] = v;
  return json;
};
store.putMetadata = async function putMetadata(bucket, key, metadata, md5) {
  if (md5) await writeAtomically(this.getResourcePath(bucket, key, "object.md5"), md5);
  await writeAtomically(this.getResourcePath(bucket, key, "metadata.json"), JSON.stringify(pickMetadata(metadata), null, 2));
};
server.run().then((addr) => process.send({ type: "ready", port: addr.port }), (err) => { process.send({ type: "error", message: String(err && err.stack || err) }); process.exit(1); });
process.on("message", (msg) => {
  if (msg.type === "createBucket") {
    server.store.putBucket(msg.name).then(() => process.send({ type: "bucket", id: msg.id }), (err) => process.send({ type: "bucket", id: msg.id, error: String(err) }));
  }
});
process.on("disconnect", () => process.exit(0));
`;

/**
 * Starts s3rver (a real S3-compatible HTTP server written in Node) in a child process on
 * a free 127.0.0.1 port with a temp data directory, for tests of S3 backends. Needs the
 * optional peer dependency `s3rver`.
 *
 * @example
 * const server = await startS3Server({ bucket: "test" });
 * const storage = new S3Storage({ bucket: "test", clientConfig: server.clientConfig });
 * afterAll(() => server.stop());
 */
export async function startS3Server(opts: S3ServerOptions = {}): Promise<S3Server> {
  let s3rverPath: string;
  try {
    s3rverPath = createRequire(import.meta.url).resolve("s3rver");
  } catch (cause) {
    throw new Error("startS3Server needs the s3rver package: npm install --save-dev s3rver", { cause });
  }
  const ownDir = opts.directory === undefined;
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), "pepperpy-s3rver-")));
  // Beside the data directory (same file system, so a rename lands), never inside it: s3rver
  // takes every directory there for a bucket.
  const tmpDir = `${directory.replace(/\/+$/, "")}.pepperpy-tmp`;
  const child: ChildProcess = spawn(process.execPath, ["--openssl-legacy-provider", "-e", CHILD_SCRIPT], {
    env: { ...process.env, S3RVER_PATH: s3rverPath, S3RVER_DIR: directory, S3RVER_TMP: tmpDir, NODE_OPTIONS: "" },
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 0;

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`s3rver did not start within ${opts.startTimeout ?? 20_000} ms: ${stderr}`));
    }, opts.startTimeout ?? 20_000);
    child.on("message", (msg: { type: string; port?: number; message?: string; id?: number; error?: string }) => {
      if (msg.type === "ready") {
        clearTimeout(timer);
        resolve(msg.port!);
      } else if (msg.type === "error") {
        clearTimeout(timer);
        reject(new Error(`s3rver failed to start: ${msg.message}`));
      } else if (msg.type === "bucket") {
        const p = pending.get(msg.id!);
        pending.delete(msg.id!);
        if (msg.error) p?.reject(new Error(`createBucket failed: ${msg.error}`));
        else p?.resolve();
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code ?? signal}) before it started: ${stderr}`));
      for (const p of pending.values()) p.reject(new Error("s3rver exited"));
      pending.clear();
    });
  });

  let stopping = false;
  child.once("exit", (code, signal) => {
    // An s3rver crash would otherwise show up only as ECONNREFUSED in later tests.
    if (!stopping) process.stderr.write(`startS3Server: s3rver exited unexpectedly (${code ?? signal}):\n${stderr}\n`);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const createBucket = (name: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error("s3rver is not running"));
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ type: "createBucket", name, id });
    });
  if (opts.bucket !== undefined) await createBucket(opts.bucket);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(tmpDir, { recursive: true, force: true });
      if (ownDir) await rm(directory, { recursive: true, force: true });
    })();
    return stopped;
  };

  return {
    endpoint,
    port,
    bucket: opts.bucket,
    createBucket,
    stop,
    clientConfig: {
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    },
  };
}
