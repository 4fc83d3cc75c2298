import { Command } from "commander";
import { registerCp } from "./commands/cp.js";
import { registerDu } from "./commands/du.js";
import { registerGet } from "./commands/get.js";
import { registerLs } from "./commands/ls.js";
import { registerPrune } from "./commands/prune.js";
import { registerPut } from "./commands/put.js";
import { registerRm } from "./commands/rm.js";
import { registerStat } from "./commands/stat.js";
import { registerSync } from "./commands/sync.js";
import type { CommandContext } from "./context.js";
import { describeExitCodes } from "./exit-codes.js";

export type { CommandContext } from "./context.js";

/** Builds the `pepperpy-storage` program. Actions throw; `run` turns errors into one line and an exit code. */
export function buildProgram(ctx: CommandContext, version: string): Command {
  const { io } = ctx;

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

${describeExitCodes()}`,
    );

  // One module per command (src/commands/*.ts); the order here is the order of --help.
  for (const register of [registerPut, registerGet, registerLs, registerRm, registerStat, registerCp, registerSync, registerDu, registerPrune]) {
    register(program, ctx);
  }

  return program;
}

