/**
 * The `pepperpy-storage` executable: runs the CLI on the process's streams, turns Ctrl-C
 * into a clean stop (in-flight operations aborted, exit 130; a second Ctrl-C exits at
 * once) and exits with the code `run` returns.
 */
import { run } from "./run.js";

// The AWS SDK warns on every S3 client under Node 20 about its releases after January
// 2027; a user of this command cannot act on it, and it would break the one-line error
// promise. The SDK reads this variable when a client is created.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const controller = new AbortController();
let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort(new Error("Interrupted (SIGINT)"));
});
process.on("SIGTERM", () => controller.abort(new Error("Terminated (SIGTERM)")));
// A closed stdout (`pepperpy-storage ls | head`) is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
});

const code = await run(process.argv.slice(2), { signal: controller.signal });
process.exitCode = code;
// stdin may still hold the event loop open (`put KEY -` interrupted); do not wait for it.
process.stdin.destroy();
setTimeout(() => process.exit(code), 5000).unref();
