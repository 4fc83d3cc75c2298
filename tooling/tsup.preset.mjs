// Shared tsup preset: every public package ships ESM + CJS + .d.ts from src/index.ts.
import { defineConfig } from "tsup";

/** @param {import("tsup").Options} [overrides] */
export function packageConfig(overrides = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: { compilerOptions: { composite: false, ignoreDeprecations: "6.0" } },
    sourcemap: true,
    clean: true,
    target: "node20",
    platform: "node",
    splitting: false,
    treeshake: true,
    ...overrides,
  });
}
