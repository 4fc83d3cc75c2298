/**
 * What `import("@pepperpy/storage")` loads. The AWS SDK loads on the first S3 request, and
 * YAML and the config validator (zod) when a config is first read — never with the package.
 *
 * Each case runs in a fresh Node process whose module resolution is logged by a resolve
 * hook (`module.register`): every module loaded through ESM is resolved, so the log lists
 * what the import pulled in, whether the package is ESM or not. Each case also checks the
 * other side — after an S3 call or a config read the module *is* in the log — so the test
 * fails if the hook stops seeing modules.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** A resolve hook appending every resolved URL to the file named by `initialize`'s data. */
const HOOKS = `
import { appendFileSync } from "node:fs";
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + "\\n");
  return result;
}`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pp-cold-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
/**
 * Runs `script` (an ES module body) in a fresh process from this package's directory, so
 * `@pepperpy/storage` resolves to this package itself. It writes `MARK` to the log between
 * phases; returns the log split at the marks.
 */
async function loadedModules(script: string, flags: string[]): Promise<string[][]> {
  const log = join(dir, `modules-${++n}.log`);
  const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)}, { data: { log: ${JSON.stringify(log)} } });`;
  const body = `import { appendFileSync } from "node:fs"; const mark = () => appendFileSync(${JSON.stringify(log)}, "MARK\\n");\n${script}`;
  await run(process.execPath, [...flags, "--import", `data:text/javascript,${encodeURIComponent(register)}`, "--input-type=module", "-e", body], {
    cwd: packageDir,
    env: { ...process.env, NODE_OPTIONS: "", AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y" },
  });
  return (await readFile(log, "utf8")).split("MARK\n").map((phase) => phase.split("\n").filter(Boolean));
}

const aws = (urls: string[]) => urls.filter((u) => u.includes("/@aws-sdk/") || u.includes("/@smithy/"));
const named = (urls: string[], name: string) => urls.filter((u) => u.includes(`/node_modules/${name}/`) || u.includes(`/.pnpm/${name}@`));

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const builds: [string, string[]][] = [["source (tsx, --conditions=source)", ["--conditions=source", "--import", tsx]]];
// The built package, as a user's `import` loads it (present after `pnpm build`, as in CI).
if (existsSync(join(packageDir, "dist", "index.js"))) builds.push(["built dist", []]);

describe.each(builds)("import('@pepperpy/storage') from the %s", (_, flags) => {
  it("loads no AWS SDK module until the first S3 request", async () => {
    const [atImport, afterFile, afterS3] = await loadedModules(
      `const { FileStorage, S3Storage } = await import("@pepperpy/storage");
       const { mkdtemp } = await import("node:fs/promises");
       const s = new FileStorage(await mkdtemp(${JSON.stringify(join(dir, "fs-"))}));
       await s.put("k", "v"); await s.get("k"); await s.close();
       const s3 = new S3Storage({ bucket: "b", endpoint: "http://127.0.0.1:9", forcePathStyle: true, maxAttempts: 1 });
       mark();
       if (s3.client !== undefined) throw new Error("client built before any request");
       mark();
       await s3.get("k").catch(() => {});
       await s3.close();`,
      flags,
    );
    expect(atImport!.some((u) => /\/(?:packages\/core|storage-core)\//.test(u))).toBe(true);
    expect(aws(atImport!)).toStrictEqual([]);
    expect(aws(afterFile!)).toStrictEqual([]);
    // The control: a request loads the client (so the hook does see the SDK when it loads).
    expect(named(afterS3!, "@aws-sdk/client-s3").length).toBeGreaterThan(0);
  }, 60_000);

  it("loads yaml and zod only when a config is read", async () => {
    const [atImport, afterCode, afterConfig] = await loadedModules(
      `const { MemoryStorage, parseConfig } = await import("@pepperpy/storage");
       mark();
       const m = new MemoryStorage(); await m.put("k", 1); await m.get("k");
       mark();
       await parseConfig("storage:\\n  type: memory\\n  options:\\n    timeout: 5s\\n");`,
      flags,
    );
    for (const name of ["yaml", "zod"]) {
      expect(named(atImport!, name)).toStrictEqual([]);
      expect(named(afterCode!, name)).toStrictEqual([]);
      expect(named(afterConfig!, name).length).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe.runIf(existsSync(join(packageDir, "dist", "index.cjs")))("require('@pepperpy/storage') from the built dist (CommonJS)", () => {
  it("loads no AWS SDK, yaml or zod module (require.cache after the require)", async () => {
    const { stdout } = await run(process.execPath, ["-e", 'require("@pepperpy/storage"); console.log(JSON.stringify(Object.keys(require.cache)))'], {
      cwd: packageDir,
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    const loaded = JSON.parse(stdout) as string[];
    // The control: the packages of the umbrella are in the cache, so it does list what loaded.
    expect(loaded.some((f) => /\/(?:packages\/core|storage-core)\/dist\/index\.cjs$/.test(f))).toBe(true);
    expect(aws(loaded)).toStrictEqual([]);
    expect(named(loaded, "yaml")).toStrictEqual([]);
    expect(named(loaded, "zod")).toStrictEqual([]);
  }, 60_000);
});
