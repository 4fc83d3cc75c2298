import { StorageNotFoundError, StorageValidationError, mapLimit } from "@pepperpy/storage";
import type { Command } from "commander";
import { type CommandContext, DELETE_BATCH, out, printJSON } from "../context.js";

/** `exists` calls in flight while `rm` checks which keys are there. */
const EXISTS_CONCURRENCY = 16;

/**
 * `rm KEY...` / `rm -r PREFIX...`. Deleting is idempotent in the library, but a person who
 * types a key expects to hear when it was not there: a missing key is reported (exit 3,
 * after the others are deleted) unless `--force`, as `rm` does.
 */
export function registerRm(program: Command, ctx: CommandContext): void {
  program
    .command("rm")
    .description("delete keys; a missing key is reported (exit 3) unless --force")
    .argument("<keys...>", "keys to delete; with -r, prefixes")
    .option("-r, --recursive", "delete every key under each PREFIX (an empty prefix is refused)")
    .option("-f, --force", "missing keys are not an error")
    .action(async (keys: string[], opts: { recursive?: boolean; force?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      const deleted: string[] = [];
      const missing: string[] = [];
      let targets = keys;
      if (opts.recursive) {
        if (keys.some((k) => k === "")) throw new StorageValidationError("Refusing to delete every key: rm -r needs a non-empty prefix", { operation: "rm" });
        targets = [];
        for (const prefix of keys) {
          const found = await storage.list(prefix, { signal: ctx.signal });
          if (found.length === 0) missing.push(prefix);
          targets.push(...found);
        }
      }
      for (let i = 0; i < targets.length; i += DELETE_BATCH) {
        let batch = [...new Set(targets.slice(i, i + DELETE_BATCH))];
        if (!opts.recursive) {
          const present = await mapLimit(batch, EXISTS_CONCURRENCY, (key) => storage.exists(key, { signal: ctx.signal }));
          missing.push(...batch.filter((_, j) => !present[j]));
          batch = batch.filter((_, j) => present[j]);
        }
        if (batch.length === 0) continue;
        await storage.deleteMany(batch, { signal: ctx.signal });
        deleted.push(...batch);
        if (!ctx.json()) for (const key of batch) await out(ctx, `deleted ${key}`);
      }
      if (ctx.json()) await printJSON(ctx, { deleted, missing });
      if (missing.length > 0 && !opts.force) {
        const single = missing.length === 1 && !opts.recursive;
        const detail = single
          ? "Key not found, nothing to delete"
          : `${opts.recursive ? "No keys under" : "Keys not found:"} ${missing.map((k) => JSON.stringify(k)).join(", ")}, nothing to delete`;
        throw new StorageNotFoundError(detail, { operation: "rm", backend: storage.name, ...(single ? { key: missing[0] } : {}) });
      }
    });
}
