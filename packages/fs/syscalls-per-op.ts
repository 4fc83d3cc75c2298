/**
 * Runs `--ops` calls of one operation, for `strace -c -f` syscall counts per op (subtract a
 * run with `--ops 0`). Not a test. Run:
 * strace -c -f -o out.txt node --conditions=source --import tsx packages/fs/syscalls-per-op.ts <op> <dir> [--ops N]
 * ops: put | put-nofsync | get | exists | raw-put | raw-put-nofsync | raw-get | raw-exists
 */
import { randomBytes } from "node:crypto";
import { constants as C, mkdirSync } from "node:fs";
import { access, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";

const [op = "get", dir = "/tmp/fs-syscalls"] = process.argv.slice(2);
const i = process.argv.indexOf("--ops");
const OPS = i >= 0 ? Number(process.argv[i + 1]) : 500;
const value = randomBytes(1024);
const keys = Array.from({ length: 100 }, (_, n) => `bench/small/k${String(n).padStart(6, "0")}`);
const raw = join(dir, "raw");
mkdirSync(join(raw, "bench/small"), { recursive: true });
const storage = new FileStorage({ basePath: join(dir, "lib"), fsync: op !== "put-nofsync" });
// Setup (counted in the --ops 0 run too): every key exists on both sides.
for (const k of keys) {
  await storage.put(k, value);
  const h = await open(join(raw, k), "w");
  await h.writeFile(value);
  await h.close();
}
let n = 0;
async function rawPut(key: string, fsync: boolean): Promise<void> {
  const path = join(raw, key);
  const tmp = `${path}.tmp-${++n}`;
  const h = await open(tmp, "wx");
  await h.writeFile(value);
  if (fsync) await h.sync();
  await h.close();
  await rename(tmp, path);
  if (fsync) {
    const d = await open(join(path, ".."), C.O_RDONLY | C.O_DIRECTORY);
    await d.sync();
    await d.close();
  }
}
const fns: Record<string, (k: string) => Promise<unknown>> = {
  put: (k) => storage.put(k, value),
  "put-nofsync": (k) => storage.put(k, value),
  get: (k) => storage.get(k),
  exists: (k) => storage.exists(k),
  "raw-put": (k) => rawPut(k, true),
  "raw-put-nofsync": (k) => rawPut(k, false),
  "raw-get": (k) => readFile(join(raw, k)),
  "raw-exists": (k) => access(join(raw, k)),
};
const fn = fns[op]!;
for (let j = 0; j < OPS; j++) await fn(keys[j % keys.length]!);
await storage.close();
