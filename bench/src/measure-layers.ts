/**
 * One-off measurement (not a test): cache-hit latency against a plain lru-cache get, the
 * per-operation cost of three pass-through layers, and the overhead of MetricsStorage on
 * the memory backend.
 *
 *   cd bench && node --conditions=source --import ./src/register.mjs src/measure-layers.ts
 *
 * (It lives in the bench, which depends on every package, so that no package imports
 * another package's `src/` or needs a dependency cycle between cache and metrics.)
 */
import { ForwardingDriver, type Layer, LayerStorage, type Storage, type StoredEntry, stack } from "@pepperpy/storage-core";
import { CachedStorage } from "@pepperpy/storage-cache";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { LRUCache } from "lru-cache";
import { MetricsStorage } from "@pepperpy/storage-metrics";

const N = 10_000;
const ROUNDS = 21;

/** A layer that forwards everything: the cost of being a layer at all. */
class PassThrough extends LayerStorage<ForwardingDriver> {
  constructor(backend: Storage) {
    super(new ForwardingDriver(backend, "pass"));
  }
}

const value = "x".repeat(100);
const keys = Array.from({ length: 100 }, (_, i) => `k/${i}`);

const lru = new LRUCache<string, StoredEntry>({ max: 1000 });
for (const k of keys) lru.set(k, { info: { key: k, size: 100, lastModified: new Date(), contentType: "text/plain", metadata: {} }, data: Buffer.from(value) });
const cache = new CachedStorage({ backend: new MemoryStorage() });
for (const k of keys) await cache.put(k, value);
for (const k of keys) await cache.get(k);

const memory = new MemoryStorage();
const pass = new PassThrough(new MemoryStorage());
const passLayer: Layer = (inner) => new ForwardingDriver(inner, "pass");
const pass3 = stack(new MemoryStorage(), [passLayer, passLayer, passLayer]);
const metrics = new MetricsStorage({ backend: new MemoryStorage() });
for (const s of [memory, pass, pass3, metrics]) for (const k of keys) await s.put(k, value);

// The machine may be shared: CPU time is measured, candidates run in rotation, in short rounds, and each keeps
// its median round, so drift in load hits them all alike.
const candidates: [string, (i: number) => Promise<unknown> | unknown][] = [
  ["lru-cache get (sync)", (i) => lru.get(keys[i % 100]!)],
  ["lru-cache get (awaited)", async (i) => lru.get(keys[i % 100]!)],
  ["CachedStorage.get hit (text)", (i) => cache.get(keys[i % 100]!)],
  ["CachedStorage.getBytes hit (copy)", (i) => cache.getBytes(keys[i % 100]!)],
  ["MemoryStorage.get", (i) => memory.get(keys[i % 100]!)],
  ["PassThrough(memory).get", (i) => pass.get(keys[i % 100]!)],
  ["stack(memory, 3 pass).get", (i) => pass3.get(keys[i % 100]!)],
  ["stack(memory, 3 pass).exists", (i) => pass3.exists(keys[i % 100]!)],
  ["MemoryStorage.exists", (i) => memory.exists(keys[i % 100]!)],
  ["MetricsStorage(memory).get", (i) => metrics.get(keys[i % 100]!)],
  ["MemoryStorage.put", (i) => memory.put(keys[i % 100]!, value)],
  ["PassThrough(memory).put", (i) => pass.put(keys[i % 100]!, value)],
  ["stack(memory, 3 pass).put", (i) => pass3.put(keys[i % 100]!, value)],
  ["MetricsStorage(memory).put", (i) => metrics.put(keys[i % 100]!, value)],
];
const samples = new Map<string, number[]>(candidates.map(([n]) => [n, []]));
for (let round = 0; round < ROUNDS + 2; round++) {
  for (const [name, fn] of round % 2 ? [...candidates].reverse() : candidates) {
    // CPU time of this process, not wall time: less distorted when other processes share the cores.
    const t = process.cpuUsage();
    for (let i = 0; i < N; i++) await fn(i);
    const used = process.cpuUsage(t);
    if (round >= 2) samples.get(name)!.push(((used.user + used.system) * 1000) / N); // two warm-up rounds
  }
}
const r: Record<string, number> = {};
for (const [name, xs] of samples) r[name] = xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(36)} ${v.toFixed(0).padStart(6)} ns/op`);
const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)} %`;
console.log(`cache hit vs awaited lru-cache get: ${(r["CachedStorage.get hit (text)"]! / r["lru-cache get (awaited)"]!).toFixed(1)}x`);
console.log(`metrics get overhead vs pass-through layer: ${pct(r["MetricsStorage(memory).get"]!, r["PassThrough(memory).get"]!)}, vs bare memory: ${pct(r["MetricsStorage(memory).get"]!, r["MemoryStorage.get"]!)}`);
console.log(`metrics put overhead vs pass-through layer: ${pct(r["MetricsStorage(memory).put"]!, r["PassThrough(memory).put"]!)}, vs bare memory: ${pct(r["MetricsStorage(memory).put"]!, r["MemoryStorage.put"]!)}`);
console.log(`three pass-through layers vs bare memory: get ${(r["stack(memory, 3 pass).get"]! / r["MemoryStorage.get"]!).toFixed(2)}x, exists ${(r["stack(memory, 3 pass).exists"]! / r["MemoryStorage.exists"]!).toFixed(2)}x, put ${(r["stack(memory, 3 pass).put"]! / r["MemoryStorage.put"]!).toFixed(2)}x the time`);
console.log(`metrics recorded ${metrics.getMetrics().operationsCount} operations`);
