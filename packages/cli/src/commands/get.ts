import { createWriteStream } from "node:fs";
import { access, constants, rename, rm, stat as statFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageNotFoundError, isStorageError, readEntryStream } from "@pepperpy/storage";
import type { Command } from "commander";
import { type CommandContext, out, outputFileError, printJSON } from "../context.js";
import { formatBytes } from "../format.js";
import { counted, isTerminal } from "../io.js";
import { createTransferProgress } from "../progress.js";

/**
 * Checks `-o FILE` before anything is read: its directory exists and is writable, and
 * `FILE` is not a directory. Throws the error `outputFileError` makes for the first problem.
 */
async function checkOutputPath(target: string): Promise<void> {
  const dir = dirname(target);
  try {
    const d = await statFile(dir);
    if (!d.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    await access(dir, constants.W_OK);
  } catch (error) {
    throw outputFileError(error, target, "get");
  }
  const existing = await statFile(target).catch(() => undefined);
  if (existing?.isDirectory()) throw outputFileError(Object.assign(new Error("is a directory"), { code: "EISDIR" }), target, "get");
}

/** `get KEY [-o FILE]`: streams a value to stdout or, atomically, to a file. */
export function registerGet(program: Command, ctx: CommandContext): void {
  program
    .command("get")
    .description("write the value of KEY to stdout (raw bytes), or to a file with -o (streamed)")
    .argument("<key>", "the key to read")
    .option("-o, --output <file>", "write to FILE (atomically: a temp file renamed when complete)")
    .option("--no-progress", "no progress bar, even on a terminal")
    .action(async (key: string, opts: { output?: string; progress: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      if (opts.output) await checkOutputPath(opts.output);
      const { info, stream } = await readEntryStream(storage, key, { signal: ctx.signal }, "get").catch((error: unknown) => {
        // Named as the user's command, not the library call behind it.
        if (error instanceof StorageNotFoundError) throw new StorageNotFoundError("Key not found", { key, operation: "get", backend: error.backend, cause: error });
        throw error;
      });
      // A bar on a terminal stderr, unless the value itself is going to that terminal.
      const enabled = opts.progress && !ctx.json() && (opts.output !== undefined || !isTerminal(ctx.io.stdout));
      const progress = createTransferProgress(ctx.io.stderr, { enabled, label: `get ${key}`, total: info.size });
      const source = Readable.from(
        counted(stream as AsyncIterable<Uint8Array>, (n) => progress.add(n)),
        { objectMode: false },
      );
      try {
        if (!opts.output) {
          await pipeline(source, ctx.io.stdout, { end: false, signal: ctx.signal });
          return;
        }
        const target = opts.output;
        const temp = join(dirname(target), `.${basename(target)}.pepperpy-${process.pid}.tmp`);
        try {
          await pipeline(source, createWriteStream(temp), { signal: ctx.signal });
          await rename(temp, target);
        } catch (error) {
          await rm(temp, { force: true });
          if (ctx.signal.aborted || (error as { code?: string }).code === undefined) throw error;
          // Errors of the stored value (integrity, I/O) are already storage errors.
          if (isStorageError(error)) throw error;
          throw outputFileError(error, target, "get");
        }
      } finally {
        progress.stop();
        if (!stream.destroyed) stream.destroy();
      }
      const { size } = await statFile(opts.output);
      if (ctx.json()) await printJSON(ctx, { key, size, file: opts.output });
      else await out(ctx, `wrote ${key} to ${opts.output} (${formatBytes(size)})`);
    });
}
