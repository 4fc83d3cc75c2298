import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Storage, StorageAbortedError, fromNodeError, isStorageError } from "@pepperpy/storage";
import { CommanderError } from "commander";
import { ExitCode, exitCodeFor } from "./exit-codes.js";
import { type CliIO, line, openStorage } from "./io.js";
import { buildProgram } from "./program.js";

function packageVersion(): string {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    return (JSON.parse(readFileSync(join(here, "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** One line, whatever the error message contains. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Runs `pepperpy-storage` with `argv` (the arguments after the program name) and resolves
 * to the exit code; it never calls `process.exit` and never rejects.
 *
 * Expected failures print one line to stderr — the `StorageError` message, which names the
 * operation, the key and the backend — and map to a distinct exit code per error class
 * (see `ExitCode`). Aborting `io.signal` stops in-flight operations and resolves to 130.
 *
 * @example
 * const code = await run(["ls", "--json"], { stdout: myWritable });
 */
export async function run(argv: readonly string[], options: Partial<CliIO> = {}): Promise<number> {
  const io: CliIO = {
    stdin: options.stdin ?? process.stdin,
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    env: options.env ?? process.env,
    signal: options.signal,
  };
  const signal = io.signal ?? new AbortController().signal;
  const opened: Storage[] = [];
  let program: ReturnType<typeof buildProgram> | undefined;
  const json = () => program?.opts<{ json?: boolean }>().json === true || argv.includes("--json");
  program = buildProgram(
    {
      io,
      signal,
      json,
      configFile: () => program?.opts<{ config?: string }>().config,
      async open(configFile) {
        const { storage } = await openStorage(configFile, io.env);
        opened.push(storage);
        return storage;
      },
    },
    packageVersion(),
  );

  let code: number = ExitCode.OK;
  try {
    if (signal.aborted) throw new StorageAbortedError("Operation aborted", { cause: signal.reason });
    await program.parseAsync([...argv], { from: "user" });
    if (signal.aborted) throw new StorageAbortedError("Operation aborted", { cause: signal.reason });
  } catch (error) {
    code = await report(error, io, signal, json());
  } finally {
    await Promise.allSettled(opened.map((s) => s.close()));
  }
  return code;
}

/** Prints one line for `error` and returns its exit code. */
async function report(error: unknown, io: CliIO, signal: AbortSignal, json: boolean): Promise<number> {
  // Commander has already printed its usage error (or the help / version it was asked for).
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  if (signal.aborted) {
    await line(io.stderr, json ? JSON.stringify({ error: { code: "ABORTED", message: "interrupted" } }) : "interrupted");
    return ExitCode.INTERRUPTED;
  }
  const errno = (error as { code?: unknown } | null)?.code;
  // The reader of stdout went away (`get big | head`): not a failure of this command.
  if (errno === "EPIPE") return ExitCode.OK;
  const mapped = isStorageError(error) ? error : typeof errno === "string" && /^E[A-Z]+$/.test(errno) ? fromNodeError(error) : undefined;
  if (mapped) {
    const message = oneLine(mapped.message);
    if (json) {
      await line(io.stderr, JSON.stringify({ error: { code: mapped.code, message, key: mapped.key ?? null, retryable: mapped.retryable } }));
    } else {
      await line(io.stderr, `error: ${message}`);
    }
    return exitCodeFor(mapped);
  }
  const message = oneLine(error instanceof Error ? error.message : String(error));
  if (json) await line(io.stderr, JSON.stringify({ error: { code: "INTERNAL", message } }));
  else await line(io.stderr, `error: ${message} (an unexpected error; set PEPPERPY_DEBUG=1 for details)`);
  if (io.env.PEPPERPY_DEBUG && error instanceof Error && error.stack) await line(io.stderr, error.stack);
  return ExitCode.INTERNAL;
}
