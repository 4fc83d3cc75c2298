import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { type ResolvedStorageConfig, type Storage, StorageConfigError, createStorage, loadConfig, resolveConfig } from "@pepperpy/storage";

/** Where the CLI reads and writes: the process's streams by default, anything in tests or embedders. */
export interface CliIO {
  /** Source of `put KEY -`. */
  stdin: Readable;
  /** Command output: values of `get`, listings, JSON. */
  stdout: Writable;
  /** Errors, warnings and the progress bar. */
  stderr: Writable;
  /** Environment for `${VAR}` in config files and `PEPPERPY_STORAGE_CONFIG`. */
  env: NodeJS.ProcessEnv;
  /** Aborting it stops the command cleanly (Ctrl-C): in-flight operations are aborted, exit 130. */
  signal?: AbortSignal | undefined;
}

/** The config file used when `--config` is not given. */
export const DEFAULT_CONFIG_FILE = "storage.yaml";
/** Where files go when there is no config file at all. */
export const DEFAULT_DATA_DIR = "data";

/** What the global options resolve to for one storage. */
export interface OpenedStorage {
  storage: Storage;
  /** For messages: the config file, or `./data (default)`. */
  source: string;
}

/**
 * The config of `--config FILE`, else `$PEPPERPY_STORAGE_CONFIG`, else `./storage.yaml`
 * when it exists, else file storage under `./data`. An explicitly named file that does
 * not exist is an error, never a silent fallback to the default.
 */
export async function resolveCliConfig(file: string | undefined, env: NodeJS.ProcessEnv): Promise<{ config: ResolvedStorageConfig; source: string }> {
  const named = file ?? (env.PEPPERPY_STORAGE_CONFIG || undefined);
  if (named !== undefined) {
    if (!existsSync(resolve(named))) throw new StorageConfigError(`Config file ${named} does not exist`, { operation: "loadConfig" });
    // The name as given, so errors name the file the way the user wrote it.
    return { config: await loadConfig(named, { env }), source: named };
  }
  if (existsSync(resolve(DEFAULT_CONFIG_FILE))) return { config: await loadConfig(DEFAULT_CONFIG_FILE, { env }), source: DEFAULT_CONFIG_FILE };
  return { config: await resolveConfig({ type: "file", path: resolve(DEFAULT_DATA_DIR) }), source: `./${DEFAULT_DATA_DIR} (default)` };
}

/** Builds the storage a command works on. */
export async function openStorage(file: string | undefined, env: NodeJS.ProcessEnv): Promise<OpenedStorage> {
  const { config, source } = await resolveCliConfig(file, env);
  return { storage: await createStorage(config), source };
}

/** Writes and waits for the stream to accept more, so large outputs stay in bounded memory. */
export function write(stream: Writable, text: string | Uint8Array): Promise<void> | undefined {
  if (stream.write(text)) return undefined;
  return new Promise((resolvePromise, reject) => {
    const done = (error?: Error) => {
      stream.off("drain", onDrain);
      stream.off("error", done);
      if (error) reject(error);
      else resolvePromise();
    };
    const onDrain = () => done();
    stream.once("drain", onDrain);
    stream.once("error", done);
  });
}

/** Writes a line (a newline is added). */
export async function line(stream: Writable, text: string): Promise<void> {
  await write(stream, `${text}\n`);
}

/** True when the stream is a terminal (colours and progress bars make sense). */
export function isTerminal(stream: Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/**
 * Yields the chunks of `source` until `signal` aborts, then throws at once, even while
 * waiting for the next chunk (stdin may never send one). The storage writing from it
 * then fails fast and removes its partial write, so Ctrl-C leaves nothing behind.
 *
 * Memory stays at one chunk: each wait gets its own short-lived abort listener, removed
 * as soon as the chunk arrives. (Racing every `next()` against one promise that never
 * settles kept a reaction — and with it every chunk — alive until the stream ended.)
 */
export async function* abortable(source: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncIterable<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  const abortError = () => Object.assign(new Error("Operation aborted"), { name: "AbortError", cause: signal.reason });
  try {
    while (true) {
      if (signal.aborted) throw abortError();
      const r = await new Promise<IteratorResult<Uint8Array>>((resolvePromise, reject) => {
        const onAbort = () => reject(abortError());
        signal.addEventListener("abort", onAbort, { once: true });
        it.next().then(
          (result) => {
            signal.removeEventListener("abort", onAbort);
            resolvePromise(result);
          },
          (error: unknown) => {
            signal.removeEventListener("abort", onAbort);
            reject(error);
          },
        );
      });
      if (r.done) return;
      yield r.value;
    }
  } finally {
    // Not awaited: a stream's iterator may only settle `return()` after its pending
    // `next()`, which stdin may never answer.
    it.return?.()?.catch(() => undefined);
  }
}

/** Passes chunks through, telling `onBytes` the size of each. */
export async function* counted(source: AsyncIterable<Uint8Array>, onBytes: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    onBytes(chunk.byteLength);
    yield chunk;
  }
}
