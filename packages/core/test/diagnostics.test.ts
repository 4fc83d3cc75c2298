import { execFile } from "node:child_process";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";
import { OPERATION_CHANNEL, type OperationMessage } from "../src/index.js";

describe("diagnostics_channel", () => {
  it("publishes one message per finished operation, failures with their error", async () => {
    const seen: OperationMessage[] = [];
    const listener = (m: unknown) => seen.push(m as OperationMessage);
    subscribe(OPERATION_CHANNEL, listener);
    try {
      const s = new MemoryStorage();
      await s.put("a/b.txt", "hello");
      await s.get("a/b.txt");
      await s.get("missing").catch(() => undefined);
      await s.list("a/");
    } finally {
      unsubscribe(OPERATION_CHANNEL, listener);
    }
    expect(seen.map((m) => [m.operation, m.key, m.backend])).toEqual([
      ["put", "a/b.txt", "memory"],
      ["get", "a/b.txt", "memory"],
      ["get", "missing", "memory"],
      ["listPage", "a/", "memory"],
    ]);
    expect(seen[0]!.bytes).toBe(5);
    expect(seen[1]!.bytes).toBe(5);
    expect(seen[2]!.error?.code).toBe("NOT_FOUND");
    for (const m of seen) expect(m.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("publishes nothing and measures nothing without subscribers", async () => {
    const s = new MemoryStorage();
    const seen: unknown[] = [];
    const listener = (m: unknown) => seen.push(m);
    await s.put("x", "y");
    subscribe(OPERATION_CHANNEL, listener);
    unsubscribe(OPERATION_CHANNEL, listener);
    await s.get("x");
    expect(seen).toEqual([]);
  });
});

describe("NODE_DEBUG=pepperpy", () => {
  it("logs each operation to stderr, and never the encryption passphrase or the value", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pp-debug-"));
    try {
      const passphrase = "correct-horse-battery-staple-PASSPHRASE";
      const script = fileURLToPath(new URL("./fixtures/debug-run.mts", import.meta.url));
      const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
      const { stderr } = await promisify(execFile)(process.execPath, ["--conditions=source", "--import", tsx, script], {
        cwd: process.cwd(),
        env: { ...process.env, NODE_OPTIONS: "", NODE_DEBUG: "pepperpy", PP_KEY: passphrase, PP_DIR: join(dir, "data") },
      });
      expect(stderr).toMatch(/PEPPERPY \d+: put "notes\/secret.txt" on crypto\(file\): ok/);
      expect(stderr).toMatch(/get "notes\/none.txt" on .*failed NOT_FOUND/);
      expect(stderr).not.toContain(passphrase);
      expect(stderr).not.toContain("TOP-SECRET-VALUE");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
