import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type S3Server, startS3Server } from "@pepperpy/storage-testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, runInProcess } from "./run-cli.js";

let server: S3Server;
let cwd: string;

/** The config a user writes for an S3-compatible server (s3rver needs path-style URLs and no optional checksums). */
function s3Config(endpoint: string, prefix: string, extra: string[] = []): string {
  return [
    "storage:",
    "  type: s3",
    "  bucket: cli",
    `  prefix: ${prefix}`,
    `  endpoint: ${endpoint}`,
    "  region: us-east-1",
    "  force_path_style: true",
    "  access_key_id: S3RVER",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a YAML ${VAR}, interpolated by loadConfig
    "  secret_access_key: ${S3_SECRET}",
    "  checksums: when_required",
    ...extra,
    "",
  ].join("\n");
}

beforeAll(async () => {
  server = await startS3Server({ bucket: "cli" });
  cwd = await mkdtemp(join(tmpdir(), "pepperpy-cli-s3-"));
  await writeFile(join(cwd, "s3.yaml"), s3Config(server.endpoint, "main/"));
  await writeFile(join(cwd, "s3-sync.yaml"), s3Config(server.endpoint, "mirror/"));
  await writeFile(join(cwd, "local.yaml"), `storage:\n  type: file\n  path: ${JSON.stringify(join(cwd, "local"))}\n`);
  await writeFile(join(cwd, "back.yaml"), `storage:\n  type: file\n  path: ${JSON.stringify(join(cwd, "back"))}\n`);
  // Nothing listens on port 1: the connection is refused at once.
  await writeFile(join(cwd, "down.yaml"), s3Config("http://127.0.0.1:1", "x/", ["  max_attempts: 1"]));
});

afterAll(async () => {
  await server?.stop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

const env = { S3_SECRET: "S3RVER" };

describe.concurrent("pepperpy-storage on S3 (s3rver)", { timeout: 180_000 }, () => {
  it("as a child process: put FILE, get to stdout, a missing key is exit 3", async () => {
    const bytes = randomBytes(300_000);
    await writeFile(join(cwd, "blob.bin"), bytes);
    const put = await runCli(["-c", "s3.yaml", "put", "blobs/a.bin", "blob.bin"], { cwd, env });
    expect(put.code, put.err).toBe(0);
    expect(put.out).toBe("stored blobs/a.bin (300 kB)\n");
    const get = await runCli(["-c", "s3.yaml", "get", "blobs/a.bin"], { cwd, env });
    expect(Buffer.compare(get.stdout, bytes)).toBe(0);
    const missing = await runCli(["-c", "s3.yaml", "get", "blobs/none.bin"], { cwd, env });
    expect(missing.code).toBe(3);
    expect(missing.err).toBe('error: Key not found [getStream "blobs/none.bin" on s3]\n');
  });

  it("put -, ls --long, stat, cp (server-side), rm -r", async () => {
    const c = join(cwd, "s3.yaml");
    expect((await runInProcess(["-c", c, "put", "notes/hello.txt", "-", "-m", "lang=en"], { env, input: "hello" })).code).toBe(0);
    expect((await runInProcess(["-c", c, "put", "notes/x.bin", "-"], { env, input: randomBytes(10) })).code).toBe(0);
    const ls = await runInProcess(["-c", c, "ls", "notes/", "--long"], { env });
    expect(ls.out).toMatch(/^\s+5 {2}\S+Z {2}notes\/hello\.txt\n\s+10 {2}\S+Z {2}notes\/x\.bin\n$/);
    const statRun = await runInProcess(["-c", c, "stat", "notes/hello.txt", "--json"], { env });
    expect(statRun.code, statRun.err).toBe(0);
    const stat = JSON.parse(statRun.out);
    expect(stat).toMatchObject({ key: "notes/hello.txt", size: 5, metadata: { lang: "en" } });
    expect((await runInProcess(["-c", c, "cp", "notes/hello.txt", "notes/copy.txt"], { env })).code).toBe(0);
    expect((await runInProcess(["-c", c, "get", "notes/copy.txt"], { env })).out).toBe("hello");
    const rmr = await runInProcess(["-c", c, "rm", "-r", "notes/", "--json"], { env });
    expect(rmr.code, rmr.err).toBe(0);
    expect(JSON.parse(rmr.out)).toEqual({ deleted: ["notes/copy.txt", "notes/hello.txt", "notes/x.bin"] });
    expect((await runInProcess(["-c", c, "ls", "notes/"], { env })).out).toBe("");
  });

  it("sync files -> S3 -> files round-trips every byte; --delete and --dry-run on S3", async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) files[`set/${String(i).padStart(2, "0")}.bin`] = randomBytes(1000 * (i + 1));
    for (const [key, data] of Object.entries(files)) {
      await mkdir(join(cwd, "local", "set"), { recursive: true });
      await writeFile(join(cwd, "local", key), data);
    }
    const up = await runCli(["sync", "--from", "local.yaml", "--to", "s3-sync.yaml", "--json"], { cwd, env });
    expect(up.code, up.err).toBe(0);
    expect(JSON.parse(up.out)).toMatchObject({ copied: 12, copiedBytes: 78_000, deleted: 0 });
    const at = (f: string) => join(cwd, f);
    const down = await runInProcess(["sync", "--from", at("s3-sync.yaml"), "--to", at("back.yaml"), "--concurrency", "4"], { env });
    expect(down.code, down.err).toBe(0);
    expect(down.out).toContain("12 objects copied (78.0 kB)");
    for (const [key, data] of Object.entries(files)) expect(Buffer.compare(await readFile(join(cwd, "back", key)), data), key).toBe(0);

    await rm(join(cwd, "local", "set", "00.bin"));
    const dry = await runInProcess(["sync", "--from", at("local.yaml"), "--to", at("s3-sync.yaml"), "--delete", "--dry-run"], { env });
    expect(dry.out).toBe("would delete set/00.bin\ndry run: would copy 0 objects (0 B), delete 1; 11 unchanged\n");
    expect((await runInProcess(["-c", at("s3-sync.yaml"), "ls", "set/00"], { env })).out).toBe("set/00.bin\n");
    const del = await runInProcess(["sync", "--from", at("local.yaml"), "--to", at("s3-sync.yaml"), "--delete"], { env });
    expect(del.out).toContain("deleted set/00.bin\n");
    expect((await runInProcess(["-c", at("s3-sync.yaml"), "ls", "set/00"], { env })).out).toBe("");

    const du = JSON.parse((await runInProcess(["-c", at("s3-sync.yaml"), "du", "--json"], { env })).out);
    expect(du).toMatchObject({ objects: 11, bytes: 77_000, groups: [{ prefix: "set/", objects: 11, bytes: 77_000 }] });
  });

  it("prune --expired on S3 deletes what expired (default_ttl from the config), across processes", async () => {
    const long = join(cwd, "s3-ttl-long.yaml");
    const short = join(cwd, "s3-ttl-short.yaml");
    const plain = join(cwd, "s3-sessions.yaml");
    await writeFile(long, s3Config(server.endpoint, "sessions/", ["  default_ttl: 1h"]));
    await writeFile(short, s3Config(server.endpoint, "sessions/", ["  default_ttl: 1"]));
    await writeFile(plain, s3Config(server.endpoint, "sessions/"));
    // The put runs in a child process: the deadline travels in the object's metadata.
    const put = await runCli(["-c", long, "put", "s/long", "-"], { cwd, env, input: "l" });
    expect(put.code, put.err).toBe(0);
    const statRun = await runInProcess(["-c", plain, "stat", "s/long", "--json"], { env });
    expect(statRun.code, statRun.err).toBe(0);
    expect(Date.parse(JSON.parse(statRun.out).expiresAt)).toBeGreaterThan(Date.now() + 3_000_000);
    expect((await runInProcess(["-c", plain, "stat", "s/long"], { env })).out).toMatch(/\nexpires: +\S+Z\n$/);
    expect((await runInProcess(["-c", short, "put", "s/short", "-"], { env, input: "s" })).code).toBe(0);
    expect((await runInProcess(["-c", plain, "put", "s/keep", "-"], { env, input: "k" })).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await runInProcess(["-c", plain, "ls", "s/"], { env })).out, "an expired key is not listed").toBe("s/keep\ns/long\n");
    const purged = await runInProcess(["-c", plain, "prune", "--expired", "s/", "--json"], { env });
    expect(purged.code, purged.err).toBe(0);
    expect(JSON.parse(purged.out)).toEqual({ prefix: "s/", expired: true, objects: 1 });
    expect((await runInProcess(["-c", plain, "prune", "--expired", "s/"], { env })).out).toBe('purged 0 expired objects under "s/"\n');
    expect((await runInProcess(["-c", plain, "ls", "s/"], { env })).out).toBe("s/keep\ns/long\n");
    const both = await runInProcess(["-c", plain, "prune", "--expired", "--older-than", "1d"], { env });
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/cannot be combined/);
  });

  it("prune on S3 keeps recent objects and deletes old ones", async () => {
    const c = join(cwd, "s3.yaml");
    await runInProcess(["-c", c, "put", "logs/a.log", "-"], { env, input: "a" });
    const keep = JSON.parse((await runInProcess(["-c", c, "prune", "logs/", "--older-than", "30d", "--json"], { env })).out);
    expect(keep).toMatchObject({ objects: 0, keys: [] });
    // S3 times have one-second resolution: wait until the object is measurably old.
    await new Promise((r) => setTimeout(r, 2100));
    const pruned = JSON.parse((await runInProcess(["-c", c, "prune", "logs/", "--older-than", "1s", "--json"], { env })).out);
    expect(pruned).toMatchObject({ objects: 1, keys: ["logs/a.log"] });
    expect((await runInProcess(["-c", c, "ls", "logs/"], { env })).out).toBe("");
  });

  it("an unreachable server is one line and exit 9 (unavailable)", async () => {
    const r = await runCli(["-c", "down.yaml", "ls"], { cwd, env });
    expect(r.code).toBe(9);
    const lines = r.err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: .*\[.*on s3\]$/);
    const json = await runInProcess(["-c", join(cwd, "down.yaml"), "get", "k", "--json"], { env });
    expect(json.code).toBe(9);
    expect(JSON.parse(json.err)).toMatchObject({ error: { code: "UNAVAILABLE", retryable: true } });
  });
});
