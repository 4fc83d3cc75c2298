import { packageConfig } from "../../tooling/tsup.preset.mjs";

// shims: the CJS build needs import.meta.url to find better-sqlite3 for the worker thread.
export default packageConfig({ shims: true });
