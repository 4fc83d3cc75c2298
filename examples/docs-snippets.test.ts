/**
 * Every ```ts block in docs/ and the READMEs runs, verbatim, as a user would paste it into a
 * fresh file: a new working directory, `node --import tsx`, the workspace packages resolved
 * by the root tsconfig's paths. A block that cannot run on its own (it needs an S3 server,
 * or is the skeleton of a class) is marked on the line before its fence with
 * `<!-- snippet: not run (reason) -->` and is skipped here by name, with that reason.
 */
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** The markdown files whose code users copy. */
function markdownFiles(): string[] {
  const files = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  for (const pkg of readdirSync(join(ROOT, "packages"))) {
    try {
      readFileSync(join(ROOT, "packages", pkg, "README.md"));
      files.push(`packages/${pkg}/README.md`);
    } catch {
      // a package without a README
    }
  }
  return files;
}

interface Snippet {
  file: string;
  line: number;
  code: string;
  /** Why it is not run, when it is marked so. */
  skip?: string;
}

/** The ```ts / ```typescript blocks of a markdown file, with their skip marks. */
function extractSnippets(file: string, text: string): Snippet[] {
  const lines = text.split("\n");
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const mark = /^<!--\s*snippet:\s*not run\s*\((.+)\)\s*-->$/.exec(lines[i - 1] ?? "");
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.startsWith("```")) end++;
    snippets.push({ file, line: start, code: lines.slice(start, end).join("\n"), ...(mark ? { skip: mark[1]! } : {}) });
    i = end;
  }
  return snippets;
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs one snippet in a fresh directory; resolves to its exit code and output. */
async function runSnippet(snippet: Snippet): Promise<{ code: number | null; output: string }> {
  const cwd = await mkdtemp(join(tmpdir(), "pepperpy-snippet-"));
  dirs.push(cwd);
  const file = join(cwd, "snippet.mts");
  await writeFile(file, snippet.code);
  const child = spawn(process.execPath, ["--conditions=source", "--import", TSX, file], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: "", TSX_TSCONFIG_PATH: join(ROOT, "tsconfig.json"), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return new Promise((done) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, output });
    }),
  );
}

const snippets = markdownFiles().flatMap((f) => extractSnippets(f, readFileSync(join(ROOT, f), "utf8")));

describe("docs snippets run verbatim", { timeout: 180_000 }, () => {
  it("there are snippets, and every skipped one says why", () => {
    expect(snippets.length).toBeGreaterThan(20);
    for (const s of snippets) if (s.skip !== undefined) expect(s.skip.trim().length, `${s.file}:${s.line}`).toBeGreaterThan(3);
  });

  describe.concurrent("each ```ts block", () => {
    for (const s of snippets) {
      const name = `${relative(ROOT, join(ROOT, s.file))}:${s.line}`;
      if (s.skip !== undefined) {
        it.skip(`${name} (not run: ${s.skip})`, () => undefined);
        continue;
      }
      it(name, async () => {
        const r = await runSnippet(s);
        expect(r.code, `${name} failed:\n${r.output}`).toBe(0);
      }, 180_000);
    }
  });
});
