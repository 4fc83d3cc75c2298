import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat as statFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import {
  type ObjectInfo,
  type Storage,
  StorageNotFoundError,
  StorageValidationError,
  contentTypeFromKey,
  fromNodeError,
} from "@pepperpy/storage";
import { Command, InvalidArgumentError, Option } from "commander";
import { diskUsage } from "./du.js";
import { formatBytes, formatDate, parseAge, plural } from "./format.js";
import { type CliIO, abortable, isTerminal, line, write } from "./io.js";
import { createProgress, describeThroughput } from "./progress.js";
import { copyAcross, planSync, runPool } from "./sync.js";

/** What every command action gets: the streams, the global options and the stop signal. */
export interface CommandContext {
  io: CliIO;
  /** Aborted on Ctrl-C or by the embedder's signal. */
  signal: AbortSignal;
  /** Opens the storage of a config file (or the default); closed when the command ends. */
  open(configFile?: string | undefined): Promise<Storage>;
  /** `--json` was given. */
  json(): boolean;
  /** `--config`, if given. */
  configFile(): string | undefined;
}

const DELETE_BATCH = 1000;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected 0 or a positive integer");
  return n;
}

function ageOption(value: string): { text: string; ms: number } {
  try {
    return { text: value, ms: parseAge(value) };
  } catch {
    throw new InvalidArgumentError("expected a number and a unit, such as 30d, 12h, 90m or 2w (units: ms, s, m, h, d, w)");
  }
}

function metadataOption(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError("expected NAME=VALUE");
  return { ...previous, [value.slice(0, eq).toLowerCase()]: value.slice(eq + 1) };
}

/** The JSON form of an object's info (dates as ISO strings). */
function infoJSON(info: ObjectInfo): Record<string, unknown> {
  return {
    key: info.key,
    size: info.size,
    lastModified: info.lastModified.toISOString(),
    etag: info.etag ?? null,
    contentType: info.contentType,
    valueType: info.valueType ?? null,
    metadata: info.metadata,
    expiresAt: info.expiresAt?.toISOString() ?? null,
  };
}

/** Local file errors (a missing input file, an unwritable output) as storage errors, naming the file. */
function localFileError(error: unknown, file: string, operation: string): Error {
  const mapped = fromNodeError(error, { operation });
  const code = (error as { code?: string }).code;
  if (code === "ENOENT") return new StorageNotFoundError(`File not found: ${file}`, { operation, cause: error });
  if (code === "EISDIR") return new StorageValidationError(`${file} is a directory, not a file`, { operation, cause: error });
  return Object.assign(mapped, { message: `${file}: ${mapped.message}` });
}

/** Per-object lines go to stdout when it is not a terminal (scripts, logs) or with `--verbose`. */
function wantsLines(ctx: CommandContext, verbose: boolean | undefined): boolean {
  return !ctx.json() && (verbose === true || !isTerminal(ctx.io.stdout));
}

/** Builds the `pepperpy-storage` program. Actions throw; `run` turns errors into one line and an exit code. */
export function buildProgram(ctx: CommandContext, version: string): Command {
  const { io } = ctx;
  const out = (text: string) => line(io.stdout, text);
  const json = (value: unknown) => line(io.stdout, JSON.stringify(value));

  const program = new Command()
    .name("pepperpy-storage")
    .description("Store, read, list, copy and sync values in any @pepperpy/storage backend (files, memory, S3) from the shell.")
    .version(version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .option("-c, --config <file>", "storage config file (YAML with a storage: section); default ./storage.yaml, else files under ./data")
    .option("--json", "machine-readable output: one JSON document on stdout, errors as one JSON line on stderr")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      "after",
      `
Examples:
  $ pepperpy-storage put notes/today.txt ./today.txt
  $ echo hello | pepperpy-storage put greetings/hello.txt -
  $ pepperpy-storage get notes/today.txt -o copy.txt
  $ pepperpy-storage ls notes/ --long
  $ pepperpy-storage sync --from local.yaml --to s3.yaml backups/ --delete
  $ pepperpy-storage du --depth 2
  $ pepperpy-storage prune --older-than 30d logs/ --dry-run
  $ pepperpy-storage prune --expired sessions/

Exit codes: 0 ok, 1 internal error, 2 usage, 3 not found, 4 invalid key or value,
5 config, 6 permission, 7 conflict, 8 integrity, 9 unavailable, 10 timeout,
11 out of space, 12 unsupported, 13 partial write, 14 I/O, 130 interrupted.`,
    );

  program
    .command("put")
    .description("store a file, or stdin with -, under KEY (streamed: any size)")
    .argument("<key>", "the key to write, such as docs/readme.md")
    .argument("<file>", "a local file, or - to read stdin")
    .option("-t, --content-type <type>", "MIME type to record (default: from the key's or the file's extension)")
    .option("-m, --metadata <name=value>", "user metadata; repeat for more", metadataOption, {} as Record<string, string>)
    .option("--if-not-exists", "fail with a conflict (exit 7) if the key already exists")
    .action(async (key: string, file: string, opts: { contentType?: string; metadata: Record<string, string>; ifNotExists?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      let source: NodeJS.ReadableStream;
      if (file === "-") source = io.stdin;
      else {
        try {
          const s = await statFile(file);
          if (s.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
        } catch (error) {
          throw localFileError(error, file, "put");
        }
        source = createReadStream(file);
      }
      let contentType = opts.contentType ?? contentTypeFromKey(key);
      if (opts.contentType === undefined && contentType === "application/octet-stream" && file !== "-") contentType = contentTypeFromKey(basename(file));
      const info = await storage.put(key, abortable(source as AsyncIterable<Uint8Array>, ctx.signal), {
        signal: ctx.signal,
        // Streams can be large: no per-operation timeout, Ctrl-C stops it.
        timeout: 0,
        contentType,
        metadata: opts.metadata,
        ...(opts.ifNotExists ? { ifNoneMatch: "*" as const } : {}),
      });
      if (ctx.json()) await json(infoJSON(info));
      else await out(`stored ${key} (${formatBytes(info.size)})`);
    });

  program
    .command("get")
    .description("write the value of KEY to stdout (raw bytes), or to a file with -o")
    .argument("<key>", "the key to read")
    .option("-o, --output <file>", "write to FILE (atomically: a temp file renamed when complete)")
    .action(async (key: string, opts: { output?: string }) => {
      const storage = await ctx.open(ctx.configFile());
      const stream = await storage.getStream(key, { signal: ctx.signal });
      if (!opts.output) {
        await pipeline(stream, io.stdout, { end: false, signal: ctx.signal });
        return;
      }
      const target = opts.output;
      const temp = join(dirname(target), `.${basename(target)}.pepperpy-${process.pid}.tmp`);
      try {
        await pipeline(stream, createWriteStream(temp), { signal: ctx.signal });
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true });
        if (ctx.signal.aborted || (error as { code?: string }).code === undefined) throw error;
        throw localFileError(error, target, "get");
      } finally {
        if (!stream.destroyed) stream.destroy();
      }
      const { size } = await statFile(target);
      if (ctx.json()) await json({ key, size, file: target });
      else await out(`wrote ${key} to ${target} (${formatBytes(size)})`);
    });

  program
    .command("ls")
    .description("list keys starting with PREFIX, sorted")
    .argument("[prefix]", "only keys starting with this (a plain string prefix)", "")
    .option("-l, --long", "show size in bytes and last modified time (UTC)")
    .action(async (prefix: string, opts: { long?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      let first = true;
      if (ctx.json()) await write(io.stdout, "[");
      for await (const entry of storage.iterate(prefix, { signal: ctx.signal })) {
        if (ctx.json()) {
          await write(io.stdout, `${first ? "" : ","}\n${JSON.stringify({ key: entry.key, size: entry.size, lastModified: entry.lastModified.toISOString(), etag: entry.etag ?? null })}`);
        } else if (opts.long) {
          await out(`${String(entry.size).padStart(12)}  ${formatDate(entry.lastModified)}  ${entry.key}`);
        } else {
          await out(entry.key);
        }
        first = false;
      }
      if (ctx.json()) await write(io.stdout, `${first ? "" : "\n"}]\n`);
    });

  program
    .command("rm")
    .description("delete keys (deleting a missing key succeeds)")
    .argument("<keys...>", "keys to delete; with -r, prefixes")
    .option("-r, --recursive", "delete every key under each PREFIX (an empty prefix is refused)")
    .action(async (keys: string[], opts: { recursive?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      let targets = keys;
      if (opts.recursive) {
        if (keys.some((k) => k === "")) throw new StorageValidationError("Refusing to delete every key: rm -r needs a non-empty prefix", { operation: "rm" });
        targets = [];
        for (const prefix of keys) targets.push(...(await storage.list(prefix, { signal: ctx.signal })));
      }
      for (let i = 0; i < targets.length; i += DELETE_BATCH) {
        const batch = targets.slice(i, i + DELETE_BATCH);
        await storage.deleteMany(batch, { signal: ctx.signal });
        if (!ctx.json()) for (const key of batch) await out(`deleted ${key}`);
      }
      if (ctx.json()) await json({ deleted: targets });
    });

  program
    .command("stat")
    .description("show size, last modified time, etag, content type and metadata of KEY")
    .argument("<key>", "the key")
    .action(async (key: string) => {
      const storage = await ctx.open(ctx.configFile());
      const info = await storage.stat(key, { signal: ctx.signal });
      if (ctx.json()) return json(infoJSON(info));
      const rows: [string, string][] = [
        ["key", info.key],
        ["size", `${info.size} bytes (${formatBytes(info.size)})`],
        ["last modified", formatDate(info.lastModified)],
        ["etag", info.etag ?? "-"],
        ["content type", info.contentType],
        ["value type", info.valueType ?? "- (not written by this library)"],
        ["metadata", Object.keys(info.metadata).length ? Object.entries(info.metadata).map(([k, v]) => `${k}=${v}`).join(", ") : "-"],
        ["expires", info.expiresAt ? formatDate(info.expiresAt) : "never"],
      ];
      for (const [name, value] of rows) await out(`${`${name}:`.padEnd(15)}${value}`);
    });

  program
    .command("cp")
    .description("copy SRC to DST in the same storage (server-side where it can), or into another storage with --to")
    .argument("<src>", "source key")
    .argument("<dst>", "destination key")
    .option("--to <file>", "config file of the destination storage (default: the same storage)")
    .action(async (src: string, dst: string, opts: { to?: string }) => {
      const from = await ctx.open(ctx.configFile());
      if (opts.to) {
        const to = await ctx.open(opts.to);
        await copyAcross(from, src, to, dst, { signal: ctx.signal });
      } else {
        await from.copy(src, dst, { signal: ctx.signal });
      }
      if (ctx.json()) await json({ from: src, to: dst, ...(opts.to ? { toConfig: opts.to } : {}) });
      else await out(`copied ${src} to ${dst}${opts.to ? ` in ${opts.to}` : ""}`);
    });

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
        if (ctx.json()) return json(summary);
        for (const a of plan.actions) await out(a.op === "copy" ? `would copy ${a.key} (${formatBytes(a.size)}, ${a.reason})` : `would delete ${a.key}`);
        return out(
          `dry run: would copy ${plural(plan.copyObjects, "object")} (${formatBytes(plan.copyBytes)}), delete ${plan.deleteObjects}; ${plan.unchanged} unchanged`,
        );
      }
      const progress = createProgress(io.stderr, { enabled: opts.progress && !ctx.json(), label: "sync", objects: plan.actions.length, bytes: plan.copyBytes });
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
          if (lines) await out(`copied ${action.key} (${formatBytes(moved)})`);
        });
        const deletes = plan.actions.filter((a) => a.op === "delete").map((a) => a.key);
        for (let i = 0; i < deletes.length; i += DELETE_BATCH) {
          const batch = deletes.slice(i, i + DELETE_BATCH);
          await to.deleteMany(batch, { signal: ctx.signal });
          for (const key of batch) {
            progress.advance(0);
            if (lines) await out(`deleted ${key}`);
          }
        }
      } finally {
        progress.stop();
      }
      const elapsed = Date.now() - started;
      if (ctx.json()) return json({ ...summary, elapsedMs: elapsed });
      await out(
        `synced ${prefix ? `"${prefix}" ` : ""}to ${opts.to}: ${plural(plan.copyObjects, "object")} copied (${formatBytes(plan.copyBytes)}), ` +
          `${plan.deleteObjects} deleted, ${plan.unchanged} unchanged ${describeThroughput(plan.copyBytes, elapsed)}`,
      );
    });

  program
    .command("du")
    .description("count objects and bytes per prefix (monitor space)")
    .argument("[prefix]", "only keys starting with this", "")
    .addOption(new Option("-d, --depth <n>", "group by this many key segments below PREFIX (0: total only)").argParser(nonNegativeInt).default(1))
    .option("-b, --bytes", "exact byte counts instead of kB/MB/GB")
    .action(async (prefix: string, opts: { depth: number; bytes?: boolean }) => {
      const storage = await ctx.open(ctx.configFile());
      const report = await diskUsage(storage.iterate(prefix, { signal: ctx.signal }), prefix, opts.depth);
      if (ctx.json()) return json(report);
      const size = (n: number) => (opts.bytes ? String(n) : formatBytes(n));
      const row = (bytes: number, objects: number, label: string) => out(`${size(bytes).padStart(12)}  ${objects.toLocaleString("en-US").padStart(10)}  ${label}`);
      await out(`${"SIZE".padStart(12)}  ${"OBJECTS".padStart(10)}  PREFIX`);
      for (const g of report.groups) await row(g.bytes, g.objects, g.prefix || ".");
      await row(report.bytes, report.objects, `total${prefix ? ` (${prefix})` : ""}`);
    });

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
        if (ctx.json()) return json({ prefix, expired: true, objects });
        return out(`purged ${plural(objects, "expired object")}${prefix ? ` under "${prefix}"` : ""}`);
      }
      if (!opts.olderThan) return cmd.error("error: required option '--older-than <age>' not specified (or --expired)");
      const olderThan = opts.olderThan;
      const storage = await ctx.open(ctx.configFile());
      const cutoff = new Date(Date.now() - olderThan.ms);
      const old: { key: string; size: number; lastModified: Date }[] = [];
      for await (const entry of storage.iterate(prefix, { signal: ctx.signal })) {
        if (entry.lastModified.getTime() < cutoff.getTime()) old.push(entry);
      }
      const bytes = old.reduce((n, e) => n + e.size, 0);
      const lines = opts.dryRun ? !ctx.json() : wantsLines(ctx, opts.verbose);
      if (!opts.dryRun) {
        for (let i = 0; i < old.length; i += DELETE_BATCH) {
          const batch = old.slice(i, i + DELETE_BATCH);
          await storage.deleteMany(
            batch.map((e) => e.key),
            { signal: ctx.signal },
          );
          if (lines) for (const e of batch) await out(`deleted ${e.key} (${formatDate(e.lastModified)})`);
        }
      } else if (lines) {
        for (const e of old) await out(`would delete ${e.key} (${formatDate(e.lastModified)}, ${formatBytes(e.size)})`);
      }
      if (ctx.json()) {
        return json({
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
        `${opts.dryRun ? "dry run: would delete" : "pruned"} ${plural(old.length, "object")} (${formatBytes(bytes)}) ` +
          `last modified before ${formatDate(cutoff)} (older than ${olderThan.text})`,
      );
    });

  return program;
}

