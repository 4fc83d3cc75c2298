/**
 * Quick side-by-side throughput of FileStorage against raw node:fs/promises doing the same
 * durable write (temp file + write + fsync + rename + directory fsync) and a plain readFile.
 * Not a test. Run: npx tsx --conditions=source packages/fs/bench-quick.ts [ops]
 */
import { randomBytes } from "node:crypto";
import { constants as C, mkdtempSync, rmSync } from "node:fs";
import { open, readFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage-fs";

const OPS = Number(process.argv[2] ?? 500);
const value = randomBytes(1024);
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-bench-"));

async function rawPut(dir: string, name: string, data: Uint8Array, fsync: boolean): Promise<void> {
  const tmp = join(dir, `.tmp-${name}-${Math.random().toString(36).slice(2)}`);
  const h = await open(tmp, "wx");
  await h.writeFile(data);
  if (fsync) await h.sync();
  await h.close();
  await rename(tmp, join(dir, name));
  if (fsync) {
    const d = await open(dir, C.O_RDONLY | C.O_DIRECTORY);
    await d.sync();
    await d.close();
  }
}

async function time(fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await fn(i); // warm-up
  const t = performance.now();
  for (let i = 0; i < OPS; i++) await fn(i);
  return (OPS * 1000) / (performance.now() - t);
}

const rows: string[] = [];
for (const fsync of [true, false]) {
  const rawDir = join(root, `raw-${fsync}`);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(rawDir, { recursive: true });
  const storage = new FileStorage({ basePath: join(root, `lib-${fsync}`), fsync });
  const keys = 100;
  const rawPutOps = await time((i) => rawPut(rawDir, `k${i % keys}`, value, fsync));
  const libPutOps = await time((i) => storage.put(`k${i % keys}`, value));
  const rawGetOps = await time((i) => readFile(join(rawDir, `k${i % keys}`)));
  const libGetOps = await time((i) => storage.get(`k${i % keys}`));
  rows.push(
    `fsync=${fsync}: put ${libPutOps.toFixed(0)} ops/s vs raw ${rawPutOps.toFixed(0)} ops/s (ratio ${(libPutOps / rawPutOps).toFixed(2)}); ` +
      `get ${libGetOps.toFixed(0)} ops/s vs raw readFile ${rawGetOps.toFixed(0)} ops/s (ratio ${(libGetOps / rawGetOps).toFixed(2)})`,
  );
  await storage.close();
}
console.log(`1 KiB values, ${OPS} sequential ops each, ${tmpdir()}:`);
for (const r of rows) console.log(r);
rmSync(root, { recursive: true, force: true });
