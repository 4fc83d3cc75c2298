import { type Command, Option } from "commander";
import { type CommandContext, DELETE_BATCH, out, positiveInt, printJSON, wantsLines } from "../context.js";
import { formatBytes, plural } from "../format.js";
import { createProgress, describeThroughput } from "../progress.js";
import { copyAcross, planSync, runPool } from "../sync.js";

/** `sync --from A --to B [PREFIX]`: copies new and changed values (streamed), optionally deletes extra keys. */
export function registerSync(program: Command, ctx: CommandContext): void {
  program
    .command("sync")
    .description("make the destination's keys under PREFIX match the source's: copy new and changed values (streamed), optionally delete extra keys")
    .argument("[prefix]", "only keys starting with this", "")
    .option("--from <file>", "config file of the source (default: --config, else ./storage.yaml, else ./data)")
    .requiredOption("--to <file>", "config file of the destination")
    .option("--delete", "delete destination keys under PREFIX that the source does not have")
    .option("-n, --dry-run", "print what would be copied and deleted, change nothing")
    .addOption(new Option("--concurrency <n>", "values in flight at once").argParser(positiveInt).default(8))
    .option("--no-progress", "no progress bar, even on a terminal")
    .option("-v, --verbose", "one line per object even on a terminal")
    .action(async (prefix: string, opts: { from?: string; to: string; delete?: boolean; dryRun?: boolean; concurrency: number; progress: boolean; verbose?: boolean }) => {
      const started = Date.now();
      const from = await ctx.open(opts.from ?? ctx.configFile());
      const to = await ctx.open(opts.to);
      const plan = await planSync(from, to, prefix, { delete: opts.delete === true, signal: ctx.signal });
      const lines = wantsLines(ctx, opts.verbose);
      const summary = {
        prefix,
        dryRun: opts.dryRun === true,
        copied: plan.copyObjects,
        copiedBytes: plan.copyBytes,
        deleted: plan.deleteObjects,
        unchanged: plan.unchanged,
        actions: plan.actions.map((a) => ({ op: a.op, key: a.key, size: a.size, ...(a.op === "copy" ? { reason: a.reason } : {}) })),
      };
      if (opts.dryRun) {
        if (ctx.json()) return printJSON(ctx, summary);
        for (const a of plan.actions) await out(ctx, a.op === "copy" ? `would copy ${a.key} (${formatBytes(a.size)}, ${a.reason})` : `would delete ${a.key}`);
        return out(
          ctx,
          `dry run: would copy ${plural(plan.copyObjects, "object")} (${formatBytes(plan.copyBytes)}), delete ${plan.deleteObjects}; ${plan.unchanged} unchanged`,
        );
      }
      const progress = createProgress(ctx.io.stderr, { enabled: opts.progress && !ctx.json(), label: "sync", objects: plan.actions.length, bytes: plan.copyBytes });
      try {
        const copies = plan.actions.filter((a) => a.op === "copy");
        await runPool(copies, opts.concurrency, ctx.signal, async (action, signal) => {
          let moved = 0;
          await copyAcross(from, action.key, to, action.key, {
            signal,
            onBytes: (n) => {
              moved += n;
              progress.partial(n);
            },
          });
          progress.advance(moved);
          if (lines) await out(ctx, `copied ${action.key} (${formatBytes(moved)})`);
        });
        const deletes = plan.actions.filter((a) => a.op === "delete").map((a) => a.key);
        for (let i = 0; i < deletes.length; i += DELETE_BATCH) {
          const batch = deletes.slice(i, i + DELETE_BATCH);
          await to.deleteMany(batch, { signal: ctx.signal });
          for (const key of batch) {
            progress.advance(0);
            if (lines) await out(ctx, `deleted ${key}`);
          }
        }
      } finally {
        progress.stop();
      }
      const elapsed = Date.now() - started;
      if (ctx.json()) return printJSON(ctx, { ...summary, elapsedMs: elapsed });
      await out(
        ctx,
        `synced ${prefix ? `"${prefix}" ` : ""}to ${opts.to}: ${plural(plan.copyObjects, "object")} copied (${formatBytes(plan.copyBytes)}), ` +
          `${plan.deleteObjects} deleted, ${plan.unchanged} unchanged ${describeThroughput(plan.copyBytes, elapsed)}`,
      );
    });
}
