/**
 * What the defensive copy of `put` costs (issue 15, item 1): the copy alone, and a
 * `FileStorage` / `MemoryStorage` put of 1 KiB, 1 MiB and 64 MiB with the copy and with the
 * bytes handed over (`handOver`, no copy). Run: `pnpm tsx --conditions=source bench/src/put-copy-cost.ts`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyBytes, handOver } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { MemoryStorage } from "@pepperpy/storage-memory";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(runs: number, f: () => Promise<unknown> | unknown): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f();
    out.push(performance.now() - t);
  }
  return median(out);
}

const dir = await mkdtemp(join(tmpdir(), "put-copy-"));
const file = new FileStorage({ path: dir });
const memory = new MemoryStorage();
for (const [label, size, runs] of [["1 KiB", 1024, 300], ["1 MiB", 1024 * 1024, 40], ["64 MiB", 64 * 1024 * 1024, 7]] as const) {
  const data = Buffer.alloc(size, 7);
  // Interleaved, so the load of a shared machine falls on both sides alike.
  const copy: number[] = [];
  const fileCopied: number[] = [];
  const fileHanded: number[] = [];
  const memCopied: number[] = [];
  const memHanded: number[] = [];
  for (let i = 0; i < runs; i++) {
    copy.push(await time(1, () => copyBytes(data)));
    fileCopied.push(await time(1, () => file.put("k", data)));
    fileHanded.push(await time(1, () => file.put("k", handOver(Buffer.from(data.buffer, data.byteOffset, data.byteLength)))));
    memCopied.push(await time(1, () => memory.put("k", data)));
    memHanded.push(await time(1, () => memory.put("k", handOver(Buffer.allocUnsafe(size)))));
  }
  const f = (xs: number[]) => median(xs).toFixed(3);
  console.log(
    `${label}: copy alone ${f(copy)} ms | FileStorage.put ${f(fileCopied)} ms (handed over, no copy: ${f(fileHanded)}) | MemoryStorage.put ${f(memCopied)} ms (handed over: ${f(memHanded)})`,
  );
}
await file.close();
await rm(dir, { recursive: true, force: true });
