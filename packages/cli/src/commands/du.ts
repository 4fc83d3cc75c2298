import { type Command, Option } from "commander";
import { type CommandContext, nonNegativeInt, out, printJSON } from "../context.js";
import { diskUsage } from "../du.js";
import { formatBytes } from "../format.js";
import { logicalEntries } from "../sizes.js";

/** `du [PREFIX]`: objects and bytes per prefix; the values' sizes unless `--stored`. */
export function registerDu(program: Command, ctx: CommandContext): void {
  program
    .command("du")
    .description("count objects and bytes per prefix (monitor space)")
    .argument("[prefix]", "only keys starting with this", "")
    .addOption(new Option("-d, --depth <n>", "group by this many key segments below PREFIX (0: total only)").argParser(nonNegativeInt).default(1))
    .option("-b, --bytes", "exact byte counts instead of kB/MB/GB")
    .option("--stored", "bytes as stored by the backend (after compression, encryption: the space used) instead of the values' sizes")
    .action(async (prefix: string, opts: { depth: number; bytes?: boolean; stored?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      const listing = storage.iterate(prefix, { signal: ctx.signal });
      const report = await diskUsage(opts.stored ? listing : logicalEntries(storage, listing, ctx.signal), prefix, opts.depth);
      if (ctx.json()) return printJSON(ctx, { ...report, sizes: opts.stored ? "stored" : "logical" });
      const size = (n: number) => (opts.bytes ? String(n) : formatBytes(n));
      const row = (bytes: number, objects: number, label: string) => out(ctx, `${size(bytes).padStart(12)}  ${objects.toLocaleString("en-US").padStart(10)}  ${label}`);
      await out(ctx, `${(opts.stored ? "STORED" : "SIZE").padStart(12)}  ${"OBJECTS".padStart(10)}  PREFIX`);
      for (const g of report.groups) await row(g.bytes, g.objects, g.prefix || ".");
      await row(report.bytes, report.objects, `total${prefix ? ` (${prefix})` : ""}`);
    });
}
