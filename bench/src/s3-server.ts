// Starts s3rver in a child process for the S3 systems.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A running s3rver. */
export interface S3Server {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 storing under `directory`; rejects after 20 s without a port. */
export async function startS3rver(directory: string): Promise<S3Server> {
  const script = fileURLToPath(new URL("./s3rver-child.cjs", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ["--openssl-legacy-provider", script, directory], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error("s3rver did not start within 20 s")), 20_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split("\n")[0];
      if (buffered.includes("\n") && line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before listening`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
