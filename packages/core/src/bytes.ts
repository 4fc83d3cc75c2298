/**
 * Byte-stream helpers shared by layers that parse or rewrite streamed values (the
 * compression and encryption layers): exact reads for headers, draining, ranges.
 */

/**
 * Pulls exact byte counts out of an async iterable of chunks without copying when a
 * request fits inside one chunk. Used to parse headers and withhold trailers from streams.
 */
export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Bytes buffered and not yet taken. */
  get buffered(): number {
    return this.pendingLength;
  }

  /** True once the source is exhausted (buffered bytes may remain). */
  get ended(): boolean {
    return this.done;
  }

  /** Reads one more chunk from the source into the buffer; false at the end. */
  async pull(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    if (chunk.byteLength > 0) {
      this.pending.push(chunk);
      this.pendingLength += chunk.byteLength;
    }
    return true;
  }

  /** Buffers until at least `n` bytes are available or the source ends; returns what is available (≤ n). */
  async fill(n: number): Promise<number> {
    while (this.pendingLength < n && (await this.pull())) {}
    return Math.min(n, this.pendingLength);
  }

  /** The first `n` buffered bytes without consuming them (n ≤ buffered). */
  peek(n: number): Buffer {
    const first = this.pending[0];
    if (first && first.byteLength >= n) return first.subarray(0, n);
    return Buffer.concat(this.pending, this.pendingLength).subarray(0, n);
  }

  /** Removes and returns the first `n` buffered bytes (n ≤ buffered). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.pending[0]!;
    let out: Buffer;
    if (first.byteLength >= n) {
      out = first.subarray(0, n);
      if (first.byteLength === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const head = this.pending[0]!;
        const want = n - off;
        if (head.byteLength <= want) {
          head.copy(out, off);
          off += head.byteLength;
          this.pending.shift();
        } else {
          head.copy(out, off, 0, want);
          this.pending[0] = head.subarray(want);
          off += want;
        }
      }
    }
    this.pendingLength -= n;
    return out;
  }

  /** Removes and returns whole buffered chunks while at least `keep` bytes stay buffered (no copy). */
  takeChunksKeeping(keep: number): Buffer[] {
    const out: Buffer[] = [];
    while (this.pendingLength > keep) {
      const head = this.pending[0]!;
      const room = this.pendingLength - keep;
      if (head.byteLength <= room) {
        out.push(head);
        this.pending.shift();
        this.pendingLength -= head.byteLength;
      } else {
        out.push(head.subarray(0, room));
        this.pending[0] = head.subarray(room);
        this.pendingLength -= room;
      }
    }
    return out;
  }

  /** Removes and returns every buffered chunk. */
  takeAll(): Buffer[] {
    const out = this.pending;
    this.pending = [];
    this.pendingLength = 0;
    return out;
  }

  /** Stops the source (closes the underlying stream). */
  async close(): Promise<void> {
    this.done = true;
    await this.it.return?.();
  }
}

/** Yields everything a reader still holds and everything its source still yields. */
export async function* drain(reader: ByteReader): AsyncGenerator<Buffer> {
  for (const chunk of reader.takeAll()) yield chunk;
  while (await reader.pull()) for (const chunk of reader.takeAll()) yield chunk;
}

/** Applies an inclusive byte range to a stream of chunks, stopping the source once `end` is passed. */
export async function* sliceRange(source: AsyncIterable<Buffer>, start = 0, end = Number.POSITIVE_INFINITY): AsyncGenerator<Buffer> {
  let offset = 0;
  for await (const chunk of source) {
    const from = Math.max(0, start - offset);
    const to = Math.min(chunk.byteLength, end + 1 - offset);
    offset += chunk.byteLength;
    if (to > from) yield from === 0 && to === chunk.byteLength ? chunk : chunk.subarray(from, to);
    if (offset > end) return;
  }
}

/** Reads a whole (small) stream into one buffer. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return Buffer.concat(chunks);
}

/**
 * A private copy of some bytes, as a Buffer. `Buffer.from(bytes)` does the same through
 * more checks; values are copied on every put and get, so this one is direct.
 */
export function copyBytes(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(bytes.byteLength);
  out.set(bytes);
  return out;
}
