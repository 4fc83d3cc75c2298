import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODE_LABELS, ExitCode, describeExitCodes } from "../src/exit-codes.js";
import { formatBytes, formatRate } from "../src/format.js";
import { describeThroughput } from "../src/progress.js";
import { CLI_COMMAND, SCRIPT, finish, ptyAvailable, runCli, runInProcess } from "./run-cli.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function workdir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pepperpy-cli-ux-"));
  dirs.push(dir);
  return dir;
}

/** A raw 32-byte key as a config file holds one (no scrypt: each CLI call stays fast). */
const RAW_KEY = `base64:${randomBytes(32).toString("base64")}`;

type Layers = "plain" | "compress" | "encrypt" | "both";
/** Layers over one file storage, or a mount whose root mount is such a stack (`mount:both`). */
type Stack = Layers | `mount:${Layers}`;

/** The YAML lines of the layers of `stack`, indented under `options:` at `indent`. */
function layerLines(stack: Layers, key: string, indent: string): string {
  const layers: string[] = [];
  if (stack === "compress" || stack === "both") layers.push(`${indent}compression: true`);
  if (stack === "encrypt" || stack === "both") layers.push(`${indent}encryption: { key: "${key}" }`);
  return layers.length ? `${indent.slice(2)}options:\n${layers.join("\n")}\n` : "";
}

/**
 * A config file for file storage under `dir/name` with the given layers. A `mount:` stack
 * mounts that storage at the root and a plain file storage under `dir/name-raw` at `raw/`.
 */
async function config(dir: string, name: string, stack: Stack, key = RAW_KEY): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  if (stack.startsWith("mount:")) {
    const inner = stack.slice("mount:".length) as Layers;
    await writeFile(
      file,
      "storage:\n  type: mount\n  mounts:\n" +
        `    "":\n      type: file\n      path: ${JSON.stringify(join(dir, name))}\n${layerLines(inner, key, "        ")}` +
        `    raw/:\n      type: file\n      path: ${JSON.stringify(join(dir, `${name}-raw`))}\n`,
    );
    return file;
  }
  await writeFile(file, `storage:\n  type: file\n  path: ${JSON.stringify(join(dir, name))}\n${layerLines(stack as Layers, key, "    ")}`);
  return file;
}

describe.concurrent("sizes: ls --long, du and stat agree on the value's size; --stored shows what the backend holds", () => {
  it("compression + encryption (the README's config, with a raw key)", async () => {
    const dir = await workdir();
    const c = await config(dir, "S", "both");
    const values: Record<string, Buffer> = { "docs/a.txt": Buffer.from("x".repeat(5000)), "docs/b.bin": randomBytes(3000), "c.txt": Buffer.from("7 bytes") };
    for (const [key, data] of Object.entries(values)) expect((await runInProcess(["-c", c, "put", key, "-"], { input: data })).code).toBe(0);
    const storedSize = async (key: string) => (await stat(join(dir, "S", key))).size;

    const statA = JSON.parse((await runInProcess(["-c", c, "stat", "docs/a.txt", "--json"])).out);
    expect(statA.size).toBe(5000);
    const long = (await runInProcess(["-c", c, "ls", "--long"])).out;
    expect(long).toMatch(/^\s+7 {2}\S+ {2}c\.txt\n\s+5000 {2}\S+ {2}docs\/a\.txt\n\s+3000 {2}\S+ {2}docs\/b\.bin\n$/);
    const listed = JSON.parse((await runInProcess(["-c", c, "ls", "--json"])).out) as { key: string; size: number }[];
    expect(listed.map((e) => e.size)).toEqual([7, 5000, 3000]);
    const du = JSON.parse((await runInProcess(["-c", c, "du", "--json"])).out);
    expect(du).toMatchObject({ objects: 3, bytes: 8007, sizes: "logical" });
    expect((await runInProcess(["-c", c, "du", "--bytes", "--depth", "0"])).out).toMatch(/\n\s+8007\s+3 {2}total\n$/);

    // --stored: the bytes on disk, everywhere.
    const onDisk = { a: await storedSize("docs/a.txt"), b: await storedSize("docs/b.bin"), c: await storedSize("c.txt") };
    expect(onDisk.a).not.toBe(5000);
    expect(onDisk.c).toBeGreaterThan(7);
    const longStored = (await runInProcess(["-c", c, "ls", "--long", "--stored"])).out;
    expect(longStored).toMatch(new RegExp(`^\\s+${onDisk.c} {2}\\S+ {2}c\\.txt\\n\\s+${onDisk.a} {2}\\S+ {2}docs/a\\.txt\\n\\s+${onDisk.b} {2}`));
    expect(JSON.parse((await runInProcess(["-c", c, "du", "--json", "--stored"])).out)).toMatchObject({ bytes: onDisk.a + onDisk.b + onDisk.c, sizes: "stored" });
    const statStored = await runInProcess(["-c", c, "stat", "c.txt", "--stored"]);
    expect(statStored.out).toContain("size:          7 bytes (7 B)\n");
    expect(statStored.out).toContain(`stored size:   ${onDisk.c} bytes`);
    expect(JSON.parse((await runInProcess(["-c", c, "stat", "c.txt", "--json", "--stored"])).out)).toMatchObject({ size: 7, storedSize: onDisk.c });
  });

  it("a mount over a compressed file storage (and a plain one at raw/): every command reports the value's size", async () => {
    const dir = await workdir();
    const c = await config(dir, "M", "mount:compress");
    const value = Buffer.from("x".repeat(5000));
    expect((await runInProcess(["-c", c, "put", "docs/a.txt", "-"], { input: value })).code).toBe(0);
    expect((await runInProcess(["-c", c, "put", "raw/b.txt", "-"], { input: "plain" })).code).toBe(0);
    const onDisk = (await stat(join(dir, "M", "docs/a.txt"))).size;
    expect(onDisk).toBeLessThan(5000);

    expect(JSON.parse((await runInProcess(["-c", c, "stat", "docs/a.txt", "--json"])).out)).toMatchObject({ size: 5000 });
    expect((await runInProcess(["-c", c, "ls", "--long"])).out).toMatch(/^\s+5000 {2}\S+ {2}docs\/a\.txt\n\s+5 {2}\S+ {2}raw\/b\.txt\n$/);
    expect(JSON.parse((await runInProcess(["-c", c, "ls", "--json"])).out).map((e: { size: number }) => e.size)).toEqual([5000, 5]);
    expect(JSON.parse((await runInProcess(["-c", c, "du", "--json"])).out)).toMatchObject({ objects: 2, bytes: 5005, sizes: "logical" });
    expect((await runInProcess(["-c", c, "du", "--bytes", "--depth", "0"])).out).toMatch(/\n\s+5005\s+2 {2}total\n$/);

    // --stored: what the mounted storage holds, the same in ls, du and stat.
    expect((await runInProcess(["-c", c, "ls", "--long", "--stored"])).out).toMatch(new RegExp(`^\\s+${onDisk} {2}\\S+ {2}docs/a\\.txt\\n\\s+5 {2}`));
    expect(JSON.parse((await runInProcess(["-c", c, "du", "--json", "--stored"])).out)).toMatchObject({ bytes: onDisk + 5, sizes: "stored" });
    expect(JSON.parse((await runInProcess(["-c", c, "stat", "docs/a.txt", "--json", "--stored"])).out)).toMatchObject({ size: 5000, storedSize: onDisk });
    expect(JSON.parse((await runInProcess(["-c", c, "stat", "raw/b.txt", "--json", "--stored"])).out)).toMatchObject({ size: 5, storedSize: 5 });
  });

  it("a plain file storage: stored and logical sizes are the same", async () => {
    const dir = await workdir();
    const c = await config(dir, "P", "plain");
    await runInProcess(["-c", c, "put", "k", "-"], { input: "hello" });
    expect((await runInProcess(["-c", c, "ls", "--long"])).out).toMatch(/^\s+5 {2}/);
    expect((await runInProcess(["-c", c, "ls", "--long", "--stored"])).out).toMatch(/^\s+5 {2}/);
    expect(JSON.parse((await runInProcess(["-c", c, "stat", "k", "--json", "--stored"])).out)).toMatchObject({ size: 5, storedSize: 5 });
  });
});

describe.concurrent("sync: a second run copies nothing, whatever layers either side has", () => {
  const pairs: [Stack, Stack][] = [
    ["plain", "both"],
    ["both", "plain"],
    ["compress", "encrypt"],
    ["both", "both"],
    ["mount:compress", "plain"],
    ["plain", "mount:compress"],
    ["mount:compress", "mount:compress"],
    ["mount:both", "both"],
    ["both", "mount:both"],
  ];
  for (const [fromStack, toStack] of pairs) {
    it(`${fromStack} -> ${toStack}`, async () => {
      const dir = await workdir();
      const a = await config(dir, "A", fromStack);
      // A different key on each side when both encrypt: stored bytes then never match.
      const b = await config(dir, "B", toStack, `base64:${randomBytes(32).toString("base64")}`);
      const values: Record<string, Buffer> = { "d/1.txt": Buffer.from("one ".repeat(600)), "d/2.bin": randomBytes(70_000), "d/3.txt": Buffer.from("3") };
      for (const [key, data] of Object.entries(values)) expect((await runInProcess(["-c", a, "put", key, "-"], { input: data })).code).toBe(0);
      const first = JSON.parse((await runInProcess(["sync", "--from", a, "--to", b, "--json"])).out);
      expect(first).toMatchObject({ copied: 3, copiedBytes: 2400 + 70_000 + 1, unchanged: 0 });
      expect(first.actions.map((x: { size: number }) => x.size)).toEqual([2400, 70_000, 1]);
      const second = JSON.parse((await runInProcess(["sync", "--from", a, "--to", b, "--json"])).out);
      expect(second).toMatchObject({ copied: 0, unchanged: 3, actions: [] });
      for (const [key, data] of Object.entries(values)) expect(Buffer.compare((await runInProcess(["-c", b, "get", key])).stdout, data), key).toBe(0);
      // A changed value is copied again, for the right reason.
      await runInProcess(["-c", a, "put", "d/3.txt", "-"], { input: "three" });
      const third = JSON.parse((await runInProcess(["sync", "--from", a, "--to", b, "--json"])).out);
      expect(third).toMatchObject({ copied: 1, unchanged: 2, actions: [{ op: "copy", key: "d/3.txt", size: 5, reason: "size" }] });
    });
  }
});

describe.concurrent("errors a person can act on", () => {
  it("get -o into a missing directory names the output path (exit 4), before the key is read", async () => {
    const dir = await workdir();
    const c = await config(dir, "S", "plain");
    await runInProcess(["-c", c, "put", "k", "-"], { input: "value" });
    const missingDir = await runInProcess(["-c", c, "get", "k", "-o", "/nonexistent/dir/out"]);
    expect(missingDir.code).toBe(ExitCode.VALIDATION);
    expect(missingDir.err).toBe("error: Cannot write output file /nonexistent/dir/out: directory /nonexistent/dir does not exist [get]\n");
    // The output path is checked first: a missing key with a bad path reports the path.
    expect((await runInProcess(["-c", c, "get", "nothere", "-o", "/nonexistent/dir/out"])).code).toBe(ExitCode.VALIDATION);
    const notDir = await runInProcess(["-c", c, "get", "k", "-o", join(c, "out")]);
    expect(notDir.code).toBe(ExitCode.VALIDATION);
    expect(notDir.err).toContain(`${c} is not a directory`);
    const isDir = await runInProcess(["-c", c, "get", "k", "-o", dir]);
    expect(isDir.code).toBe(ExitCode.VALIDATION);
    expect(isDir.err).toContain("it is a directory");
    const missingKey = await runInProcess(["-c", c, "get", "nothere", "-o", join(dir, "out")]);
    expect(missingKey.code).toBe(ExitCode.NOT_FOUND);
    expect(missingKey.err).toBe('error: Key not found [get "nothere" on file]\n');
    expect(existsSync(join(dir, "out"))).toBe(false);
    const ok = await runInProcess(["-c", c, "get", "k", "-o", join(dir, "out")]);
    expect(ok.code).toBe(0);
    expect(await readFile(join(dir, "out"), "utf8")).toBe("value");
  });

  it("rm of a missing key says so (exit 3); -f makes it quiet; present keys are still deleted", async () => {
    const dir = await workdir();
    const c = await config(dir, "S", "plain");
    await runInProcess(["-c", c, "put", "here", "-"], { input: "1" });
    const missing = await runInProcess(["-c", c, "rm", "nothere"]);
    expect(missing.code).toBe(ExitCode.NOT_FOUND);
    expect(missing.out).toBe("");
    expect(missing.err).toBe('error: Key not found, nothing to delete [rm "nothere" on file]\n');
    expect((await runInProcess(["-c", c, "rm", "-f", "nothere"])).code).toBe(0);
    const mixed = await runInProcess(["-c", c, "rm", "here", "gone1", "gone2"]);
    expect(mixed.code).toBe(ExitCode.NOT_FOUND);
    expect(mixed.out).toBe("deleted here\n");
    expect(mixed.err).toBe('error: Keys not found: "gone1", "gone2", nothing to delete [rm on file]\n');
    expect((await runInProcess(["-c", c, "ls"])).out).toBe("");
    const prefix = await runInProcess(["-c", c, "rm", "-r", "none/"]);
    expect(prefix.code).toBe(ExitCode.NOT_FOUND);
    expect(prefix.err).toContain('No keys under "none/"');
  });
});

describe("readable numbers", () => {
  it("rates and sizes have at most three significant digits", () => {
    expect(formatBytes(247.65342960288808)).toBe("247.7 B");
    expect(formatRate(686, 2770)).toBe("247.7 B/s");
    expect(formatRate(123e6, 10_000)).toBe("12.3 MB/s");
    expect(formatRate(5, 0)).toBe("? B/s");
    expect(describeThroughput(686, 2770)).toBe("in 2.8 s (247.7 B/s)");
    expect(formatBytes(999_960)).toBe("1.00 MB");
    expect(formatBytes(70_003)).toBe("70.0 kB");
    expect(formatBytes(7)).toBe("7 B");
  });

  it("--help's exit-code table is generated from ExitCode, and the README's table matches it", async () => {
    const help = await runInProcess(["--help"]);
    expect(help.out).toContain(describeExitCodes());
    const flat = help.out.replace(/\s+/g, " ");
    for (const [name, code] of Object.entries(ExitCode)) expect(flat).toContain(`${code} ${EXIT_CODE_LABELS[name as keyof typeof ExitCode]}`);
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const [head, , labels] = readme.split("\n").filter((l) => l.startsWith("| 0 |") || l.startsWith("|---") || l.startsWith("| ok"));
    const cells = (row: string | undefined) => (row ?? "").split("|").slice(1, -1).map((c) => c.trim());
    expect(cells(head)).toEqual(Object.values(ExitCode).map(String));
    expect(cells(labels)).toEqual(Object.values(EXIT_CODE_LABELS));
  });
});

// `script` gives the CLI a pseudo-terminal, as a user's shell would; under CI a missing one fails.
describe.skipIf(!ptyAvailable())("progress bars (skipped outside CI without util-linux script: no pty can be made)", { timeout: 240_000 }, () => {
  it("put, get, cp and sync draw a bar on a terminal; none with --json, --no-progress or when stderr is a pipe", async () => {
    const cwd = await workdir();
    await config(cwd, "A", "both");
    await config(cwd, "B", "plain");
    await config(cwd, "C", "plain");
    await writeFile(join(cwd, "big.bin"), randomBytes(3_000_000));
    const cli = CLI_COMMAND.map((a) => `'${a}'`).join(" ");
    const script = [
      "echo '==put=='",
      `${cli} -c A.yaml put blobs/big.bin big.bin`,
      "echo '==get=='",
      `${cli} -c A.yaml get blobs/big.bin -o out.bin`,
      "echo '==cp=='",
      `${cli} -c A.yaml cp blobs/big.bin copy.bin --to B.yaml`,
      "echo '==json=='",
      `${cli} -c A.yaml --json put blobs/2.bin big.bin`,
      "echo '==no-progress=='",
      `${cli} -c A.yaml put blobs/3.bin big.bin --no-progress`,
      "echo '==sync-json=='",
      `${cli} --json sync --from A.yaml --to B.yaml blobs/`,
      "echo '==sync=='",
      `${cli} sync --from A.yaml --to C.yaml blobs/`,
      "echo '==end=='",
    ].join("; ");
    const child = spawn(SCRIPT, ["-qfec", script, "/dev/null"], { cwd, env: { ...process.env, NODE_OPTIONS: "", COLUMNS: "160" } });
    const r = await finish(child);
    expect(r.code, r.err + r.out).toBe(0);
    const section = (name: string) => r.out.slice(r.out.indexOf(`==${name}==`), r.out.indexOf("==", r.out.indexOf(`==${name}==`) + name.length + 4));
    expect(section("put")).toMatch(/put blobs\/big\.bin .*\d+% \| .*\/3\.00 MB \| .*\/s/);
    expect(section("put")).toContain("\x1b[2K");
    expect(section("put")).toContain("stored blobs/big.bin (3.00 MB)");
    expect(section("get")).toMatch(/get blobs\/big\.bin .*\d+% \| .*\/3\.00 MB/);
    expect(section("cp")).toMatch(/cp blobs\/big\.bin .*\d+% \| .*\/3\.00 MB/);
    expect(section("json")).not.toContain("\x1b[2K");
    expect(section("no-progress")).not.toContain("\x1b[2K");
    // sync --json on a terminal: the JSON summary only, no bar (the same sync draws one without it).
    const syncJson = section("sync-json").replace("==sync-json==", "").trim();
    expect(syncJson).not.toContain("\x1b[");
    expect(JSON.parse(syncJson)).toMatchObject({ copied: 3, copiedBytes: 9_000_000 });
    expect(section("sync")).toMatch(/sync .*\d+% \| \d+\/3 objects \| .*\/9\.00 MB/);
    expect(section("sync")).toContain("synced \"blobs/\" to C.yaml: 3 objects copied (9.00 MB)");
    expect(Buffer.compare(await readFile(join(cwd, "out.bin")), await readFile(join(cwd, "big.bin")))).toBe(0);
    // Piped (no terminal): nothing but the summary.
    const piped = await runCli(["-c", "A.yaml", "put", "blobs/4.bin", "big.bin"], { cwd });
    expect(piped.err).toBe("");
    expect(piped.out).toBe("stored blobs/4.bin (3.00 MB)\n");
  });
});
