import { packageConfig } from "../../tooling/tsup.preset.mjs";

// Two builds: the library (`run`, ESM + CJS + types) and the executable (ESM, with a shebang).
export default [
  packageConfig({ shims: true }),
  packageConfig({
    entry: { cli: "src/cli.ts" },
    format: ["esm"],
    dts: false,
    clean: false,
    banner: { js: "#!/usr/bin/env node" },
  }),
];
