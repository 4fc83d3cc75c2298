import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

describe("NODE_DEBUG=pepperpy on the memory backend", () => {
  it("logs one line per operation on stderr, and nothing without it", async () => {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    // Imported by name, as a user would: run from this package's directory, the name
    // resolves to the package itself (its "source" condition under --conditions=source).
    const script = `import { MemoryStorage } from "@pepperpy/storage-memory";
const s = new MemoryStorage(); await s.put("k", "value"); await s.get("nope").catch(() => {});`;
    const run = (env: NodeJS.ProcessEnv) =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, "--input-type=module", "-e", script], {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          env: { ...process.env, NODE_OPTIONS: "", ...env },
        });
        let err = "";
        child.stderr.on("data", (c: Buffer) => (err += c.toString()));
        child.on("close", () => resolve(err));
      });
    const on = await run({ NODE_DEBUG: "pepperpy" });
    expect(on).toMatch(/PEPPERPY \d+: memory put "k" 5 B in \d+\.\d ms: ok/);
    expect(on).toMatch(/PEPPERPY \d+: memory get "nope" in \d+\.\d ms: failed NOT_FOUND: Key not found \[get "nope" on memory\]/);
    expect(await run({ NODE_DEBUG: "" })).not.toContain("PEPPERPY");
  }, 120_000);

});
