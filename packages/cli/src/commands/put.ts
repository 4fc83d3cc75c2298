import { createReadStream } from "node:fs";
import { stat as statFile } from "node:fs/promises";
import { basename } from "node:path";
import { contentTypeFromKey } from "@pepperpy/storage";
import type { Command } from "commander";
import { type CommandContext, infoJSON, inputFileError, metadataOption, out, printJSON } from "../context.js";
import { formatBytes } from "../format.js";
import { abortable, counted } from "../io.js";
import { createTransferProgress } from "../progress.js";

/** `put KEY FILE|-`: stores a file or stdin, streamed (memory stays bounded whatever the size). */
export function registerPut(program: Command, ctx: CommandContext): void {
  program
    .command("put")
    .description("store a file, or stdin with -, under KEY (streamed: any size, bounded memory)")
    .argument("<key>", "the key to write, such as docs/readme.md")
    .argument("<file>", "a local file, or - to read stdin")
    .option("-t, --content-type <type>", "MIME type to record (default: from the key's or the file's extension)")
    .option("-m, --metadata <name=value>", "user metadata; repeat for more", metadataOption, {} as Record<string, string>)
    .option("--if-not-exists", "fail with a conflict (exit 7) if the key already exists")
    .option("--no-progress", "no progress bar, even on a terminal")
    .action(async (key: string, file: string, opts: { contentType?: string; metadata: Record<string, string>; ifNotExists?: boolean; progress: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      let source: AsyncIterable<Uint8Array>;
      let total: number | undefined;
      if (file === "-") source = ctx.io.stdin as AsyncIterable<Uint8Array>;
      else {
        try {
          const s = await statFile(file);
          if (s.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
          total = s.size;
        } catch (error) {
          throw inputFileError(error, file, "put");
        }
        source = createReadStream(file);
      }
      let contentType = opts.contentType ?? contentTypeFromKey(key);
      if (opts.contentType === undefined && contentType === "application/octet-stream" && file !== "-") contentType = contentTypeFromKey(basename(file));
      const progress = createTransferProgress(ctx.io.stderr, { enabled: opts.progress && !ctx.json(), label: `put ${key}`, total });
      let info: Awaited<ReturnType<typeof storage.put>>;
      try {
        info = await storage.put(key, counted(abortable(source, ctx.signal), (n) => progress.add(n)), {
          signal: ctx.signal,
          // Streams can be large: no per-operation timeout, Ctrl-C stops it.
          timeout: 0,
          contentType,
          metadata: opts.metadata,
          ...(opts.ifNotExists ? { ifNoneMatch: "*" as const } : {}),
        });
      } finally {
        progress.stop();
      }
      if (ctx.json()) await printJSON(ctx, infoJSON(info));
      else await out(ctx, `stored ${key} (${formatBytes(info.size)})`);
    });
}
