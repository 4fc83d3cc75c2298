/**
 * What examples/docs-snippets.test.ts needs besides the tests: the fenced blocks of the
 * markdown files users copy from, the servers a block talks to, and the temp directory a
 * block runs in (the files it names, the packages it imports).
 */
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { findPostgresBinDir, findRedisServer, startPostgresServer, startRedisServer, startS3Server } from "@pepperpy/storage-testing";
import { type Azurite, createContainer, startAzurite } from "../packages/azure-blob/test/helpers.js";

export const ROOT = resolve(import.meta.dirname, "..");

/** The markdown files whose code users copy: README.md, docs/*.md, packages/*\/README.md. */
export function markdownFiles(): string[] {
  const files = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  for (const pkg of readdirSync(join(ROOT, "packages")).sort()) {
    if (existsSync(join(ROOT, "packages", pkg, "README.md"))) files.push(`packages/${pkg}/README.md`);
  }
  return files;
}

/** One fenced code block. */
export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`ts`, `yaml`, `sh`, …), `""` for an unlabeled block. */
  lang: string;
  code: string;
  /** The text of a `<!-- snippet: … -->` mark on the line before the fence. */
  mark?: string | undefined;
}

/** `file:line`, how tests and messages name a block. */
export const blockName = (b: Block): string => `${b.file}:${b.line}`;

/** Every fenced block of a markdown file, with the snippet mark above it. */
export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```\s*([\w+-]*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const mark = /^<!--\s*snippet:\s*(.+?)\s*-->\s*$/.exec(lines[i - 1] ?? "")?.[1];
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith("```")) end++;
    const lang = open[1]!.toLowerCase();
    blocks.push({ file, line: i + 1, lang: lang === "typescript" ? "ts" : lang, code: lines.slice(i + 1, end).join("\n"), mark });
    i = end;
  }
  return blocks;
}

/** What a ts block's mark asks for. */
export interface Plan {
  /** Why it is not run (`<!-- snippet: not run (reason) -->`). */
  skip?: string | undefined;
  /** The YAML written to `storage.yaml` in its directory (`<!-- snippet: storage.yaml is the yaml block above|below -->`). */
  storageYaml?: string | undefined;
}

/** Reads the mark of a ts block; throws on a mark the runner does not know. */
export function planOf(block: Block, all: readonly Block[]): Plan {
  if (block.mark === undefined) return {};
  const notRun = /^not run \((.+)\)$/s.exec(block.mark);
  if (notRun) return { skip: notRun[1]! };
  const yaml = /^storage\.yaml is the yaml block (above|below)$/.exec(block.mark);
  if (yaml) {
    const sameFile = all.filter((b) => b.file === block.file && b.lang === "yaml");
    const found = yaml[1] === "above" ? sameFile.filter((b) => b.line < block.line).at(-1) : sameFile.find((b) => b.line > block.line);
    if (!found) throw new Error(`${blockName(block)}: its mark names the yaml block ${yaml[1]}, and there is none`);
    return { storageYaml: `${found.code}\n` };
  }
  throw new Error(`${blockName(block)}: unknown snippet mark "${block.mark}" (known: "not run (reason)", "storage.yaml is the yaml block above|below")`);
}

// ---------------------------------------------------------------------------------------
// Servers

/** Which local servers a block talks to, from the classes it uses and the config it reads. */
export interface Needs {
  s3: boolean;
  redis: boolean;
  postgres: boolean;
  azure: boolean;
  /** S3 buckets and Azure containers the block names (created before it runs). */
  buckets: string[];
  containers: string[];
}

export function needsOf(code: string, yaml = ""): Needs {
  const text = `${code}\n${yaml}`;
  const names = (re: RegExp) => [...new Set([...text.matchAll(re)].map((m) => m[1]!))];
  return {
    // A block that starts its own S3 server (the s3 README's test) needs none of ours, nor
    // does one that gives credentials of its own (it signs URLs: no request).
    s3: (/\bS3Storage\b/.test(code) && !/\bstartS3Server\b|\bcredentials:/.test(code)) || /^\s*type:\s*s3\b/m.test(yaml),
    redis: /\bRedisStorage\b/.test(code) || /^\s*type:\s*redis\b/m.test(yaml),
    postgres: /\bPostgresStorage\b/.test(code) || /^\s*type:\s*postgres(ql)?\b/m.test(yaml),
    azure: /\bAZURE_STORAGE_CONNECTION_STRING\b/.test(text),
    buckets: names(/(?:S3Storage\(\s*"|bucket:\s*"?)([a-z0-9][a-z0-9.-]{2,62})/g),
    containers: names(/container:\s*"?([a-z0-9][a-z0-9-]{2,62})/g),
  };
}

/** Whether redis-server and PostgreSQL are installed (else their blocks are skipped by name, outside CI). */
export const installed = { redis: await findRedisServer(), postgres: await findPostgresBinDir() };
if (process.env.CI === "true") {
  if (!installed.redis) throw new Error("redis-server is not installed but CI=true: run .ci/setup-redis.sh (apt-get install -y redis-server)");
  if (!installed.postgres) throw new Error("PostgreSQL is not installed but CI=true: run .ci/setup-postgres.sh (apt-get install -y postgresql)");
}

/** Why a block cannot run on this machine, or undefined. */
export function missingServer(needs: Needs): string | undefined {
  if (needs.redis && !installed.redis) return "redis-server is not installed";
  if (needs.postgres && !installed.postgres) return "PostgreSQL is not installed";
  return undefined;
}

/** Servers started for one block: the environment that points the block at them, and a stop. */
export interface Started {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts a fresh server of each kind the block needs, so blocks running at once never see
 * each other's keys. The block finds them through the variables a user would set: the AWS
 * SDK's own (`AWS_ENDPOINT_URL_S3`, credentials, region), `REDIS_URL`, `DATABASE_URL`,
 * `AZURE_STORAGE_CONNECTION_STRING`.
 */
export async function startServers(needs: Needs): Promise<Started> {
  const stops: (() => Promise<void>)[] = [];
  const env: Record<string, string> = {};
  const stop = async () => {
    await Promise.allSettled(stops.map((s) => s()));
  };
  // A start that fails once on a loaded machine (a slow start, a spawn refused) gets one more try.
  const twice = async <T>(start: () => Promise<T>): Promise<T> => {
    try {
      return await start();
    } catch {
      return await start();
    }
  };
  try {
    await Promise.all([
      needs.s3 &&
        (async () => {
          const server = await twice(() => startS3Server({ startTimeout: 60_000 }));
          stops.push(() => server.stop());
          for (const bucket of needs.buckets) await server.createBucket(bucket);
          Object.assign(env, {
            AWS_ENDPOINT_URL_S3: server.endpoint,
            AWS_ACCESS_KEY_ID: "S3RVER",
            AWS_SECRET_ACCESS_KEY: "S3RVER",
            AWS_REGION: "us-east-1",
            // s3rver stores aws-chunked framing as content unless checksums are only sent when required.
            AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
            AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
          });
        })(),
      needs.redis &&
        (async () => {
          const server = await twice(() => startRedisServer({ binary: installed.redis, startTimeout: 30_000 }));
          stops.push(() => server.stop());
          env.REDIS_URL = `${server.url}/0`;
        })(),
      needs.postgres &&
        (async () => {
          const server = await twice(() => startPostgresServer({ binDir: installed.postgres, startTimeout: 60_000 }));
          stops.push(() => server.stop());
          env.DATABASE_URL = server.url;
        })(),
      needs.azure &&
        (async () => {
          const server: Azurite = await twice(() => startAzurite({ startTimeout: 60_000 }));
          stops.push(() => server.stop());
          for (const container of needs.containers) await createContainer(server, container);
          env.AZURE_STORAGE_CONNECTION_STRING = server.connectionString;
        })(),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { env, stop };
}

// ---------------------------------------------------------------------------------------
// The directory a block runs in

/** Packages (not `node:` or `@pepperpy/`) a block imports, by package name. */
export function thirdPartyImports(code: string): string[] {
  const specifiers = [...code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm)].map((m) => m[1]!);
  const packages = specifiers
    .filter((s) => !s.startsWith("node:") && !s.startsWith(".") && !s.startsWith("@pepperpy/"))
    .map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!));
  return [...new Set(packages)];
}

/** Where the workspace has a package installed: the root's node_modules, else a package's. */
function installedPackage(name: string): string {
  const candidates = [join(ROOT, "node_modules", name), ...readdirSync(join(ROOT, "packages")).map((p) => join(ROOT, "packages", p, "node_modules", name))];
  const found = candidates.find((c) => existsSync(join(c, "package.json")));
  if (!found) throw new Error(`a snippet imports ${name}, which no workspace package has installed`);
  return realpathSync(found);
}

/**
 * Gives `dir` a node_modules holding the packages the blocks import, as `npm install <name>`
 * would: links to the copies the workspace installed. `@pepperpy/*` resolve through the root
 * tsconfig's paths (run: tsx; type check: the check's tsconfig).
 */
export async function linkImports(dir: string, codes: readonly string[]): Promise<void> {
  for (const name of new Set(codes.flatMap(thirdPartyImports))) {
    const link = join(dir, "node_modules", name);
    await mkdir(dirname(link), { recursive: true });
    await symlink(installedPackage(name), link, "dir");
  }
}

/** Files a block may name as input, written into its directory when it does. */
const FIXTURES: Record<string, () => Uint8Array> = {
  "backup.tar": () => new Uint8Array(300 * 1024).map((_, i) => (i * 31) & 0xff),
  // A 1×1 PNG.
  "logo.png": () => Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64"),
};

export async function writeFixtures(dir: string, code: string): Promise<void> {
  for (const [name, content] of Object.entries(FIXTURES)) {
    if (code.includes(`"${name}"`)) await writeFile(join(dir, name), content());
  }
}
