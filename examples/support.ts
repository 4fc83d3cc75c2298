/**
 * What every example gets, and how each file also runs on its own:
 * `node --conditions=source --import tsx examples/cache.ts` runs that example on files
 * under ./data, exactly as the tour does in its first part.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { FileStorage, type Storage } from "@pepperpy/storage";
import type { S3Server } from "@pepperpy/storage-testing";

// The AWS SDK warns under Node 20 about its releases after January 2027 when an S3 client
// is created; the examples are about this library, so keep their output to what they do.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** Where an example runs and how it reports. */
export interface ExampleContext {
  /** The storage the example builds on: files under ./data, or an S3 bucket on s3rver. */
  backend: Storage;
  /** `"files"` or `"s3"`: which part of the tour this is. */
  kind: "files" | "s3";
  /** Directory of file data (the file-storage and composite examples use it directly). */
  dataDir: string;
  /** The local S3 server, when the example runs against S3. */
  s3?: { server: S3Server; bucket: string } | undefined;
  /** Prints one line of what happens. */
  log(line: string): void;
}

/** One section of the storage guide, runnable against any backend. */
export interface Example {
  /** Short title printed as a heading. */
  title: string;
  /** The file that holds it, to read or run on its own. */
  file: string;
  /** The section of the seed document this reproduces. */
  section: string;
  /** Runs the example; throws (an assertion or a storage error) when something is wrong. */
  run(ctx: ExampleContext): Promise<void>;
  /** Backends the example makes sense on (default both). */
  kinds?: readonly ("files" | "s3")[];
}

/** `1.2 kB`, in the decimal units the config uses. */
export function size(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

/** A value as it would print in code, shortened. */
export function show(value: unknown): string {
  const text = value instanceof Uint8Array ? `<${value.byteLength} bytes>` : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Runs `example` when its file is executed directly (not imported by the tour or the
 * tests): on files under ./data, printing what happens; exits 1 on failure.
 */
export function runAsScript(moduleUrl: string, example: Example): void {
  const entry = process.argv[1];
  if (!entry || pathToFileURL(resolve(entry)).href !== moduleUrl) return;
  const dataDir = resolve("data");
  const backend = new FileStorage({ path: dataDir });
  const where = example.kinds && !example.kinds.includes("files") ? "on a local S3 server it starts" : "on files under ./data";
  console.log(`${example.title} (guide: ${example.section}) ${where}`);
  example
    .run({ backend, kind: "files", dataDir, log: (line) => console.log(`  ${line}`) })
    .then(
      () => console.log("ok"),
      (error: unknown) => {
        console.error(`failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      },
    )
    .finally(() => backend.close());
}
