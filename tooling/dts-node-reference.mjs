// Prepends `/// <reference types="node" />` to a package's built declaration files, so a
// TypeScript user gets Node's types (Buffer, Readable) through this package's own
// `@types/node` dependency, without installing it or listing it in `types` (TypeScript 6
// defaults `types` to []). tsup's declaration bundler drops triple-slash directives, hence
// this step after `tsup`.
import { readFileSync, writeFileSync } from "node:fs";

const REF = '/// <reference types="node" />\n';
for (const file of ["dist/index.d.ts", "dist/index.d.cts"]) {
  const text = readFileSync(file, "utf8");
  if (!text.startsWith(REF)) writeFileSync(file, REF + text);
}
