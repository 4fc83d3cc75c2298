/**
 * @packageDocumentation
 * `@pepperpy/storage-cli`: the `pepperpy-storage` command, and `run(argv)` to embed it
 * (tests, other tools) without spawning a process.
 *
 * @module @pepperpy/storage-cli
 */
export { run } from "./run.js";
export { ExitCode, type ExitCodeValue, exitCodeFor } from "./exit-codes.js";
export { type CliIO, DEFAULT_CONFIG_FILE, DEFAULT_DATA_DIR, resolveCliConfig } from "./io.js";
export { type SyncAction, type SyncPlan, copyAcross, planSync } from "./sync.js";
export { type UsageGroup, type UsageReport, diskUsage } from "./du.js";
export { formatBytes, parseAge } from "./format.js";
