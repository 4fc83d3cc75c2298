// Shared vitest preset: tests run against each workspace package's src/ (no build needed).
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** Maps every @pepperpy/* workspace package name to its src/index.ts. */
export function workspaceAliases(root: string): Record<string, string> {
  const aliases: Record<string, string> = {};
  const dir = resolve(root, "packages");
  for (const name of readdirSync(dir)) {
    const pkgFile = join(dir, name, "package.json");
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8"));
    const entry = join(dir, name, "src", "index.ts");
    if (existsSync(entry)) aliases[pkg.name] = entry;
  }
  return aliases;
}
