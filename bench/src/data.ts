// Deterministic test data: every value is known in advance, so every read is checked.
import { Readable } from "node:stream";

const WORDS =
  "storage bucket object key value stream layer cache byte chunk file memory prefix list delete put get exists metadata etag region endpoint retry backoff cipher gzip brotli header payload record index shard node async await promise buffer json text binary upload download multipart range offset length sorted cursor page batch event error timeout signal abort".split(
    " ",
  );

/** A small seeded PRNG (xorshift32), so every run writes the same bytes. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * `size` bytes of pseudo-text: words, numbers and a sprinkle of random bytes. It
 * compresses about 3:1 with gzip, like logs or JSON, so compression does real work.
 */
export function pseudoText(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  const next = prng(seed);
  let i = 0;
  while (i < size) {
    const r = next();
    if ((r & 15) === 0) {
      // a random number
      const s = `${r % 100000} `;
      i += out.write(s, i, "latin1");
    } else if ((r & 63) === 1) {
      // a few random bytes
      for (let k = 0; k < 8 && i < size; k++) out[i++] = next() & 255;
    } else {
      const w = WORDS[r % WORDS.length]!;
      i += out.write(w, i, "latin1");
      if (i < size) out[i++] = (r & 0x300) === 0 ? 10 : 32;
    }
  }
  return out;
}

/** Writes `index` into the first and last 8 bytes, so two values never look alike. */
export function stamp(buf: Buffer, index: number): Buffer {
  if (buf.length >= 16) {
    buf.writeDoubleLE(index, 0);
    buf.writeDoubleLE(index, buf.length - 8);
  } else if (buf.length >= 4) buf.writeUInt32LE(index >>> 0, 0);
  return buf;
}

/** A pool of pseudo-text that values are cut from. */
const POOL = pseudoText(4 * 1024 * 1024, 7);

/** The value stored under key number `index`: `size` bytes, unique to the index. */
export function valueFor(index: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let filled = 0;
  let offset = (index * 7919) % POOL.length;
  while (filled < size) {
    const n = Math.min(size - filled, POOL.length - offset);
    POOL.copy(out, filled, offset, offset + n);
    filled += n;
    offset = 0;
  }
  return stamp(out, index);
}

/** Chunk `index` of a streamed value. */
export function streamChunk(index: number, size: number): Buffer {
  return valueFor(index + 1_000_003, size);
}

/** A readable of `total` bytes built from {@link streamChunk}s of `chunkSize`. */
export function streamOf(total: number, chunkSize = 1024 * 1024): Readable {
  let sent = 0;
  let index = 0;
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunkSize, total - sent);
      sent += n;
      this.push(streamChunk(index++, chunkSize).subarray(0, n));
    },
  });
}

/** Key of small value `i` (zero-padded, so code-point order is numeric order). */
export function smallKey(prefix: string, i: number): string {
  return `${prefix}k${String(i).padStart(6, "0")}`;
}

/**
 * The keys of the list workload: `tree/pNN/qM/kXXXXXX`, spread over 100 top-level
 * prefixes of 5 sub-prefixes each, so `tree/p42/` holds 1 % of the keys.
 */
export function treeKeys(count: number): { keys: string[]; prefix: string; matching: string[] } {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = i % 100;
    const q = Math.floor(i / 100) % 5;
    keys.push(`tree/p${String(p).padStart(2, "0")}/q${q}/k${String(i).padStart(6, "0")}`);
  }
  keys.sort(compareCodePoints);
  const prefix = "tree/p42/";
  return { keys, prefix, matching: keys.filter((k) => k.startsWith(prefix)) };
}

/** Code-point order (the order of S3 and of the library's `list`). For ASCII keys it is plain `<`. */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
