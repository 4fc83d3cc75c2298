import { type SpawnOptions, spawn } from "node:child_process";
import { access, chown, constants, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis-server.js";

/** Options of {@link startPostgresServer}. */
export interface PostgresServerOptions {
  /** Directory of `initdb` / `pg_ctl` (default: the newest of /usr/lib/postgresql/<n>/bin, or `PG_BIN`). */
  binDir?: string | undefined;
  /**
   * Require this password for the `postgres` user over TCP (scram-sha-256); without it
   * the cluster trusts loopback connections.
   */
  password?: string | undefined;
  /** Milliseconds to wait for the server to start (default 30 000). */
  startTimeout?: number | undefined;
}

/** A running PostgreSQL cluster, as {@link startPostgresServer} returns it. */
export interface PostgresServer {
  /** `127.0.0.1`. */
  host: string;
  port: number;
  /** `postgres`. */
  user: string;
  /** `postgres`. */
  database: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (without the password). */
  url: string;
  /** The cluster's data directory. */
  dataDir: string;
  /** Stops the cluster (`pg_ctl -m immediate`: like a crash) and keeps its data. */
  kill(): Promise<void>;
  /** Starts the stopped cluster again on the same port. */
  restart(): Promise<void>;
  /** Stops the cluster and removes its data directory. */
  stop(): Promise<void>;
}

const CANDIDATE_VERSIONS = ["17", "16", "15", "14", "13"];

/** The directory holding `initdb` and `pg_ctl`, or `undefined` when PostgreSQL is not installed. */
export async function findPostgresBinDir(): Promise<string | undefined> {
  const candidates = [process.env.PG_BIN, ...CANDIDATE_VERSIONS.map((v) => `/usr/lib/postgresql/${v}/bin`)].filter((d): d is string => !!d);
  for (const dir of candidates) {
    try {
      await access(join(dir, "pg_ctl"), constants.X_OK);
      await access(join(dir, "initdb"), constants.X_OK);
      return dir;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The uid/gid of the `postgres` user, when this process runs as root (PostgreSQL refuses to run as root). */
async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const out = await run("id", ["-u", "postgres"], {}).catch(() => undefined);
  const gid = await run("id", ["-g", "postgres"], {}).catch(() => undefined);
  if (!out || !gid) throw new Error("startPostgresServer: running as root needs a 'postgres' user (apt-get install -y postgresql creates it)");
  return { uid: Number(out.trim()), gid: Number(gid.trim()) };
}

function run(cmd: string, args: string[], options: SpawnOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}: ${out.slice(-2000)}`))));
  });
}

/**
 * Starts a throw-away PostgreSQL cluster on a free 127.0.0.1 port in a temp directory
 * (`initdb`, then `pg_ctl start`), as the non-root `postgres` user when this process is
 * root, with UTF-8 encoding. `fsync` is off: the cluster exists for one test run.
 *
 * @example
 * const server = await startPostgresServer();
 * const storage = new PostgresStorage({ connectionString: server.url });
 * afterAll(() => server.stop());
 */
export async function startPostgresServer(opts: PostgresServerOptions = {}): Promise<PostgresServer> {
  const binDir = opts.binDir ?? (await findPostgresBinDir());
  if (!binDir) throw new Error("startPostgresServer: PostgreSQL is not installed (apt-get install -y postgresql)");
  const owner = await postgresUser();
  const spawnAs: SpawnOptions = owner ? { uid: owner.uid, gid: owner.gid, cwd: tmpdir() } : { cwd: tmpdir() };
  const root = await mkdtemp(join(tmpdir(), "pepperpy-pg-"));
  if (owner) await chown(root, owner.uid, owner.gid);
  const dataDir = join(root, "data");
  const host = "127.0.0.1";
  const env = { ...process.env, LC_ALL: "C", LANG: "C" };

  const initArgs = ["-D", dataDir, "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"];
  if (opts.password !== undefined) {
    const pwFile = join(root, "pw");
    await writeFile(pwFile, `${opts.password}\n`, { mode: 0o600 });
    if (owner) await chown(pwFile, owner.uid, owner.gid);
    initArgs.push("--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwFile}`);
  } else {
    initArgs.push("-A", "trust");
  }
  await run(join(binDir, "initdb"), initArgs, { ...spawnAs, env });

  let port = 0;
  const start = async (): Promise<void> => {
    const o = `-p ${port} -k ${root} -c listen_addresses=${host} -c fsync=off -c full_page_writes=off -c max_connections=200`;
    await run(join(binDir, "pg_ctl"), ["-D", dataDir, "-o", o, "-l", join(root, "log"), "-w", "-t", String(Math.ceil((opts.startTimeout ?? 30_000) / 1000)), "start"], {
      ...spawnAs,
      env,
    });
  };
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
  const halt = async (): Promise<void> => {
    await run(join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"], { ...spawnAs, env }).catch(() => undefined);
  };
  let stopped: Promise<void> | undefined;
  return {
    host,
    port,
    user: "postgres",
    database: "postgres",
    url: `postgres://postgres@${host}:${port}/postgres`,
    dataDir,
    kill: halt,
    restart: start,
    stop() {
      stopped ??= (async () => {
        await halt();
        await rm(root, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
