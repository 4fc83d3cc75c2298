import type { ListEntry, Storage } from "@pepperpy/storage";
import { type Command, InvalidArgumentError } from "commander";
import { type CommandContext, DELETE_BATCH, out, printJSON, wantsLines } from "../context.js";
import { formatBytes, formatDate, parseAge, plural } from "../format.js";

/** Commander parser of `--older-than`. */
function ageOption(value: string): { text: string; ms: number } {
  try {
    return { text: value, ms: parseAge(value) };
  } catch {
    throw new InvalidArgumentError("expected a number and a unit, such as 30d, 12h, 90m or 2w (units: ms, s, m, h, d, w)");
  }
}

/** What `prune` selects: a test per listed entry. Add a criterion here and a flag below. */
export interface PruneCriteria {
  /** Entries last modified before this instant. */
  modifiedBefore?: Date | undefined;
}

/** The entries under `prefix` that `criteria` selects, in key order. */
export async function selectPrunable(storage: Storage, prefix: string, criteria: PruneCriteria, signal: AbortSignal): Promise<ListEntry[]> {
  const selected: ListEntry[] = [];
  const before = criteria.modifiedBefore?.getTime();
  for await (const entry of storage.iterate(prefix, { signal })) {
    if (before !== undefined && entry.lastModified.getTime() < before) selected.push(entry);
  }
  return selected;
}

/** Deletes `entries` in batches; `onDeleted` sees each batch once it is gone. */
export async function deleteEntries(storage: Storage, entries: readonly ListEntry[], signal: AbortSignal, onDeleted: (batch: readonly ListEntry[]) => Promise<void>): Promise<void> {
  for (let i = 0; i < entries.length; i += DELETE_BATCH) {
    const batch = entries.slice(i, i + DELETE_BATCH);
    await storage.deleteMany(
      batch.map((e) => e.key),
      { signal },
    );
    await onDeleted(batch);
  }
}

/** `prune --older-than AGE [PREFIX]` deletes old objects; `prune --expired [PREFIX]` expired ones (clean old data). */
export function registerPrune(program: Command, ctx: CommandContext): void {
  program
    .command("prune")
    .description("delete objects under PREFIX last modified before the given age, or whose expiry deadline has passed (clean old data)")
    .argument("[prefix]", "only keys starting with this", "")
    .option("--older-than <age>", "age such as 30d, 12h, 90m, 2w (a unit is required)", ageOption)
    .option("--expired", "delete the keys whose expiry deadline (put with ttl / default_ttl) has passed")
    .option("-n, --dry-run", "print what would be deleted, delete nothing")
    .option("-v, --verbose", "one line per object even on a terminal")
    .action(async (prefix: string, opts: { olderThan?: { text: string; ms: number }; expired?: boolean; dryRun?: boolean; verbose?: boolean }, cmd: Command) => {
      if (opts.expired) {
        if (opts.olderThan) cmd.error("error: --expired and --older-than cannot be combined (run prune twice)");
        if (opts.dryRun) cmd.error("error: --expired cannot be combined with --dry-run (expired keys are already absent to every read)");
        const storage = await ctx.open(ctx.configFile());
        const objects = await storage.purgeExpired(prefix, { signal: ctx.signal });
        if (ctx.json()) return printJSON(ctx, { prefix, expired: true, objects });
        return out(ctx, `purged ${plural(objects, "expired object")}${prefix ? ` under "${prefix}"` : ""}`);
      }
      if (!opts.olderThan) return cmd.error("error: required option '--older-than <age>' not specified (or --expired)");
      const olderThan = opts.olderThan;
      const storage = await ctx.open(ctx.configFile());
      const cutoff = new Date(Date.now() - olderThan.ms);
      const old = await selectPrunable(storage, prefix, { modifiedBefore: cutoff }, ctx.signal);
      const bytes = old.reduce((n, e) => n + e.size, 0);
      const lines = opts.dryRun ? !ctx.json() : wantsLines(ctx, opts.verbose);
      if (!opts.dryRun) {
        await deleteEntries(storage, old, ctx.signal, async (batch) => {
          if (lines) for (const e of batch) await out(ctx, `deleted ${e.key} (${formatDate(e.lastModified)})`);
        });
      } else if (lines) {
        for (const e of old) await out(ctx, `would delete ${e.key} (${formatDate(e.lastModified)}, ${formatBytes(e.size)})`);
      }
      if (ctx.json()) {
        return printJSON(ctx, {
          prefix,
          olderThan: olderThan.text,
          cutoff: cutoff.toISOString(),
          dryRun: opts.dryRun === true,
          objects: old.length,
          bytes,
          keys: old.map((e) => e.key),
        });
      }
      await out(
        ctx,
        `${opts.dryRun ? "dry run: would delete" : "pruned"} ${plural(old.length, "object")} (${formatBytes(bytes)}) ` +
          `last modified before ${formatDate(cutoff)} (older than ${olderThan.text})`,
      );
    });
}
