/**
 * Every code block in docs/ and the READMEs is checked here, as a user would paste it.
 *
 * - ```ts blocks run verbatim in a fresh directory (`node --import tsx`, the workspace
 *   packages resolved by the root tsconfig's paths, other packages they import linked into
 *   its node_modules, files they name as input written there). A block that talks to S3,
 *   Redis, PostgreSQL or Azure gets a fresh local server (s3rver, redis-server, PostgreSQL,
 *   Azurite) through the environment variables a user would set (`AWS_ENDPOINT_URL_S3` and
 *   the AWS credentials, `REDIS_URL`, `DATABASE_URL`, `AZURE_STORAGE_CONNECTION_STRING`);
 *   `STORAGE_KEY` and `NEW_STORAGE_KEY` hold raw keys. A block marked
 *   `<!-- snippet: storage.yaml is the yaml block above -->` (or `below`) finds that YAML in
 *   ./storage.yaml. One marked `<!-- snippet: not run (reason) -->` is skipped by name, with
 *   the reason. Without redis-server or PostgreSQL their blocks are skipped by name outside
 *   CI; under CI=true a missing server is an error.
 * - The same blocks type-check together in one `tsc` run (strict, NodeNext), since tsx
 *   strips types without checking them.
 * - ```yaml blocks parse with `parseConfig` (dummy values for `${VAR}`), the way
 *   `loadConfig` reads a file; ```json blocks parse with `JSON.parse`. Shell, SQL and
 *   unlabeled blocks are counted, not run.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseConfig, registeredLayers } from "@pepperpy/storage";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Block,
  type Plan,
  ROOT,
  blockName,
  extractBlocks,
  linkImports,
  markdownFiles,
  missingServer,
  needsOf,
  planOf,
  startServers,
  writeFixtures,
} from "./docs-snippets-support.js";

const require = createRequire(import.meta.url);
const TSX = pathToFileURL(require.resolve("tsx")).href;
const TYPESCRIPT = pathToFileURL(require.resolve("typescript")).href;
const { parse: parseYaml } = createRequire(join(ROOT, "packages/core/package.json"))("yaml") as { parse(text: string): unknown };

const blocks = markdownFiles().flatMap((f) => extractBlocks(f, readFileSync(join(ROOT, f), "utf8")));
const tsBlocks = blocks.filter((b) => b.lang === "ts");
const plans = new Map<Block, Plan | Error>(
  tsBlocks.map((b) => {
    try {
      return [b, planOf(b, blocks)];
    } catch (error) {
      return [b, error as Error];
    }
  }),
);
const runnable = tsBlocks.filter((b) => {
  const plan = plans.get(b);
  return !(plan instanceof Error) && plan?.skip === undefined;
});

/** Raw 32-byte keys (no scrypt), as the docs recommend for keys in the environment. */
const KEYS = { STORAGE_KEY: `base64:${randomBytes(32).toString("base64")}`, NEW_STORAGE_KEY: `base64:${randomBytes(32).toString("base64")}` };

/** The test process's environment without what would point a block at real services. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AWS_|AZURE_|REDIS_URL$|DATABASE_URL$|PG[A-Z]+$|NODE_OPTIONS$|NODE_DEBUG$)/.test(k)) env[k] = v;
  }
  return env;
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `pepperpy-${label}-`));
  dirs.push(dir);
  return dir;
}

/**
 * Type-checks the blocks as `tsc -p tsconfig.json` would, in one program, but asks for the
 * diagnostics of the blocks' files only: the workspace packages come in as sources (the
 * paths point at src/), and checking all of them again is `pnpm typecheck`'s job. The
 * checker still resolves every type a block touches. Prints tsc's format; exits 1 on errors.
 */
const TYPECHECK_SCRIPT = `
import ts from ${JSON.stringify(TYPESCRIPT)};
const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { console.error(ts.flattenDiagnosticMessageText(d.messageText, "\\n")); process.exit(2); } };
const parsed = ts.getParsedCommandLineOfConfigFile("tsconfig.json", {}, host);
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
const diagnostics = [...parsed.errors, ...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
for (const name of parsed.fileNames) {
  const file = program.getSourceFile(name);
  if (!file) { console.error("not in the program: " + name); process.exit(2); }
  diagnostics.push(...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file));
}
process.stdout.write(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => "\\n" }));
console.log(\`\${parsed.fileNames.length} files checked with TypeScript \${ts.version}: \${diagnostics.length} errors\`);
process.exit(diagnostics.length > 0 ? 1 : 0);
`;

/** Runs a command; resolves to its exit code and output (stdout and stderr interleaved). */
function exec(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((done) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, output });
    }),
  );
}

/** Runs one block in a fresh directory with the servers it needs. */
async function runSnippet(block: Block, plan: Plan): Promise<{ code: number | null; output: string }> {
  const cwd = await tempDir("snippet");
  await writeFile(join(cwd, "snippet.mts"), block.code);
  if (plan.storageYaml !== undefined) await writeFile(join(cwd, "storage.yaml"), plan.storageYaml);
  await writeFixtures(cwd, block.code);
  await linkImports(cwd, [block.code]);
  const servers = await startServers(needsOf(block.code, plan.storageYaml));
  try {
    const env = {
      ...baseEnv(),
      TSX_TSCONFIG_PATH: join(ROOT, "tsconfig.json"),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...KEYS,
      ...servers.env,
    };
    return await exec(["--conditions=source", "--import", TSX, join(cwd, "snippet.mts")], cwd, env, 120_000);
  } finally {
    await servers.stop();
  }
}

/** Made-up values for the `${VAR}` references of a YAML block. */
function dummyEnv(yaml: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [, name] of yaml.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
    env[name!] = /URL|ENDPOINT/.test(name!) ? "http://127.0.0.1:9" : `dummy-${name!.toLowerCase()}`;
  }
  return env;
}

/** How a yaml block is checked: as a config file, as the layers of one, or (neither) as YAML. */
const YAML_KINDS = { storage: "a storage config", layers: "layer options: checked under a memory storage", yaml: "YAML only: not a storage config", invalid: "invalid YAML" };
const layerNames = new Set(registeredLayers());
const yamlBlocks = blocks
  .filter((b) => b.lang === "yaml")
  .map((block): { block: Block; kind: keyof typeof YAML_KINDS; error?: unknown } => {
    let doc: unknown;
    try {
      // As parseConfig does, read a `${VAR}` reference as a value (it may sit in a flow map).
      doc = parseYaml(block.code.replace(/\$\{[^}\n]*\}/g, "x"));
    } catch (error) {
      return { block, kind: "invalid", error };
    }
    const keys = doc !== null && typeof doc === "object" && !Array.isArray(doc) ? Object.keys(doc) : [];
    if (keys.includes("storage")) return { block, kind: "storage" };
    if (keys.length > 0 && keys.every((k) => layerNames.has(k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())))) return { block, kind: "layers" };
    return { block, kind: "yaml" };
  });

const counts = (lang: string) => blocks.filter((b) => b.lang === lang).length;
afterAll(() => {
  const skipped = tsBlocks.filter((b) => !runnable.includes(b));
  console.log(
    [
      `docs code blocks: ${tsBlocks.length} ts (${runnable.length} run and type-checked, ${skipped.length} not run);`,
      `  ${yamlBlocks.length} yaml checked (${Object.entries({ storage: "storage configs", layers: "layer options", yaml: "YAML only", invalid: "invalid" })
        .map(([k, label]) => `${yamlBlocks.filter((y) => y.kind === k).length} ${label}`)
        .join(", ")}); ${counts("json")} json parsed;`,
      `not checked: ${counts("sh")} sh, ${counts("sql")} sql, ${counts("")} unlabeled`,
      ...skipped.map((b) => `  not run: ${blockName(b)} (${(plans.get(b) as Plan).skip})`),
    ].join("\n"),
  );
});

describe("docs code blocks", { timeout: 300_000 }, () => {
  it("there are blocks, every block's language is one this file handles, and every skipped one says why", () => {
    expect(runnable.length).toBeGreaterThan(40);
    for (const b of blocks) expect(["ts", "yaml", "json", "sh", "sql", ""], `${blockName(b)}: \`\`\`${b.lang}`).toContain(b.lang);
    for (const [b, plan] of plans) {
      if (plan instanceof Error) throw plan;
      if (plan.skip !== undefined) expect(plan.skip.trim().length, blockName(b)).toBeGreaterThan(3);
    }
    for (const b of blocks) if (b.mark !== undefined && b.lang !== "ts") throw new Error(`${blockName(b)}: a snippet mark above a ${b.lang || "unlabeled"} block`);
  });

  describe.concurrent("```ts blocks", () => {
    it("the ts blocks that run type-check together (tsc, strict, NodeNext)", async () => {
      const dir = await tempDir("snippet-types");
      const files = new Map<string, Block>();
      for (const b of runnable) {
        const name = `${b.file.replace(/[^A-Za-z0-9]+/g, "_")}_${b.line}.mts`;
        files.set(name, b);
        await writeFile(join(dir, name), b.code);
      }
      await linkImports(
        dir,
        runnable.map((b) => b.code),
      );
      const rootPaths = (JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8")) as { compilerOptions: { paths: Record<string, string[]> } }).compilerOptions.paths;
      const paths = Object.fromEntries(Object.entries(rootPaths).map(([k, v]) => [k, v.map((p) => join(ROOT, p))]));
      const tsconfig = {
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2023"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules", "@types")],
          paths,
        },
        files: [...files.keys()],
      };
      await writeFile(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
      await writeFile(join(dir, "check.mjs"), TYPECHECK_SCRIPT);
      const r = await exec([join(dir, "check.mjs")], dir, baseEnv(), 280_000);
      // Name each error by the markdown line it is on.
      const output = r.output.replace(/([\w]+\.mts)\((\d+),(\d+)\)/g, (whole, file: string, line: string, col: string) => {
        const b = files.get(file);
        return b ? `${blockName(b).replace(/:\d+$/, "")}:${b.line + Number(line)}:${col}` : whole;
      });
      expect(r.code, `type errors in docs snippets:\n${output}`).toBe(0);
      expect(r.output).toMatch(new RegExp(`^${files.size} files checked with TypeScript`, "m"));
    });

    for (const b of tsBlocks) {
      const name = blockName(b);
      const plan = plans.get(b)!;
      if (plan instanceof Error) continue;
      if (plan.skip !== undefined) {
        it.skip(`${name} (not run: ${plan.skip})`, () => undefined);
        continue;
      }
      const missing = missingServer(needsOf(b.code, plan.storageYaml));
      if (missing) {
        it.skip(`${name} [skipped: ${missing}]`, () => undefined);
        continue;
      }
      it(name, async () => {
        const r = await runSnippet(b, plan);
        expect(r.code, `${name} failed:\n${r.output}`).toBe(0);
      });
    }
  });

  describe("```yaml blocks parse as loadConfig reads them", () => {
    for (const y of yamlBlocks) {
      const name = `${blockName(y.block)} (${YAML_KINDS[y.kind]})`;
      const env = dummyEnv(y.block.code);
      if (y.kind === "storage") {
        it(name, async () => {
          await parseConfig(y.block.code, { env, source: blockName(y.block) });
        });
      } else if (y.kind === "layers") {
        it(name, async () => {
          const indented = y.block.code.replace(/^/gm, "    ");
          await parseConfig(`storage:\n  type: memory\n  options:\n${indented}\n`, { env, source: blockName(y.block) });
        });
      } else {
        it(name, () => {
          if (y.error !== undefined) throw y.error;
        });
      }
    }
  });

  describe("```json blocks parse", () => {
    for (const b of blocks.filter((x) => x.lang === "json")) {
      it(blockName(b), () => {
        expect(() => JSON.parse(b.code)).not.toThrow();
      });
    }
  });
});
