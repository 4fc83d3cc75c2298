import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The CLI entry, run from source: no build needed. */
export const CLI_ENTRY = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** `node --conditions=source --import tsx packages/cli/src/cli.ts`, as a user's shell would run the built bin. */
export const CLI_COMMAND = [process.execPath, "--conditions=source", "--import", TSX_LOADER, CLI_ENTRY];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  /** stdout as UTF-8. */
  out: string;
  err: string;
}

/** Spawns the real CLI as a child process. */
export function spawnCli(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): ChildProcess {
  const [node, ...pre] = CLI_COMMAND as [string, ...string[]];
  return spawn(node, [...pre, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, NODE_OPTIONS: "", FORCE_COLOR: "0", ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Collects a child's output and exit status. */
export function finish(child: ChildProcess): Promise<CliResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on("data", (c: Buffer) => out.push(c));
  child.stderr?.on("data", (c: Buffer) => err.push(c));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out);
      resolve({ code, signal, stdout, out: stdout.toString("utf8"), err: Buffer.concat(err).toString("utf8") });
    });
  });
}

/** Runs the CLI to completion; `input` is written to its stdin (stdin is closed either way). */
export async function runCli(args: readonly string[], opts: { cwd: string; input?: string | Uint8Array; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  const child = spawnCli(args, opts);
  const done = finish(child);
  child.stdin?.on("error", () => undefined);
  child.stdin?.end(opts.input ?? "");
  return done;
}

/**
 * Runs the CLI in this process through `run(argv, io)`: the same code as the executable,
 * without the seconds a process start costs. Paths must be absolute (the working
 * directory is the test runner's).
 */
export async function runInProcess(args: readonly string[], opts: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<CliResult> {
  const { Readable, Writable } = await import("node:stream");
  const { run } = await import("../src/index.js");
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[]) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        into.push(Buffer.from(chunk));
        cb();
      },
    });
  const code = await run(args, {
    stdin: Readable.from(opts.input === undefined ? [] : [Buffer.from(opts.input)]),
    stdout: sink(out),
    stderr: sink(err),
    env: { ...process.env, ...opts.env },
    signal: opts.signal,
  });
  const stdout = Buffer.concat(out);
  return { code, signal: null, stdout, out: stdout.toString("utf8"), err: Buffer.concat(err).toString("utf8") };
}

/** util-linux `script`: runs a command on a pseudo-terminal, as a user's shell would, for the progress-bar tests. */
export const SCRIPT = "/usr/bin/script";

/**
 * Whether {@link SCRIPT} is installed. Without it the progress-bar tests are skipped by name
 * outside CI; under CI (`CI=true`) a missing `script` fails the test file, never a silent skip.
 */
export function ptyAvailable(): boolean {
  if (existsSync(SCRIPT)) return true;
  if (process.env.CI === "true") {
    throw new Error(`${SCRIPT} is not installed but CI=true: the progress-bar tests need a pty (apt-get install -y bsdutils, or util-linux)`);
  }
  return false;
}
