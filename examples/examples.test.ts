import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FileStorage, S3Storage, type Storage } from "@pepperpy/storage";
import { type S3Server, startS3Server } from "@pepperpy/storage-testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES } from "./index.js";
import type { Example, ExampleContext } from "./support.js";

const ROOT = resolve(import.meta.dirname, "..");

/** What each example must print: proof it did the thing, not just that it did not throw. */
const EXPECTED: Record<string, { files?: RegExp[]; s3?: RegExp[] }> = {
  "Basic usage": { files: [/get "basic\/key" -> "value"/, /exists -> false/] },
  "File system storage": { files: [/on disk: .*config\.json contains/] },
  "Memory storage": { files: [/Content: \{"name":"John"\}/] },
  "S3 storage": { s3: [/list "reports\/" -> \["reports\/2024\.json","reports\/2025\.json"\]/, /-> 0 left/] },
  "Memory cache": { files: [/3 reads: \d+ from the cache, 1 from file/], s3: [/1 from s3/] },
  "Compressed storage": { files: [/stored as .* \(\d+\.\d%\)/, /identical: true/] },
  "Encrypted storage": { files: [/plaintext visible in the stored bytes: false/, /wrong key: StorageIntegrityError/] },
  "Retry pattern": { files: [/succeeded after 2 injected failures/, /Failed after 4 attempts/] },
  "Storage with metrics": { files: [/operationsCount: 3/, /Prometheus: \d+ lines/] },
  "Composite storage": { files: [/memory repaired: true/], s3: [/s3=true/] },
  "Mounts, namespaces and expiry": {
    files: [/list -> \["cache\/session","reports\/2025\.json"\] \(memory holds \["session"\]\)/, /reports view: list -> \["2025\.json"\]/, /exists "cache\/session" -> false/],
    s3: [/exists "cache\/session" -> false/],
  },
  Events: { files: [/storage\.error get "events\/key"/] },
  "Error handling": { files: [/caught StorageNotFoundError: Key not found/, /caught StorageTimeoutError \(retryable: true\)/, /caught StorageValidationError/] },
  Configuration: { files: [/built cache\(compress\(retry\(file\)\)\)/], s3: [/built .*s3/] },
  "Testing with MockStorage": { files: [/get\("key"\) -> "value"/] },
  "SQLite, from YAML": {
    files: [/list\("orders\/"\) -> \["orders\/1\.json","orders\/2\.json"\]/, /stat\("orders\/2\.json"\) -> \d+ bytes, expires \d{4}-/, /create-only put of an existing key -> StorageConflictError/],
  },
};

async function runExample(example: Example, ctx: Omit<ExampleContext, "log">): Promise<string[]> {
  const lines: string[] = [];
  await example.run({ ...ctx, log: (l) => lines.push(l) });
  return lines;
}

let dataDir: string;
let server: S3Server;
let files: Storage;
let s3: Storage;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "pepperpy-examples-"));
  files = new FileStorage({ path: dataDir });
  server = await startS3Server({ bucket: "examples" });
  s3 = new S3Storage({ bucket: "examples", clientConfig: server.clientConfig });
});

afterAll(async () => {
  await Promise.allSettled([files?.close(), s3?.close()]);
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("examples/ (every section of the storage guide)", () => {
  it("covers every section of the seed document", () => {
    const sections = EXAMPLES.map((e) => e.section).join("\n");
    for (const s of ["Basic Usage", "File System Storage", "Memory Storage", "Memory Cache", "Compressed Storage", "Encrypted Storage", "Retry Pattern", "Storage with Metrics", "Composite Storage", "Configuration", "Testing", "Events", "Error Handling"]) {
      expect(sections).toContain(s);
    }
  });

  for (const example of EXAMPLES) {
    const expected = EXPECTED[example.title];
    if (!example.kinds || example.kinds.includes("files")) {
      it(`${example.title} on files`, async () => {
        const lines = await runExample(example, { backend: files, kind: "files", dataDir });
        expect(lines.length).toBeGreaterThan(0);
        for (const re of expected?.files ?? []) expect(lines.join("\n")).toMatch(re);
      });
    }
    if (!example.kinds || example.kinds.includes("s3")) {
      it(`${example.title} on s3rver`, async () => {
        const lines = await runExample(example, { backend: s3, kind: "s3", dataDir, s3: { server, bucket: "examples" } });
        expect(lines.length).toBeGreaterThan(0);
        for (const re of expected?.s3 ?? []) expect(lines.join("\n")).toMatch(re);
      });
    }
  }
});

describe("the tour, as a new user runs it", () => {
  it("runs every example on files and on its own s3rver, prints metrics and exits 0", { timeout: 180_000 }, async () => {
    const cwd = await mkdtemp(join(tmpdir(), "pepperpy-tour-"));
    try {
      const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(ROOT, "examples", "tour.ts")], {
        cwd: ROOT,
        env: { ...process.env, NODE_OPTIONS: "", PEPPERPY_TOUR_DATA: join(cwd, "data") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
      });
      const code = await new Promise<number | null>((r) => child.on("close", r));
      expect(code, out + err).toBe(0);
      expect(out).toContain("Part 1 of 2: files under");
      expect(out).toMatch(/Part 2 of 2: a local S3 server \(s3rver at http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/files: \d+ operations/);
      expect(out).toMatch(/s3 {3}: \d+ operations/);
      expect(out).toMatch(/All \d+ examples passed/);
      // The tour shows one of the backends users grow into (SQLite, embedded: always available).
      expect(out).toMatch(/SQLite, from YAML {2}\(examples\/sqlite\.ts\)\n(?: {4}.*\n)*? {4}ok \(\d+ ms\)/);
      expect(out).not.toContain("FAILED");
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
