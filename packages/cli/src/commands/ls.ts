import type { Command } from "commander";
import { type CommandContext, out } from "../context.js";
import { formatDate } from "../format.js";
import { write } from "../io.js";
import { logicalEntries } from "../sizes.js";

/** `ls [PREFIX] [--long] [--stored]`: keys in order; sizes are the values' sizes unless `--stored`. */
export function registerLs(program: Command, ctx: CommandContext): void {
  program
    .command("ls")
    .description("list keys starting with PREFIX, sorted")
    .argument("[prefix]", "only keys starting with this (a plain string prefix)", "")
    .option("-l, --long", "show size in bytes and last modified time (UTC)")
    .option("--stored", "sizes as stored by the backend (after compression, encryption) instead of the values' sizes")
    .action(async (prefix: string, opts: { long?: boolean; stored?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      const { io } = ctx;
      const listing = storage.iterate(prefix, { signal: ctx.signal });
      // Plain keys need no sizes: no stat per key.
      const wantsSizes = ctx.json() || opts.long === true;
      const entries = wantsSizes && !opts.stored ? logicalEntries(storage, listing, ctx.signal) : listing;
      let first = true;
      if (ctx.json()) await write(io.stdout, "[");
      for await (const entry of entries) {
        if (ctx.json()) {
          await write(io.stdout, `${first ? "" : ","}\n${JSON.stringify({ key: entry.key, size: entry.size, lastModified: entry.lastModified.toISOString(), etag: entry.etag ?? null })}`);
        } else if (opts.long) {
          await out(ctx, `${String(entry.size).padStart(12)}  ${formatDate(entry.lastModified)}  ${entry.key}`);
        } else {
          await out(ctx, entry.key);
        }
        first = false;
      }
      if (ctx.json()) await write(io.stdout, `${first ? "" : "\n"}]\n`);
    });
}
