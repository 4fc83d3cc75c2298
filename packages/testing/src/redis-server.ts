import { type ChildProcess, spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { delimiter, join } from "node:path";

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The `redis-server` binary (default: found on `PATH`). */
  binary?: string | undefined;
  /** A password the server requires (`--requirepass`). */
  password?: string | undefined;
  /** Milliseconds to wait for the server to accept connections (default 10 000). */
  startTimeout?: number | undefined;
}

/** A running `redis-server`, as {@link startRedisServer} returns it. */
export interface RedisServer {
  /** `127.0.0.1`. */
  host: string;
  port: number;
  /** `redis://127.0.0.1:<port>` (without the password). */
  url: string;
  /** Kills the server with SIGKILL (a crash: nothing is saved, clients see the connection drop). */
  kill(): Promise<void>;
  /** Starts the server again on the same port (after `kill` or `stop`); its data starts empty. */
  restart(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>;
}

/** The `redis-server` binary on `PATH`, or `undefined` when it is not installed. */
export async function findRedisServer(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter).concat(["/usr/bin", "/usr/local/bin"])) {
    if (!dir) continue;
    const file = join(dir, "redis-server");
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a real `redis-server` on a free 127.0.0.1 port without persistence
 * (`--save "" --appendonly no`), for tests of Redis backends.
 *
 * @example
 * const server = await startRedisServer();
 * const storage = new RedisStorage({ url: server.url });
 * afterAll(() => server.stop());
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = opts.binary ?? (await findRedisServer());
  if (!binary) throw new Error("startRedisServer: redis-server is not installed (apt-get install -y redis-server)");
  const host = "127.0.0.1";
  let port = 0;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = ["--port", String(port), "--bind", host, "--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"];
    if (opts.password !== undefined) args.push("--requirepass", opts.password);
    const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let output = "";
    const onData = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    const timeout = opts.startTimeout ?? 10_000;
    const started = Date.now();
    // Ready once it accepts a connection and answers PING.
    while (true) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited before it started: ${output}`);
      if (await answersPing(host, port)) return;
      if (Date.now() - started > timeout) {
        proc.kill("SIGKILL");
        throw new Error(`redis-server did not start within ${timeout} ms: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  // A port found free may be taken before redis binds it: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  };

  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    kill: () => halt("SIGKILL"),
    stop: () => halt("SIGTERM"),
    async restart() {
      await halt("SIGKILL");
      await launch();
    },
  };
}

/** Whether a Redis server answers PING on the port (an auth error counts as an answer). */
function answersPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (d) => {
      const text = d.toString();
      // "-LOADING" means it is not ready yet.
      done(text.startsWith("+PONG") || text.startsWith("-NOAUTH"));
    });
  });
}
