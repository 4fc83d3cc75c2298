import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { createRequire } from "node:module";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { OPERATION_CHANNEL_NAME, type OperationMessage, redact } from "../src/index.js";

describe("diagnostics_channel: one message per operation", () => {
  it("publishes storage, operation, key, bytes, duration and the error", async () => {
    const seen: OperationMessage[] = [];
    const listener = (m: unknown) => seen.push(m as OperationMessage);
    subscribe(OPERATION_CHANNEL_NAME, listener);
    try {
      const storage = new MemoryStorage();
      await storage.put("a", "hello");
      await storage.get("a");
      await storage.get("missing").catch(() => undefined);
    } finally {
      unsubscribe(OPERATION_CHANNEL_NAME, listener);
    }
    expect(seen.map((m) => [m.storage, m.operation, m.key, m.error?.code ?? "ok"])).toEqual([
      ["memory", "put", "a", "ok"],
      ["memory", "get", "a", "ok"],
      ["memory", "get", "missing", "NOT_FOUND"],
    ]);
    expect(seen[0]!.bytes).toBe(5);
    for (const m of seen) expect(m.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe("NODE_DEBUG=pepperpy", () => {
  it("redact hides credentials in URLs and key=value secrets", () => {
    expect(redact("connect https://AKIA123:s3cr3t@host:9000/bucket failed")).toBe("connect https://***:***@host:9000/bucket failed");
    expect(redact("bad request: secretAccessKey=abc123 token: xyz")).toBe("bad request: secretAccessKey=*** token: ***");
    expect(redact("X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA")).toBe("X-Amz-Signature=***&X-Amz-Credential=***");
    expect(redact('Key not found [get "users/1" on file]')).toBe('Key not found [get "users/1" on file]');
  });

  it("never logs an encryption passphrase or a value", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-debug-"));
    try {
      const passphrase = "correct-horse-battery-staple-PASSPHRASE";
      const script = fileURLToPath(new URL("./fixtures/debug-run.mts", import.meta.url));
      const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
      const { stderr } = await promisify(execFile)(process.execPath, ["--conditions=source", "--import", tsx, script], {
        env: { ...process.env, NODE_OPTIONS: "", NODE_DEBUG: "pepperpy", PP_KEY: passphrase, PP_DIR: join(dir, "data") },
      });
      expect(stderr).toMatch(/PEPPERPY \d+: crypto\(file\) put "notes\/secret.txt" .*: ok/);
      expect(stderr).toMatch(/crypto\(file\) get "notes\/none.txt" .*failed NOT_FOUND/);
      expect(stderr).not.toContain(passphrase);
      expect(stderr).not.toContain("TOP-SECRET-VALUE");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
