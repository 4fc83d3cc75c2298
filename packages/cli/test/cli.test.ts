import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliResult, finish, runCli, spawnCli } from "./run-cli.js";

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

// Each case spawns the CLI several times; on a loaded 2-core machine a spawn can take seconds.
describe.concurrent("pepperpy-storage on file storage (default ./data)", { timeout: 180_000 }, () => {
  it("shows help for the program and for every command, and rejects unknown commands with exit 2", async () => {
    const cwd = await workdir();
    const help = await runCli(["--help"], { cwd });
    expect(help.code).toBe(0);
    for (const cmd of ["put", "get", "ls", "rm", "stat", "cp", "sync", "du", "prune"]) expect(help.out).toContain(cmd);
    expect(help.out).toContain("Exit codes:");
    const sub = await runCli(["sync", "--help"], { cwd });
    expect(sub.code).toBe(0);
    expect(sub.out).toContain("--dry-run");
    expect(sub.out).toContain("--concurrency <n>");
    const bad = await runCli(["frobnicate"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("unknown command");
    const missingArg = await runCli(["get"], { cwd });
    expect(missingArg.code).toBe(2);
    expect(missingArg.err).toContain("missing required argument");
  });

  it("put FILE and get round-trip exact bytes; files land under ./data; get -o writes a file", async () => {
    const cwd = await workdir();
    const bytes = Buffer.concat([randomBytes(70_000), Buffer.from([0, 255, 0])]);
    await writeFile(join(cwd, "blob.bin"), bytes);
    const put = await runCli(["put", "blobs/a.bin", "blob.bin"], { cwd });
    expect(put.code, put.err).toBe(0);
    expect(put.out).toBe("stored blobs/a.bin (70.0 kB)\n");
    expect(Buffer.compare(await readFile(join(cwd, "data", "blobs", "a.bin")), bytes)).toBe(0);

    const get = await runCli(["get", "blobs/a.bin"], { cwd });
    expect(get.code, get.err).toBe(0);
    expect(Buffer.compare(get.stdout, bytes)).toBe(0);

    const toFile = await runCli(["get", "blobs/a.bin", "-o", "copy.bin", "--json"], { cwd });
    expect(toFile.code, toFile.err).toBe(0);
    expect(JSON.parse(toFile.out)).toEqual({ key: "blobs/a.bin", size: bytes.length, file: "copy.bin" });
    expect(Buffer.compare(await readFile(join(cwd, "copy.bin")), bytes)).toBe(0);
    // No temp file is left next to the output.
    expect((await readdir(cwd)).filter((n) => n.includes("pepperpy"))).toEqual([]);
  });

  it("put - streams stdin (5 MB), with content type and metadata shown by stat", async () => {
    const cwd = await workdir();
    const big = randomBytes(5 * 1024 * 1024);
    const put = await runCli(["put", "uploads/big.dat", "-", "-m", "owner=alice", "-t", "application/x-test", "--json"], { cwd, input: big });
    expect(put.code, put.err).toBe(0);
    const info = JSON.parse(put.out);
    expect(info).toMatchObject({ key: "uploads/big.dat", size: big.length, contentType: "application/x-test", metadata: { owner: "alice" } });
    const get = await runCli(["get", "uploads/big.dat"], { cwd });
    expect(get.stdout.length).toBe(big.length);
    expect(Buffer.compare(get.stdout, big)).toBe(0);

    const stat = await runCli(["stat", "uploads/big.dat"], { cwd });
    expect(stat.code, stat.err).toBe(0);
    expect(stat.out).toContain(`size:          ${big.length} bytes (5.24 MB)`);
    expect(stat.out).toContain("content type:  application/x-test");
    expect(stat.out).toContain("metadata:      owner=alice");
    const statJson = JSON.parse((await runCli(["stat", "uploads/big.dat", "--json"], { cwd })).out);
    expect(statJson).toMatchObject({ key: "uploads/big.dat", size: big.length, metadata: { owner: "alice" } });
    expect(Number.isNaN(Date.parse(statJson.lastModified))).toBe(false);

    // Content type from the extension when not given; an empty stdin stores 0 bytes.
    const empty = await runCli(["put", "notes/empty.txt", "-", "--json"], { cwd, input: "" });
    expect(JSON.parse(empty.out)).toMatchObject({ size: 0, contentType: expect.stringContaining("text/plain") });
  });

  it("ls lists sorted keys by prefix, --long shows sizes, --json parses; rm deletes keys and prefixes", async () => {
    const cwd = await workdir();
    for (const [key, text] of [
      ["b/2.txt", "22"],
      ["a/1.txt", "1"],
      ["b/1.txt", "333"],
      ["c.txt", "c"],
    ] as const) {
      const r = await runCli(["put", key, "-"], { cwd, input: text });
      expect(r.code, r.err).toBe(0);
    }
    expect((await runCli(["ls"], { cwd })).out).toBe("a/1.txt\nb/1.txt\nb/2.txt\nc.txt\n");
    expect((await runCli(["ls", "b/"], { cwd })).out).toBe("b/1.txt\nb/2.txt\n");
    const long = (await runCli(["ls", "b/", "--long"], { cwd })).out.split("\n");
    expect(long[0]).toMatch(/^\s+3 {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}b\/1\.txt$/);
    const listed = JSON.parse((await runCli(["--json", "ls"], { cwd })).out) as { key: string; size: number }[];
    expect(listed.map((e) => [e.key, e.size])).toEqual([
      ["a/1.txt", 1],
      ["b/1.txt", 3],
      ["b/2.txt", 2],
      ["c.txt", 1],
    ]);
    expect(JSON.parse((await runCli(["ls", "zzz", "--json"], { cwd })).out)).toEqual([]);

    const rm = await runCli(["rm", "c.txt", "a/1.txt", "never-existed"], { cwd });
    expect(rm.code, rm.err).toBe(0);
    const rmr = await runCli(["rm", "-r", "b/", "--json"], { cwd });
    expect(JSON.parse(rmr.out)).toEqual({ deleted: ["b/1.txt", "b/2.txt"] });
    expect((await runCli(["ls"], { cwd })).out).toBe("");
    const everything = await runCli(["rm", "-r", ""], { cwd });
    expect(everything.code).toBe(4);
    expect(oneErrorLine(everything)).toContain("Refusing to delete every key");
  });

  it("cp copies within a storage and into another configured storage", async () => {
    const cwd = await workdir();
    await writeFile(join(cwd, "other.yaml"), fileConfig(join(cwd, "other")));
    await runCli(["put", "src.json", "-"], { cwd, input: '{"a":1}' });
    const cp = await runCli(["cp", "src.json", "copies/dst.json"], { cwd });
    expect(cp.code, cp.err).toBe(0);
    expect(cp.out).toBe("copied src.json to copies/dst.json\n");
    expect((await runCli(["get", "copies/dst.json"], { cwd })).out).toBe('{"a":1}');
    const across = await runCli(["cp", "src.json", "elsewhere.json", "--to", "other.yaml"], { cwd });
    expect(across.code, across.err).toBe(0);
    expect(await readFile(join(cwd, "other", "elsewhere.json"), "utf8")).toBe('{"a":1}');
    const missing = await runCli(["cp", "nope", "x"], { cwd });
    expect(missing.code).toBe(3);
  });

  it("expected failures print one line without a stack trace and exit with the code of their class", async () => {
    const cwd = await workdir();
    const missing = await runCli(["get", "no/such/key"], { cwd });
    expect(missing.code).toBe(3);
    expect(missing.stdout.length).toBe(0);
    expect(oneErrorLine(missing)).toBe('error: Key not found [getStream "no/such/key" on file]');

    const statMissing = await runCli(["stat", "nope", "--json"], { cwd });
    expect(statMissing.code).toBe(3);
    expect(JSON.parse(oneErrorLine(statMissing))).toMatchObject({ error: { code: "NOT_FOUND", key: "nope", retryable: false } });

    for (const key of ["../etc/passwd", "a//b", "/abs"]) {
      const invalid = await runCli(["put", key, "-"], { cwd, input: "x" });
      expect(invalid.code, key).toBe(4);
      expect(oneErrorLine(invalid)).toContain("Invalid key");
    }

    const noFile = await runCli(["put", "k", "does-not-exist.txt"], { cwd });
    expect(noFile.code).toBe(3);
    expect(oneErrorLine(noFile)).toContain("File not found: does-not-exist.txt");

    const noConfig = await runCli(["--config", "missing.yaml", "ls"], { cwd });
    expect(noConfig.code).toBe(5);
    expect(oneErrorLine(noConfig)).toContain("missing.yaml does not exist");

    await writeFile(join(cwd, "bad-type.yaml"), "storage:\n  type: floppy\n");
    const badType = await runCli(["-c", "bad-type.yaml", "ls"], { cwd });
    expect(badType.code).toBe(5);
    expect(oneErrorLine(badType)).toContain('unknown storage type "floppy"');

    await writeFile(join(cwd, "bad-field.yaml"), "storage:\n  type: file\n  path: ./x\n  options:\n    max_size: lots\n");
    const badField = await runCli(["-c", "bad-field.yaml", "ls"], { cwd });
    expect(badField.code).toBe(5);
    expect(oneErrorLine(badField)).toContain("max_size");

    await writeFile(join(cwd, "bad.yaml"), "storage: [unclosed\n");
    const badYaml = await runCli(["-c", "bad.yaml", "ls"], { cwd });
    expect(badYaml.code).toBe(5);
    expect(oneErrorLine(badYaml)).toContain("invalid YAML");

    const badAge = await runCli(["prune", "--older-than", "30"], { cwd });
    expect(badAge.code).toBe(2);
    expect(badAge.err).toContain("30d");

    // The default ./storage.yaml is used when present.
    await writeFile(join(cwd, "storage.yaml"), "storage:\n  type: floppy\n");
    expect((await runCli(["ls"], { cwd })).code).toBe(5);
  });

  it("create-only put (--if-not-exists) refuses to overwrite with exit 7", async () => {
    const cwd = await workdir();
    expect((await runCli(["put", "once", "-", "--if-not-exists"], { cwd, input: "1" })).code).toBe(0);
    const again = await runCli(["put", "once", "-", "--if-not-exists"], { cwd, input: "2" });
    expect(again.code).toBe(7);
    oneErrorLine(again);
    expect((await runCli(["get", "once"], { cwd })).out).toBe("1");
  });

  it("sync copies new and changed values, is idempotent, --delete removes extras, --dry-run changes nothing", async () => {
    const cwd = await workdir();
    await writeFile(join(cwd, "a.yaml"), fileConfig(join(cwd, "A")));
    await writeFile(join(cwd, "b.yaml"), fileConfig(join(cwd, "B")));
    await mkdir(join(cwd, "A", "docs"), { recursive: true });
    await mkdir(join(cwd, "B", "docs"), { recursive: true });
    await writeFile(join(cwd, "A", "docs", "1.txt"), "one");
    await writeFile(join(cwd, "A", "docs", "2.txt"), "two");
    await writeFile(join(cwd, "A", "other.txt"), "not under the prefix");
    await writeFile(join(cwd, "B", "docs", "stale.txt"), "only in B");

    const dry = await runCli(["sync", "--from", "a.yaml", "--to", "b.yaml", "docs/", "--delete", "--dry-run"], { cwd });
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toBe(
      "would copy docs/1.txt (3 B, new)\nwould copy docs/2.txt (3 B, new)\nwould delete docs/stale.txt\n" +
        "dry run: would copy 2 objects (6 B), delete 1; 0 unchanged\n",
    );
    expect(existsSync(join(cwd, "B", "docs", "1.txt"))).toBe(false);
    expect(existsSync(join(cwd, "B", "docs", "stale.txt"))).toBe(true);

    const sync = await runCli(["sync", "--from", "a.yaml", "--to", "b.yaml", "docs/", "--delete", "--concurrency", "2"], { cwd });
    expect(sync.code, sync.err).toBe(0);
    expect(sync.out).toContain("copied docs/1.txt (3 B)\n");
    expect(sync.out).toContain("deleted docs/stale.txt\n");
    expect(sync.out).toMatch(/synced "docs\/" to b\.yaml: 2 objects copied \(6 B\), 1 deleted, 0 unchanged in /);
    expect(await readFile(join(cwd, "B", "docs", "2.txt"), "utf8")).toBe("two");
    expect(existsSync(join(cwd, "B", "docs", "stale.txt"))).toBe(false);
    expect(existsSync(join(cwd, "B", "other.txt"))).toBe(false);

    const again = await runCli(["--json", "sync", "--from", "a.yaml", "--to", "b.yaml", "docs/", "--delete"], { cwd });
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ prefix: "docs/", dryRun: false, copied: 0, deleted: 0, unchanged: 2, actions: [] });

    await writeFile(join(cwd, "A", "docs", "2.txt"), "two, longer now");
    const changed = JSON.parse((await runCli(["--json", "sync", "--from", "a.yaml", "--to", "b.yaml"], { cwd })).out);
    expect(changed.actions).toEqual([
      { op: "copy", key: "docs/2.txt", size: 15, reason: "size" },
      { op: "copy", key: "other.txt", size: 20, reason: "new" },
    ]);
    expect(await readFile(join(cwd, "B", "docs", "2.txt"), "utf8")).toBe("two, longer now");

    // --from defaults to the global config.
    const viaGlobal = await runCli(["-c", "a.yaml", "sync", "--to", "b.yaml", "--json"], { cwd });
    expect(JSON.parse(viaGlobal.out)).toMatchObject({ copied: 0, unchanged: 3 });
    const noTo = await runCli(["sync", "--from", "a.yaml"], { cwd });
    expect(noTo.code).toBe(2);
  });

  it("du counts objects and bytes per prefix at the requested depth", async () => {
    const cwd = await workdir();
    const files: Record<string, number> = { "logs/2024/a.log": 100, "logs/2024/b.log": 50, "logs/2025/c.log": 10, "logs/top.log": 1, "img/x.png": 1000, "readme.txt": 5 };
    for (const [key, size] of Object.entries(files)) {
      await mkdir(join(cwd, "data", key, ".."), { recursive: true });
      await writeFile(join(cwd, "data", key), Buffer.alloc(size, 1));
    }
    const d1 = JSON.parse((await runCli(["du", "--json"], { cwd })).out);
    expect(d1).toMatchObject({ objects: 6, bytes: 1166, depth: 1 });
    expect(d1.groups).toEqual([
      { prefix: "", objects: 1, bytes: 5 },
      { prefix: "img/", objects: 1, bytes: 1000 },
      { prefix: "logs/", objects: 4, bytes: 161 },
    ]);
    const d2 = JSON.parse((await runCli(["du", "logs/", "--depth", "1", "--json"], { cwd })).out);
    expect(d2.groups).toEqual([
      { prefix: "logs/", objects: 1, bytes: 1 },
      { prefix: "logs/2024/", objects: 2, bytes: 150 },
      { prefix: "logs/2025/", objects: 1, bytes: 10 },
    ]);
    const human = await runCli(["du", "--bytes"], { cwd });
    expect(human.code, human.err).toBe(0);
    expect(human.out).toMatch(/^\s+SIZE\s+OBJECTS\s+PREFIX\n/);
    expect(human.out).toMatch(/\n\s+161\s+4 {2}logs\/\n/);
    expect(human.out).toMatch(/\n\s+1166\s+6 {2}total\n$/);
    const total = JSON.parse((await runCli(["du", "--depth", "0", "--json"], { cwd })).out);
    expect(total).toMatchObject({ objects: 6, bytes: 1166, groups: [] });
  });

  it("prune deletes only objects older than the age, under the prefix; --dry-run deletes nothing", async () => {
    const cwd = await workdir();
    const old = new Date(Date.now() - 40 * 86_400_000);
    for (const key of ["logs/old1.log", "logs/old2.log", "logs/new.log", "keep/old.log"]) {
      await mkdir(join(cwd, "data", key, ".."), { recursive: true });
      await writeFile(join(cwd, "data", key), "x".repeat(10));
      if (key.includes("old")) await utimes(join(cwd, "data", key), old, old);
    }
    const dry = await runCli(["prune", "--older-than", "30d", "logs/", "--dry-run"], { cwd });
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain("would delete logs/old1.log");
    expect(dry.out).toContain("would delete logs/old2.log");
    expect(dry.out).not.toContain("new.log");
    expect(dry.out).toMatch(/dry run: would delete 2 objects \(20 B\) last modified before .* \(older than 30d\)\n$/);
    expect(existsSync(join(cwd, "data", "logs", "old1.log"))).toBe(true);

    const prune = JSON.parse((await runCli(["prune", "--older-than", "30d", "logs/", "--json"], { cwd })).out);
    expect(prune).toMatchObject({ prefix: "logs/", olderThan: "30d", dryRun: false, objects: 2, bytes: 20, keys: ["logs/old1.log", "logs/old2.log"] });
    expect((await runCli(["ls"], { cwd })).out).toBe("keep/old.log\nlogs/new.log\n");
    const none = await runCli(["prune", "--older-than", "1w"], { cwd });
    expect(none.out).toContain("pruned 1 object (10 B)");
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
    const after = await runCli(["ls", "stream/"], { cwd });
    expect(after.out).toBe("");
    expect((await runCli(["stat", "stream/never-finished.bin"], { cwd })).code).toBe(3);
  });
});

describe("sync progress bar", { timeout: 120_000 }, () => {
  const hasScript = existsSync("/usr/bin/script");
  // `script` gives the CLI a pseudo-terminal, as a user's shell would.
  it.skipIf(!hasScript)("draws a bar with counts, bytes, rate and ETA on a terminal (skipped without util-linux script because no pty can be made)", async () => {
    const cwd = await workdir();
    await writeFile(join(cwd, "a.yaml"), fileConfig(join(cwd, "A")));
    await writeFile(join(cwd, "b.yaml"), fileConfig(join(cwd, "B")));
    await mkdir(join(cwd, "A"), { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(join(cwd, "A", `f${i}.bin`), randomBytes(200_000));
    const { CLI_COMMAND } = await import("./run-cli.js");
    const quoted = [...CLI_COMMAND, "sync", "--from", "a.yaml", "--to", "b.yaml", "--concurrency", "1"].map((a) => `'${a}'`).join(" ");
    const { spawn } = await import("node:child_process");
    const child = spawn("/usr/bin/script", ["-qfec", quoted, "/dev/null"], { cwd, env: { ...process.env, NODE_OPTIONS: "", COLUMNS: "160" } });
    const r = await finish(child);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/sync .*\d+% \| \d+\/20 objects \| .*\/4\.00 MB \| .*\/s \| ETA/);
    expect(r.out).toContain("synced to b.yaml: 20 objects copied (4.00 MB), 0 deleted, 0 unchanged");
    // On a terminal the per-object lines are left out.
    expect(r.out).not.toContain("copied f0.bin");
  });
});
