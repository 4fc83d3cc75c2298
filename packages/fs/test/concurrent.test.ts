/**
 * Proof: 8 writer processes put to one key while another process reads it; every read
 * is one writer's whole value, and its metadata (writer id) belongs to that same value.
 * Half the writers put plain bytes (no sidecar): their values must read as bytes with no
 * metadata, never with another writer's sidecar.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEntry } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkValue, makeValue } from "./fixtures/values.js";
import { bundleChild, runChild } from "./helpers.js";

const WRITERS = 8;
const DURATION_MS = 4000;
let child: { dir: string; script: string };
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-concurrent-"));

beforeAll(async () => {
  child = await bundleChild();
}, 60_000);
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(child.dir, { recursive: true, force: true });
});

it(`${WRITERS} writer processes and 1 reader process on one key: every read is one writer's whole value`, async () => {
  const base = join(root, "data");
  const seed = new FileStorage(base);
  // An even writer id: odd ids are the plain-bytes writers, whose values must carry no
  // metadata, so a seed read before the first write would have counted as wrong metadata.
  await seed.put("shared/key", makeValue(100, 0, 100), { metadata: { writer: "100" } });
  await seed.close();
  const writers = Array.from({ length: WRITERS }, (_, i) => runChild(child.script, ["writer", base, "shared/key", String(i + 1), String(DURATION_MS)]));
  const reader = runChild(child.script, ["reader", base, "shared/key", String(DURATION_MS + 500)]);
  const results = await Promise.all([...writers, reader]);
  for (const r of results) expect(r.code, r.stderr).toBe(0);
  const writes = results.slice(0, WRITERS).reduce((a, r) => a + (JSON.parse(r.stdout) as { writes: number }).writes, 0);
  const counts = JSON.parse(results[WRITERS]!.stdout) as {
    reads: number;
    missing: number;
    whole: number;
    torn: number;
    metaMatch: number;
    metaMissing: number;
    metaWrong: number;
    typeText: number;
    writers: string[];
    wrong: unknown[];
  };
  console.log(
    `[fs concurrency proof] writers=${WRITERS} writes=${writes} reads=${counts.reads} whole=${counts.whole} torn=${counts.torn} ` +
      `missing=${counts.missing} metadataMatching=${counts.metaMatch} metadataMissing=${counts.metaMissing} ` +
      `metadataOfAnotherValue=${counts.metaWrong} distinctWritersSeen=${counts.writers.length}`,
  );
  if (counts.wrong.length > 0) console.log(`[fs concurrency proof] wrong reads: ${JSON.stringify(counts.wrong)}`);
  expect(counts.reads).toBeGreaterThan(0);
  expect(counts.torn).toBe(0);
  expect(counts.missing).toBe(0);
  expect(counts.whole).toBe(counts.reads);
  expect(counts.metaWrong).toBe(0);
  expect(counts.metaMissing).toBe(0);
  expect(counts.metaMatch).toBe(counts.reads);
  // After the dust settles the key holds one whole value with its own metadata, and no temp file is left.
  const after = new FileStorage(base);
  const entry = await readEntry(after, "shared/key");
  const parsed = checkValue(Buffer.from(entry.data).toString("utf8"));
  expect(parsed).toBeDefined();
  if (parsed!.writer % 2 === 1) {
    expect(entry.info).toMatchObject({ valueType: "bytes", metadata: {} });
  } else {
    expect(entry.info.metadata.writer).toBe(String(parsed!.writer));
    expect(entry.info.valueType).toBe("text");
  }
  expect((readdirSync(join(base, "shared")) as string[]).filter((n) => n.startsWith(".pepperpy-tmp."))).toEqual([]);
  await after.close();
}, 60_000);

it("a plain-bytes writer and a metadata writer of same-size values, with a reader: a plain value never takes the other writer's record", async () => {
  // The values differ only in their bytes, so a read that finds no record by identity falls
  // back to matching by content (the hash of a copied data folder). That hash must be of the
  // version the reader opened: hashed by name, it was of whatever had just replaced it — the
  // other writer's value, whose record then came back with the plain value (once in a few
  // thousand reads of the 8-writer proof above, on Node 24).
  const base = join(root, "same-size");
  const SIZE = "64";
  const seed = new FileStorage(base);
  await seed.put("k", makeValue(100, 0, 64), { metadata: { writer: "100" } });
  await seed.close();
  const [plain, described, reader] = await Promise.all([
    runChild(child.script, ["writer", base, "k", "1", "3000", SIZE]),
    runChild(child.script, ["writer", base, "k", "2", "3000", SIZE]),
    runChild(child.script, ["reader", base, "k", "3300"]),
  ]);
  for (const r of [plain, described, reader]) expect(r.code, r.stderr).toBe(0);
  const counts = JSON.parse(reader.stdout) as { reads: number; whole: number; metaMatch: number; metaWrong: number; metaMissing: number; writers: string[]; wrong: unknown[] };
  console.log(
    `[fs same-size proof] writes=${(JSON.parse(plain.stdout) as { writes: number }).writes}+${(JSON.parse(described.stdout) as { writes: number }).writes} ` +
      `reads=${counts.reads} metadataMatching=${counts.metaMatch} metadataOfAnotherValue=${counts.metaWrong} metadataMissing=${counts.metaMissing}` +
      (counts.wrong.length > 0 ? ` wrong: ${JSON.stringify(counts.wrong)}` : ""),
  );
  expect(counts.reads).toBeGreaterThan(0);
  expect(counts.whole).toBe(counts.reads);
  expect(counts.metaWrong).toBe(0);
  expect(counts.metaMissing).toBe(0);
  expect(counts.metaMatch).toBe(counts.reads);
}, 60_000);

it("two processes moving opposite ways (a → b, b → a), each with its source always there, never deadlock; every value lands whole with its metadata", async () => {
  const base = join(root, "movers");
  // Opposite moves take the two keys' file locks; taken in one fixed role order (target
  // first) they deadlock within a few hundred moves, each process holding one lock.
  const [ab, ba] = await Promise.all([
    runChild(child.script, ["mover", base, "ping/a", "pong/b", "2", "2000"]),
    runChild(child.script, ["mover", base, "pong/b", "ping/a", "4", "2000"]),
  ]);
  expect(ab.code, ab.stderr).toBe(0);
  expect(ba.code, ba.stderr).toBe(0);
  const counts = [ab, ba].map((r) => (JSON.parse(r.stdout) as { moves: number }).moves);
  console.log(`[fs move proof] a→b moves=${counts[0]} b→a moves=${counts[1]}`);
  expect(counts[0]).toBeGreaterThan(0);
  expect(counts[1]).toBeGreaterThan(0);
  const check = new FileStorage(base);
  const keys = await check.list();
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) {
    // Whichever value is there now is one writer's whole value, with that value's metadata.
    const value = checkValue((await check.get(key)) as string);
    expect(value, key).toBeDefined();
    expect((await check.stat(key))!.metadata).toEqual({ writer: String(value!.writer), i: String(value!.iteration) });
  }
  // No temp file or lock is left behind in either directory.
  for (const dir of ["ping", "pong"]) {
    // A directory emptied by the last move is removed.
    const names = existsSync(join(base, dir)) ? readdirSync(join(base, dir)) : [];
    const left = names.filter((n) => n.startsWith(".pepperpy") && !n.startsWith(".pepperpy-meta"));
    expect(left, dir).toEqual([]);
  }
  await check.close();
}, 60_000);
