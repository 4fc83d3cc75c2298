/**
 * What the defensive copy of `put` costs (issue 15, item 1): the copy alone, and a
 * `FileStorage` / `MemoryStorage` put of 1 KiB, 1 MiB and 64 MiB with the copy and with the
 * bytes handed over (`handOver`, no copy). Run: `pnpm tsx --conditions=source tooling/bench/src/put-copy-cost.ts`.
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
const file = new FileStorage({ basePath: dir });
const memory = new MemoryStorage();
for (const [label, size, runs] of [["1 KiB", 1024, 400], ["1 MiB", 1024 * 1024, 60], ["64 MiB", 64 * 1024 * 1024, 7]] as const) {
  const data = Buffer.alloc(size, 7);
  const copy = await time(runs, () => copyBytes(data));
  const fileCopied = await time(runs, () => file.put("k", data));
  const fileHanded = await time(runs, () => file.put("k", handOver(Buffer.from(data.buffer, data.byteOffset, data.byteLength))));
  const memCopied = await time(runs, () => memory.put("k", data));
  console.log(
    `${label}: copy ${copy.toFixed(3)} ms | file put ${fileCopied.toFixed(3)} ms (no copy ${fileHanded.toFixed(3)}) | memory put ${memCopied.toFixed(3)} ms`,
  );
}
await file.close();
await rm(dir, { recursive: true, force: true });
