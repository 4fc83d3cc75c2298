import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_COMMAND, type CliResult, SCRIPT, finish, ptyAvailable, runCli, runInProcess, spawnCli } from "./run-cli.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh working directory with no config: the CLI uses file storage under ./data. */
async function workdir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pepperpy-cli-"));
  dirs.push(dir);
  return dir;
}

/** A working directory with `a.yaml` / `b.yaml` naming file storages under it, for in-process runs. */
async function configured(): Promise<{ dir: string; a: string; b: string }> {
  const dir = await workdir();
  const a = join(dir, "a.yaml");
  const b = join(dir, "b.yaml");
  await writeFile(a, fileConfig(join(dir, "A")));
  await writeFile(b, fileConfig(join(dir, "B")));
  return { dir, a, b };
}

/** Asserts a failure printed exactly one line to stderr, without a stack trace, and returns it. */
function oneErrorLine(r: CliResult): string {
  const lines = r.err.split("\n").filter((l) => l.length > 0);
  expect(lines, r.err).toHaveLength(1);
  expect(r.err).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

function fileConfig(path: string): string {
  return `storage:\n  type: file\n  path: ${JSON.stringify(path)}\n`;
}

async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [key, data] of Object.entries(files)) {
    await mkdir(join(root, key, ".."), { recursive: true });
    await writeFile(join(root, key), data);
  }
}

// The real executable, as a user's shell runs it. Each spawn costs a Node start (about a
// second, several on a loaded machine), so each case here covers a whole workflow.
describe.concurrent("pepperpy-storage as a child process (file storage under ./data)", { timeout: 180_000 }, () => {
  it("--help lists every command and the exit codes; an unknown command is a usage error (exit 2)", async () => {
    const cwd = await workdir();
    const help = await runCli(["--help"], { cwd });
    expect(help.code).toBe(0);
    for (const cmd of ["put", "get", "ls", "rm", "stat", "cp", "sync", "du", "prune"]) expect(help.out).toMatch(new RegExp(`\\n  ${cmd} `));
    expect(help.out).toContain("Exit codes:");
    const bad = await runCli(["frobnicate"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("unknown command 'frobnicate'");
  });

  it("put FILE, put - (stdin, 5 MB), get to stdout and -o, ls, stat, cp, rm: exact bytes under ./data", async () => {
    const cwd = await workdir();
    const bytes = Buffer.concat([randomBytes(70_000), Buffer.from([0, 255, 0])]);
    await writeFile(join(cwd, "blob.bin"), bytes);
    const put = await runCli(["put", "blobs/a.bin", "blob.bin"], { cwd });
    expect(put.code, put.err).toBe(0);
    expect(put.out).toBe("stored blobs/a.bin (70.0 kB)\n");
    expect(Buffer.compare(await readFile(join(cwd, "data", "blobs", "a.bin")), bytes)).toBe(0);

    const big = randomBytes(5 * 1024 * 1024);
    const fromStdin = await runCli(["put", "uploads/big.dat", "-", "-m", "owner=alice", "--json"], { cwd, input: big });
    expect(fromStdin.code, fromStdin.err).toBe(0);
    expect(JSON.parse(fromStdin.out)).toMatchObject({ key: "uploads/big.dat", size: big.length, metadata: { owner: "alice" } });

    const get = await runCli(["get", "uploads/big.dat"], { cwd });
    expect(get.code, get.err).toBe(0);
    expect(Buffer.compare(get.stdout, big)).toBe(0);
    const toFile = await runCli(["get", "blobs/a.bin", "-o", "copy.bin"], { cwd });
    expect(toFile.out).toBe("wrote blobs/a.bin to copy.bin (70.0 kB)\n");
    expect(Buffer.compare(await readFile(join(cwd, "copy.bin")), bytes)).toBe(0);
    expect((await readdir(cwd)).filter((n) => n.includes("pepperpy"))).toEqual([]);

    const cp = await runCli(["cp", "blobs/a.bin", "blobs/b.bin"], { cwd });
    expect(cp.out).toBe("copied blobs/a.bin to blobs/b.bin\n");
    const stat = await runCli(["stat", "uploads/big.dat"], { cwd });
    expect(stat.out).toContain(`size:          ${big.length} bytes (5.24 MB)`);
    expect(stat.out).toContain("metadata:      owner=alice");
    const ls = await runCli(["ls", "--long"], { cwd });
    expect(ls.out).toMatch(/^\s+70003 {2}\S+Z {2}blobs\/a\.bin\n\s+70003 {2}\S+Z {2}blobs\/b\.bin\n\s+5242880 {2}\S+Z {2}uploads\/big\.dat\n$/);
    const rmr = await runCli(["rm", "-r", "blobs/", "uploads/"], { cwd });
    expect(rmr.out).toBe("deleted blobs/a.bin\ndeleted blobs/b.bin\ndeleted uploads/big.dat\n");
    expect(existsSync(join(cwd, "data", "blobs", "a.bin"))).toBe(false);
  });

  it("expected failures print one line without a stack trace and exit with the code of their class", async () => {
    const cwd = await workdir();
    const missing = await runCli(["get", "no/such/key"], { cwd });
    expect(missing.code).toBe(3);
    expect(missing.stdout.length).toBe(0);
    expect(oneErrorLine(missing)).toBe('error: Key not found [get "no/such/key" on file]');
    const invalid = await runCli(["--json", "put", "../etc/passwd", "-"], { cwd, input: "x" });
    expect(invalid.code).toBe(4);
    expect(JSON.parse(oneErrorLine(invalid))).toMatchObject({ error: { code: "VALIDATION", key: "../etc/passwd", retryable: false } });
    // ./storage.yaml is picked up when present.
    await writeFile(join(cwd, "storage.yaml"), "storage:\n  type: floppy\n");
    const badConfig = await runCli(["ls"], { cwd });
    expect(badConfig.code).toBe(5);
    expect(oneErrorLine(badConfig)).toMatch(/^error: storage\.yaml: storage\.type: unknown storage type "floppy"\. Known types: .*file.*s3/);
  });

  it("sync between two configs: --dry-run, then copy with --delete, then nothing left to do", async () => {
    const cwd = await workdir();
    await writeFile(join(cwd, "a.yaml"), fileConfig(join(cwd, "A")));
    await writeFile(join(cwd, "b.yaml"), fileConfig(join(cwd, "B")));
    await writeTree(join(cwd, "A"), { "docs/1.txt": "one", "docs/2.txt": "two", "other.txt": "not under the prefix" });
    await writeTree(join(cwd, "B"), { "docs/stale.txt": "only in B" });
    const dry = await runCli(["sync", "--from", "a.yaml", "--to", "b.yaml", "docs/", "--delete", "--dry-run"], { cwd });
    expect(dry.out).toBe(
      "would copy docs/1.txt (3 B, new)\nwould copy docs/2.txt (3 B, new)\nwould delete docs/stale.txt\n" +
        "dry run: would copy 2 objects (6 B), delete 1; 0 unchanged\n",
    );
    expect(existsSync(join(cwd, "B", "docs", "stale.txt"))).toBe(true);
    const sync = await runCli(["sync", "--from", "a.yaml", "--to", "b.yaml", "docs/", "--delete"], { cwd });
    expect(sync.code, sync.err).toBe(0);
    expect(sync.out).toContain("copied docs/1.txt (3 B)\n");
    expect(sync.out).toContain("deleted docs/stale.txt\n");
    expect(sync.out).toMatch(/synced "docs\/" to b\.yaml: 2 objects copied \(6 B\), 1 deleted, 0 unchanged in /);
    expect(await readFile(join(cwd, "B", "docs", "2.txt"), "utf8")).toBe("two");
    expect(existsSync(join(cwd, "B", "docs", "stale.txt"))).toBe(false);
    expect(existsSync(join(cwd, "B", "other.txt"))).toBe(false);
    const again = await runCli(["--json", "sync", "--from", "a.yaml", "--to", "b.yaml", "docs/", "--delete"], { cwd });
    expect(JSON.parse(again.out)).toMatchObject({ copied: 0, deleted: 0, unchanged: 2, actions: [] });
  });

  it("du and prune on ./data", async () => {
    const cwd = await workdir();
    await writeTree(join(cwd, "data"), { "logs/old.log": "x".repeat(10), "logs/new.log": "y".repeat(5), "img/a.png": Buffer.alloc(1000) });
    const old = new Date(Date.now() - 40 * 86_400_000);
    await utimes(join(cwd, "data", "logs", "old.log"), old, old);
    const du = await runCli(["du"], { cwd });
    expect(du.out).toMatch(/^ +SIZE +OBJECTS {2}PREFIX\n +1\.00 kB +1 {2}img\/\n +15 B +2 {2}logs\/\n +1\.0\d kB +3 {2}total\n$/);
    const prune = await runCli(["prune", "--older-than", "30d", "logs/"], { cwd });
    expect(prune.code, prune.err).toBe(0);
    expect(prune.out).toMatch(/^deleted logs\/old\.log \(\S+\)\npruned 1 object \(10 B\) last modified before \S+ \(older than 30d\)\n$/);
    expect(existsSync(join(cwd, "data", "logs", "old.log"))).toBe(false);
    expect(existsSync(join(cwd, "data", "logs", "new.log"))).toBe(true);
  });

  it("Ctrl-C during a streamed put stops cleanly: exit 130, one line, nothing stored", async () => {
    const cwd = await workdir();
    const child = spawnCli(["put", "stream/never-finished.bin", "-"], { cwd });
    const done = finish(child);
    child.stdin?.on("error", () => undefined);
    // Feed stdin until the file backend has a temp file open: the write is in flight.
    const chunk = Buffer.alloc(64 * 1024, 7);
    const deadline = Date.now() + 90_000;
    let inFlight = false;
    while (!inFlight && Date.now() < deadline) {
      child.stdin?.write(chunk);
      await new Promise((r) => setTimeout(r, 100));
      const dir = join(cwd, "data", "stream");
      inFlight = existsSync(dir) && (await readdir(dir)).length > 0;
    }
    expect(inFlight).toBe(true);
    child.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    expect(oneErrorLine(r)).toBe("interrupted");
    // Nothing stored and nothing left behind: no value, no temp file.
    const left = existsSync(join(cwd, "data", "stream")) ? await readdir(join(cwd, "data", "stream")) : [];
    expect(left).toEqual([]);
  });

  // `script` gives the CLI a pseudo-terminal, as a user's shell would; under CI a missing one fails.
  it.skipIf(!ptyAvailable())(
    "sync draws a progress bar with counts, bytes, rate and ETA on a terminal (skipped outside CI without util-linux script because no pty can be made)",
    async () => {
      const cwd = await workdir();
      await writeFile(join(cwd, "a.yaml"), fileConfig(join(cwd, "A")));
      await writeFile(join(cwd, "b.yaml"), fileConfig(join(cwd, "B")));
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 20; i++) files[`f${String(i).padStart(2, "0")}.bin`] = randomBytes(200_000);
      await writeTree(join(cwd, "A"), files);
      const quoted = [...CLI_COMMAND, "sync", "--from", "a.yaml", "--to", "b.yaml", "--concurrency", "1"].map((a) => `'${a}'`).join(" ");
      const child = spawn(SCRIPT, ["-qfec", quoted, "/dev/null"], { cwd, env: { ...process.env, NODE_OPTIONS: "", COLUMNS: "160" } });
      const r = await finish(child);
      expect(r.code, r.err + r.out).toBe(0);
      expect(r.out).toMatch(/sync .*\d+% \| \d+\/20 objects \| .*\/4\.00 MB \| .*\/s \| ETA/);
      expect(r.out).toContain("synced to b.yaml: 20 objects copied (4.00 MB), 0 deleted, 0 unchanged");
      // On a terminal the per-object lines are left out.
      expect(r.out).not.toContain("copied f00.bin");
    },
  );
});

// The same code through `run(argv, io)` in this process: every option and error class,
// without paying a process start per command line.
describe.concurrent("pepperpy-storage through run() (file storage)", { timeout: 120_000 }, () => {
  it("put: content type from the extension or -t, metadata, --if-not-exists (exit 7), empty stdin, missing or directory file", async () => {
    const { dir, a } = await configured();
    const json = await runInProcess(["-c", a, "put", "notes/a.txt", "-", "--json"], { input: "hello" });
    expect(JSON.parse(json.out)).toMatchObject({ key: "notes/a.txt", size: 5, contentType: expect.stringContaining("text/plain"), valueType: "bytes" });
    const typed = await runInProcess(["-c", a, "put", "x", "-", "-t", "application/x-test", "-m", "A=1", "-m", "b=2", "--json"], { input: "1" });
    expect(JSON.parse(typed.out)).toMatchObject({ contentType: "application/x-test", metadata: { a: "1", b: "2" } });
    await writeFile(join(dir, "pic.png"), Buffer.from([1, 2, 3]));
    const fromExt = await runInProcess(["-c", a, "put", "images/pic", join(dir, "pic.png"), "--json"]);
    expect(JSON.parse(fromExt.out)).toMatchObject({ contentType: "image/png", size: 3 });
    const empty = await runInProcess(["-c", a, "put", "empty", "-", "--json"], { input: "" });
    expect(JSON.parse(empty.out)).toMatchObject({ size: 0 });
    expect((await runInProcess(["-c", a, "put", "once", "-", "--if-not-exists"], { input: "1" })).code).toBe(0);
    const again = await runInProcess(["-c", a, "put", "once", "-", "--if-not-exists"], { input: "2" });
    expect(again.code).toBe(7);
    oneErrorLine(again);
    expect((await runInProcess(["-c", a, "get", "once"])).out).toBe("1");
    const noFile = await runInProcess(["-c", a, "put", "k", join(dir, "nope.txt")]);
    expect(noFile.code).toBe(3);
    expect(oneErrorLine(noFile)).toContain("File not found:");
    const isDir = await runInProcess(["-c", a, "put", "k", dir]);
    expect(isDir.code).toBe(4);
    expect(oneErrorLine(isDir)).toContain("is a directory");
    const badMeta = await runInProcess(["-c", a, "put", "k", "-", "-m", "novalue"], { input: "" });
    expect(badMeta.code).toBe(2);
  });

  it("ls: prefixes, --json (empty too), sorted by code point; rm: missing keys are reported, rm -r '' is refused", async () => {
    const { a } = await configured();
    for (const [key, text] of [
      ["b/2.txt", "22"],
      ["a/1.txt", "1"],
      ["b/1.txt", "333"],
      ["c.txt", "c"],
      ["B.txt", "upper"],
    ] as const) {
      expect((await runInProcess(["-c", a, "put", key, "-"], { input: text })).code).toBe(0);
    }
    expect((await runInProcess(["-c", a, "ls"])).out).toBe("B.txt\na/1.txt\nb/1.txt\nb/2.txt\nc.txt\n");
    expect((await runInProcess(["-c", a, "ls", "b/"])).out).toBe("b/1.txt\nb/2.txt\n");
    const listed = JSON.parse((await runInProcess(["-c", a, "ls", "b", "--json"])).out) as { key: string; size: number; lastModified: string }[];
    expect(listed.map((e) => [e.key, e.size])).toEqual([
      ["b/1.txt", 3],
      ["b/2.txt", 2],
    ]);
    expect(Number.isNaN(Date.parse(listed[0]!.lastModified))).toBe(false);
    expect(JSON.parse((await runInProcess(["-c", a, "ls", "zzz", "--json"])).out)).toEqual([]);
    const rm = await runInProcess(["-c", a, "rm", "c.txt", "never-existed", "--json"]);
    expect(JSON.parse(rm.out)).toEqual({ deleted: ["c.txt"], missing: ["never-existed"] });
    expect(rm.code).toBe(3);
    const everything = await runInProcess(["-c", a, "rm", "-r", ""]);
    expect(everything.code).toBe(4);
    expect(oneErrorLine(everything)).toContain("Refusing to delete every key");
    const invalid = await runInProcess(["-c", a, "rm", "ok", "a//b"]);
    expect(invalid.code).toBe(4);
    expect((await runInProcess(["-c", a, "stat", "B.txt", "--json"])).code).toBe(0);
  });

  it("every config mistake is exit 5 with one line naming the file and field", async () => {
    const { dir } = await configured();
    const cases: [string, string, RegExp][] = [
      ["bad-type.yaml", "storage:\n  type: floppy\n", /unknown storage type "floppy"/],
      ["bad-field.yaml", "storage:\n  type: file\n  path: ./x\n  options:\n    max_size: lots\n", /storage\.options\.max_size: expected a size/],
      ["unknown.yaml", "storage:\n  type: file\n  path: ./x\n  colour: red\n", /storage\.colour: unknown field/],
      ["bad.yaml", "storage: [unclosed\n", /invalid YAML/],
      ["nosection.yaml", "other: 1\n", /expected a top-level "storage:" section/],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML ${VAR}, interpolated by loadConfig
      ["env.yaml", "storage:\n  type: file\n  path: ${PEPPERPY_TEST_UNSET_VAR}\n", /PEPPERPY_TEST_UNSET_VAR is not set/],
    ];
    for (const [name, text, re] of cases) {
      await writeFile(join(dir, name), text);
      const r = await runInProcess(["-c", join(dir, name), "ls"]);
      expect(r.code, name).toBe(5);
      expect(oneErrorLine(r), name).toMatch(re);
    }
    const missing = await runInProcess(["-c", join(dir, "missing.yaml"), "ls"]);
    expect(missing.code).toBe(5);
    expect(oneErrorLine(missing)).toContain("missing.yaml does not exist");
    const viaEnv = await runInProcess(["ls"], { env: { PEPPERPY_STORAGE_CONFIG: join(dir, "bad-type.yaml") } });
    expect(viaEnv.code).toBe(5);
  });

  it("usage errors are exit 2: missing arguments and options, bad numbers and ages", async () => {
    const { a } = await configured();
    const cases: [string[], RegExp][] = [
      [["get"], /missing required argument 'key'/],
      [["sync", "--from", a], /required option '--to <file>' not specified/],
      [["sync", "--to", a, "--concurrency", "0"], /expected a positive integer/],
      [["du", "--depth", "-1"], /expected 0 or a positive integer|unknown option/],
      [["prune", "--older-than", "30"], /30d/],
      [["prune"], /required option '--older-than <age>'/],
      [["ls", "--bogus"], /unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = await runInProcess(["-c", a, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(re);
    }
    const help = await runInProcess(["prune", "--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("--older-than <age>");
  });

  it("cp within a storage and into another (--to), keeping content type and metadata; a missing source is exit 3", async () => {
    const { a, b, dir } = await configured();
    await runInProcess(["-c", a, "put", "src.json", "-", "-m", "owner=bob", "-t", "application/json"], { input: '{"a":1}' });
    const across = await runInProcess(["-c", a, "cp", "src.json", "elsewhere.json", "--to", b, "--json"]);
    expect(JSON.parse(across.out)).toEqual({ from: "src.json", to: "elsewhere.json", toConfig: b });
    expect(await readFile(join(dir, "B", "elsewhere.json"), "utf8")).toBe('{"a":1}');
    expect(JSON.parse((await runInProcess(["-c", b, "stat", "elsewhere.json", "--json"])).out)).toMatchObject({ contentType: "application/json", metadata: { owner: "bob" } });
    const missing = await runInProcess(["-c", a, "cp", "nope", "x"]);
    expect(missing.code).toBe(3);
    oneErrorLine(missing);
  });

  it("sync: changed sizes and newer sources are copied with their reason; --from defaults to --config", async () => {
    const { dir, a, b } = await configured();
    await writeTree(join(dir, "A"), { "docs/1.txt": "one", "docs/2.txt": "two" });
    expect((await runInProcess(["sync", "--from", a, "--to", b])).code).toBe(0);
    await writeFile(join(dir, "A", "docs", "2.txt"), "two, longer now");
    // The destination copy of 1.txt predates a later edit of the source.
    const earlier = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, "B", "docs", "1.txt"), earlier, earlier);
    await writeFile(join(dir, "A", "new.txt"), "new");
    const changed = JSON.parse((await runInProcess(["-c", a, "sync", "--to", b, "--json"])).out);
    expect(changed.actions).toEqual([
      { op: "copy", key: "docs/1.txt", size: 3, reason: "newer" },
      { op: "copy", key: "docs/2.txt", size: 15, reason: "size" },
      { op: "copy", key: "new.txt", size: 3, reason: "new" },
    ]);
    expect(changed).toMatchObject({ copied: 3, copiedBytes: 21, unchanged: 0 });
    expect(await readFile(join(dir, "B", "docs", "2.txt"), "utf8")).toBe("two, longer now");
    const idle = JSON.parse((await runInProcess(["-c", a, "sync", "--to", b, "--json"])).out);
    expect(idle).toMatchObject({ copied: 0, unchanged: 3 });
  });

  it("sync stops at the first failure with its exit code, and aborting stops it with 130", async () => {
    const { dir, a } = await configured();
    await writeTree(join(dir, "A"), { "x/1.txt": "1", "x/2.txt": "2" });
    // A destination whose directory is a file: every write fails the same way.
    await writeFile(join(dir, "blocked"), "not a directory");
    const blocked = join(dir, "blocked.yaml");
    await writeFile(blocked, fileConfig(join(dir, "blocked")));
    const failed = await runInProcess(["sync", "--from", a, "--to", blocked]);
    expect(failed.code).not.toBe(0);
    expect(failed.code).not.toBe(1);
    oneErrorLine(failed);
    const aborted = new AbortController();
    aborted.abort();
    const r = await runInProcess(["sync", "--from", a, "--to", join(dir, "b.yaml")], { signal: aborted.signal });
    expect(r.code).toBe(130);
    expect(r.err).toBe("interrupted\n");
  });

  it("du groups by depth below the prefix and adds up to the total", async () => {
    const { dir, a } = await configured();
    const sizes: Record<string, number> = { "logs/2024/a.log": 100, "logs/2024/b.log": 50, "logs/2025/c.log": 10, "logs/top.log": 1, "img/x.png": 1000, "readme.txt": 5 };
    await writeTree(join(dir, "A"), Object.fromEntries(Object.entries(sizes).map(([k, n]) => [k, Buffer.alloc(n, 1)])));
    const d1 = JSON.parse((await runInProcess(["-c", a, "du", "--json"])).out);
    expect(d1).toMatchObject({ objects: 6, bytes: 1166, depth: 1 });
    expect(d1.groups).toEqual([
      { prefix: "", objects: 1, bytes: 5 },
      { prefix: "img/", objects: 1, bytes: 1000 },
      { prefix: "logs/", objects: 4, bytes: 161 },
    ]);
    const d2 = JSON.parse((await runInProcess(["-c", a, "du", "logs/", "-d", "1", "--json"])).out);
    expect(d2.groups).toEqual([
      { prefix: "logs/", objects: 1, bytes: 1 },
      { prefix: "logs/2024/", objects: 2, bytes: 150 },
      { prefix: "logs/2025/", objects: 1, bytes: 10 },
    ]);
    const exact = await runInProcess(["-c", a, "du", "--bytes", "--depth", "2"]);
    expect(exact.out).toMatch(/\n\s+150\s+2 {2}logs\/2024\/\n/);
    expect(exact.out).toMatch(/\n\s+1166\s+6 {2}total\n$/);
    expect(JSON.parse((await runInProcess(["-c", a, "du", "--depth", "0", "--json"])).out)).toMatchObject({ objects: 6, bytes: 1166, groups: [] });
  });

  it("prune: --dry-run lists and keeps, --json reports, only under the prefix and older than the age", async () => {
    const { dir, a } = await configured();
    await writeTree(join(dir, "A"), { "logs/old1.log": "x".repeat(10), "logs/old2.log": "x".repeat(10), "logs/new.log": "n", "keep/old.log": "k" });
    const old = new Date(Date.now() - 40 * 86_400_000);
    for (const k of ["logs/old1.log", "logs/old2.log", "keep/old.log"]) await utimes(join(dir, "A", k), old, old);
    const dry = await runInProcess(["-c", a, "prune", "--older-than", "30d", "logs/", "--dry-run"]);
    expect(dry.out).toMatch(/^would delete logs\/old1\.log \(\S+, 10 B\)\nwould delete logs\/old2\.log \(\S+, 10 B\)\ndry run: would delete 2 objects \(20 B\)/);
    expect(existsSync(join(dir, "A", "logs", "old1.log"))).toBe(true);
    const pruned = JSON.parse((await runInProcess(["-c", a, "prune", "--older-than", "4w", "logs/", "--json"])).out);
    expect(pruned).toMatchObject({ prefix: "logs/", olderThan: "4w", dryRun: false, objects: 2, bytes: 20, keys: ["logs/old1.log", "logs/old2.log"] });
    expect((await runInProcess(["-c", a, "ls"])).out).toBe("keep/old.log\nlogs/new.log\n");
  });
});
