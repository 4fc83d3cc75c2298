/**
 * Issue 17 item 4: core keeps no table of package names. A type or layer with no registered
 * plugin loads from `@pepperpy/storage-<name>`, and a name that is not a plain package-name
 * segment never reaches `import()`.
 *
 * This runs in a fresh Node process (no vitest aliases, nothing registered beforehand) over
 * an install laid out as npm lays it out: `node_modules/@pepperpy/storage-core` and
 * `-memory` side by side (copies of the workspace packages' sources, run with tsx and
 * `--conditions=source`). A resolve hook logs every specifier the process asks for, before
 * resolving it, so a hostile name would show up in the log even when it fails to resolve.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, realpath, rm, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const packagesDir = fileURLToPath(new URL("../..", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** A resolve hook appending every requested specifier to the file named by `initialize`'s data. */
const HOOKS = `
import { appendFileSync } from "node:fs";
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  appendFileSync(log, specifier + "\\n");
  return next(specifier, context);
}`;

const HOSTILE = ["../x", "../../memory", "@evil/pkg", "memory/../../x", "Memory", "a b", "", " memory", "memory\n", "toString", "__proto__", "hasOwnProperty", "x".repeat(300)];
const PROTOTYPE = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"];

interface Outcome {
  name: string;
  error?: { isConfigError: boolean; message: string };
  storageName?: string;
}

let dir: string;
let outcomes: Record<"convention" | "missing" | "hostileTypes" | "hostileLayers" | "prototypeTypes" | "prototypeLayers", Outcome[]>;
let before: { memory: boolean; types: string[] };
let requested: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pp-registry-"));
  const scope = join(dir, "node_modules", "@pepperpy");
  for (const pkg of ["core", "memory"]) {
    await mkdir(join(scope, `storage-${pkg}`), { recursive: true });
    await cp(join(packagesDir, pkg, "src"), join(scope, `storage-${pkg}`, "src"), { recursive: true });
    await cp(join(packagesDir, pkg, "package.json"), join(scope, `storage-${pkg}`, "package.json"));
  }
  for (const dep of ["yaml", "zod"]) await symlink(await realpath(join(packagesDir, "core", "node_modules", dep)), join(dir, "node_modules", dep), "dir");

  const log = join(dir, "requested.log");
  const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)}, { data: { log: ${JSON.stringify(log)} } });`;
  const script = `
    const core = await import("@pepperpy/storage-core");
    const attempt = async (name, make) => {
      try {
        const s = await make();
        const out = { name, storageName: s.name };
        await s.close();
        return out;
      } catch (e) {
        return { name, error: { isConfigError: e instanceof core.StorageConfigError, message: String(e.message) } };
      }
    };
    const before = { memory: core.getStoragePlugin("memory") !== undefined, types: core.registeredStorageTypes() };
    const outcomes = { convention: [], missing: [], hostileTypes: [], hostileLayers: [], prototypeTypes: [], prototypeLayers: [] };
    outcomes.convention.push(await attempt("memory", () => core.createStorage({ type: "memory" })));
    outcomes.missing.push(await attempt("nosuch", () => core.createStorage({ type: "nosuch" })));
    outcomes.missing.push(await attempt("nosuchlayer", () => core.createStorage({ type: "memory", options: { "nosuchlayer": true } })));
    for (const name of ${JSON.stringify(HOSTILE)}) {
      outcomes.hostileTypes.push(await attempt(name, () => core.createStorage({ type: name })));
      outcomes.hostileLayers.push(await attempt(name, () => core.createStorage({ type: "memory", options: { [name]: true } })));
    }
    for (const name of ${JSON.stringify(PROTOTYPE)}) {
      outcomes.prototypeTypes.push(await attempt(name, () => core.createStorage({ type: name })));
      outcomes.prototypeLayers.push(await attempt(name, () => core.parseConfig("storage:\\n  type: memory\\n  options:\\n    " + name + ": true\\n")));
    }
    console.log(JSON.stringify({ before, outcomes }));`;
  const { stdout } = await run(process.execPath, ["--conditions=source", "--import", tsx, "--import", `data:text/javascript,${encodeURIComponent(register)}`, "--input-type=module", "-e", script], {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  ({ before, outcomes } = JSON.parse(stdout) as { before: typeof before; outcomes: typeof outcomes });
  requested = (await readFile(log, "utf8")).split("\n").filter(Boolean);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a type with no registered plugin, in a fresh process", () => {
  it("loads @pepperpy/storage-<type> by convention: type memory works with nothing registered", () => {
    expect(before.memory).toBe(false);
    expect(before.types).not.toContain("memory");
    expect(outcomes.convention).toStrictEqual([{ name: "memory", storageName: "memory" }]);
    expect(requested).toContain("@pepperpy/storage-memory");
  });

  it("a missing package is an unknown type that says what to install", () => {
    const [type, layer] = outcomes.missing;
    expect(type!.error!.isConfigError).toBe(true);
    expect(type!.error!.message).toContain('unknown storage type "nosuch"');
    expect(type!.error!.message).toContain("install it with: npm install @pepperpy/storage-nosuch");
    expect(layer!.error!.isConfigError).toBe(true);
    expect(layer!.error!.message).toContain("storage.options.nosuchlayer: unknown option");
    expect(layer!.error!.message).toContain("npm install @pepperpy/storage-nosuchlayer");
    // The control: the hook does see what the registry imports.
    expect(requested).toContain("@pepperpy/storage-nosuch");
    expect(requested).toContain("@pepperpy/storage-nosuchlayer");
  });

  it("a type or layer name that is not a package-name segment is refused and never imported", () => {
    for (const outcome of outcomes.hostileTypes) {
      expect(outcome.error, JSON.stringify(outcome.name)).toBeDefined();
      expect(outcome.error!.isConfigError).toBe(true);
    }
    for (const outcome of outcomes.hostileLayers) {
      expect(outcome.error!.isConfigError, JSON.stringify(outcome.name)).toBe(true);
      expect(outcome.error!.message).toContain("unknown option");
      expect(outcome.error!.message).not.toContain("npm install");
    }
    // Only the names the convention allows reached import().
    const imported = new Set(requested.filter((s) => s.startsWith("@pepperpy/")));
    expect([...imported].sort()).toStrictEqual([
      "@pepperpy/storage-constructor",
      "@pepperpy/storage-core",
      "@pepperpy/storage-memory",
      "@pepperpy/storage-nosuch",
      "@pepperpy/storage-nosuchlayer",
    ]);
    for (const name of HOSTILE) expect(requested.some((s) => s.includes(`storage-${name}`) && name !== "")).toBe(false);
  });

  it("prototype names are unknown types and unknown options, never Object's members", () => {
    for (const outcome of outcomes.prototypeTypes) {
      expect(outcome.error!.isConfigError, outcome.name).toBe(true);
      expect(outcome.error!.message).toContain(`unknown storage type "${outcome.name}"`);
      expect(outcome.error!.message).not.toContain("native code");
    }
    for (const outcome of outcomes.prototypeLayers) {
      expect(outcome.error!.isConfigError, outcome.name).toBe(true);
      expect(outcome.error!.message).toContain(`storage.options.${outcome.name}: unknown option`);
      expect(outcome.error!.message).not.toContain("native code");
    }
  });
});
