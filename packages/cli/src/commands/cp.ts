import type { Command } from "commander";
import { type CommandContext, out, printJSON } from "../context.js";
import { createTransferProgress } from "../progress.js";
import { copyAcross } from "../sync.js";

/**
 * `cp SRC DST [--to FILE]`. Inside one storage that copies on the server (files, S3, memory,
 * compression over them) the bytes never pass through this process; otherwise (across
 * storages, or through encryption, which must re-encrypt) the value streams, one chunk at
 * a time, with a progress bar on a terminal.
 */
export function registerCp(program: Command, ctx: CommandContext): void {
  program
    .command("cp")
    .description("copy SRC to DST in the same storage (server-side where it can), or into another storage with --to (streamed)")
    .argument("<src>", "source key")
    .argument("<dst>", "destination key")
    .option("--to <file>", "config file of the destination storage (default: the same storage)")
    .option("--no-progress", "no progress bar, even on a terminal")
    .action(async (src: string, dst: string, opts: { to?: string; progress: boolean }) => {
      const from = await ctx.open(ctx.configFile());
      const to = opts.to ? await ctx.open(opts.to) : from;
      if (to === from && from.capabilities.serverSideCopy) {
        // A large value may take longer than the per-operation timeout; Ctrl-C still stops it.
        await from.copy(src, dst, { signal: ctx.signal, timeout: 0 });
      } else {
        let progress: ReturnType<typeof createTransferProgress> | undefined;
        try {
          await copyAcross(from, src, to, dst, {
            signal: ctx.signal,
            onOpen: (info) => {
              progress = createTransferProgress(ctx.io.stderr, { enabled: opts.progress && !ctx.json(), label: `cp ${src}`, total: info.size });
            },
            onBytes: (n) => progress?.add(n),
          });
        } finally {
          progress?.stop();
        }
      }
      if (ctx.json()) await printJSON(ctx, { from: src, to: dst, ...(opts.to ? { toConfig: opts.to } : {}) });
      else await out(ctx, `copied ${src} to ${dst}${opts.to ? ` in ${opts.to}` : ""}`);
    });
}
