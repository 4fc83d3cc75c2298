import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Azurite's well-known development account and key (published by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** A running Azurite blob service, as {@link startAzurite} returns it. */
export interface Azurite {
  /** `http://127.0.0.1:<port>/devstoreaccount1` (or the account given to {@link startAzurite}). */
  url: string;
  port: number;
  /** A connection string for the account on this server. */
  connectionString: string;
  /** Stops the server and removes its data folder. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`azurite exited (${child.exitCode}): ${stderr()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/${AZURITE_ACCOUNT}?comp=list`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`azurite did not listen on ${port} within ${timeoutMs} ms: ${stderr()}`);
}

/**
 * Starts Azurite's blob service (Microsoft's Azure Storage emulator, the npm package
 * `azurite`) in a child process on a free 127.0.0.1 port with a temp data folder.
 * With `account`, the server knows only that account and key (Azurite's `AZURITE_ACCOUNTS`),
 * and `url` / `connectionString` name it; the key must be base64.
 */
export async function startAzurite(opts: { startTimeout?: number; account?: { name: string; key: string } } = {}): Promise<Azurite> {
  const accountName = opts.account?.name ?? AZURITE_ACCOUNT;
  const accountKey = opts.account?.key ?? AZURITE_KEY;
  const pkg = createRequire(import.meta.url).resolve("azurite/package.json");
  const main = join(dirname(pkg), "dist", "src", "blob", "main.js");
  const location = await mkdtemp(join(tmpdir(), "pepperpy-azurite-"));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", location, "--silent", "--skipApiVersionCheck", "--loose"],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, NODE_OPTIONS: "", ...(opts.account ? { AZURITE_ACCOUNTS: `${accountName}:${accountKey}` } : {}) },
      },
    );
    // Never outlive the test process, even when a hook times out before stop() is reachable.
    const reap = () => child.kill("SIGKILL");
    process.once("exit", reap);
    child.once("exit", () => process.off("exit", reap));
    let err = "";
    child.stderr!.on("data", (d) => {
      err += d;
    });
    try {
      await waitForPort(port, child, () => err, opts.startTimeout ?? 30_000);
    } catch (error) {
      child.kill("SIGKILL");
      if (attempt < 2) continue;
      await rm(location, { recursive: true, force: true });
      throw error;
    }
    const url = `http://127.0.0.1:${port}/${accountName}`;
    return {
      url,
      port,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${accountName};AccountKey=${accountKey};BlobEndpoint=${url};`,
      async stop() {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          const t = setTimeout(() => child.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(t);
        }
        await rm(location, { recursive: true, force: true });
      },
    };
  }
}
