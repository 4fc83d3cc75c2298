// Module hooks: resolve `./x.js` to `./x.ts` when only the .ts exists, and compile .ts
// files with esbuild (ESM, no keepNames, inline source maps for --cpu-prof).
import { readFile } from "node:fs/promises";
import { transform } from "esbuild";

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND" && /^\.\.?\//.test(specifier) && specifier.endsWith(".js")) {
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw error;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith("file:") || !/\.[cm]?ts$/.test(url)) return next(url, context);
  const source = await readFile(new URL(url), "utf8");
  const { code } = await transform(source, {
    loader: "ts",
    format: url.endsWith(".cts") ? "cjs" : "esm",
    target: `node${process.versions.node}`,
    sourcemap: "inline",
    sourcefile: new URL(url).pathname,
  });
  return { format: url.endsWith(".cts") ? "commonjs" : "module", source: code, shortCircuit: true };
}
