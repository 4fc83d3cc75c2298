// One-off throughput measurement (not a test): `npx tsx packages/compress/scripts/throughput.ts`.
// Each layer over MemoryStorage on a 64 MiB value vs raw node:zlib / node:crypto in the same run.
import { EncryptedStorage } from "@pepperpy/storage-crypto";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { CompressedStorage } from "../src/index.js";

const SIZE = 64 * 1024 * 1024;
const line = Buffer.from("2025-01-01T00:00:00Z INFO request handled path=/api/users status=200 ms=12\n");
const text = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i += line.length) line.copy(text, i);
const random = randomBytes(SIZE);

async function time(fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await fn();
    runs.push(performance.now() - t);
  }
  return Math.min(...runs);
}
const mbps = (ms: number) => ((SIZE / 1024 / 1024) / (ms / 1000)).toFixed(0);
const row = (name: string, layer: number, raw: number) =>
  console.log(`${name.padEnd(34)} layer ${mbps(layer).padStart(5)} MiB/s   raw ${mbps(raw).padStart(5)} MiB/s   layer speed / raw speed ${(raw / layer).toFixed(2)}`);

for (const [algorithm, level] of [["gzip", 6], ["brotli", 4]] as const) {
  const c = new CompressedStorage({ backend: new MemoryStorage(), algorithm, level });
  const compress = algorithm === "gzip" ? promisify(zlib.gzip) : promisify(zlib.brotliCompress);
  const decompress = algorithm === "gzip" ? promisify(zlib.gunzip) : promisify(zlib.brotliDecompress);
  const opts = algorithm === "gzip" ? { level } : { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level } };
  const packed = await compress(text, opts);
  row(`compress ${algorithm} put`, await time(() => c.put("k", text)), await time(() => compress(text, opts)));
  row(`compress ${algorithm} get`, await time(() => c.getBytes("k")), await time(() => decompress(packed)));
  row(`compress ${algorithm} getStream`, await time(async () => { for await (const _ of await c.getStream("k")) {} }), await time(() => decompress(packed)));
}

const key = randomBytes(32);
const e = new EncryptedStorage({ backend: new MemoryStorage(), key });
const iv = randomBytes(12);
let tag: Buffer = Buffer.alloc(16);
const rawEncrypt = async () => {
  const c = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
  const out = Buffer.concat([c.update(random), c.final()]);
  tag = c.getAuthTag();
  return out;
};
const sealed = await rawEncrypt();
const rawDecrypt = async () => {
  const d = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
  d.setAuthTag(tag);
  return Buffer.concat([d.update(sealed), d.final()]);
};
row("encrypt put (AES-256-GCM)", await time(() => e.put("k", random)), await time(rawEncrypt));
row("encrypt get", await time(() => e.getBytes("k")), await time(rawDecrypt));
row("encrypt getStream", await time(async () => { for await (const _ of await e.getStream("k")) {} }), await time(rawDecrypt));
console.log(`(load average while measuring: ${(await import("node:os")).loadavg()[0]!.toFixed(1)})`);
