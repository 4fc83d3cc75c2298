import type { Command } from "commander";
import { type CommandContext, infoJSON, out, printJSON } from "../context.js";
import { formatBytes, formatDate } from "../format.js";
import { listsStoredSizes, storedSize } from "../sizes.js";

/** `stat KEY [--stored]`: the value's info; `--stored` adds the size the backend holds. */
export function registerStat(program: Command, ctx: CommandContext): void {
  program
    .command("stat")
    .description("show size, last modified time, etag, content type and metadata of KEY")
    .argument("<key>", "the key")
    .option("--stored", "also show the size as stored by the backend (after compression, encryption)")
    .action(async (key: string, opts: { stored?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      const info = await storage.stat(key, { signal: ctx.signal });
      // Where listings report the values' sizes, the stored size is the same: no second call.
      const stored = opts.stored ? (listsStoredSizes(storage) ? await storedSize(storage, key, { signal: ctx.signal }) : info.size) : undefined;
      if (ctx.json()) return printJSON(ctx, { ...infoJSON(info), ...(stored !== undefined ? { storedSize: stored } : {}) });
      const rows: [string, string][] = [
        ["key", info.key],
        ["size", `${info.size} bytes (${formatBytes(info.size)})`],
        ...(stored !== undefined ? [["stored size", `${stored} bytes (${formatBytes(stored)})`] as [string, string]] : []),
        ["last modified", formatDate(info.lastModified)],
        ["etag", info.etag ?? "-"],
        ["content type", info.contentType],
        ["value type", info.valueType ?? "- (not written by this library)"],
        ["metadata", Object.keys(info.metadata).length ? Object.entries(info.metadata).map(([k, v]) => `${k}=${v}`).join(", ") : "-"],
        ["expires", info.expiresAt ? formatDate(info.expiresAt) : "never"],
      ];
      for (const [name, value] of rows) await out(ctx, `${`${name}:`.padEnd(15)}${value}`);
    });
}
