import { defineConfig } from "vitest/config";
import { workspaceAliases } from "./tooling/vitest.preset.js";

const aliases = workspaceAliases(import.meta.dirname);
// CI (.ci/run) asks for a JSON report beside the usual output, to count passes and failures.
const jsonReport = process.env.PEPPERPY_TEST_JSON;

export default defineConfig({
  resolve: {
    // Longest names first so "@pepperpy/storage-fs" wins over "@pepperpy/storage".
    alias: Object.entries(aliases)
      .sort((a, b) => b[0].length - a[0].length)
      .map(([find, replacement]) => ({ find: new RegExp(`^${find}$`), replacement })),
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts", "tooling/**/*.test.ts", "bench/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    ...(jsonReport ? { reporters: ["default", "json"], outputFile: { json: jsonReport } } : {}),
  },
});
