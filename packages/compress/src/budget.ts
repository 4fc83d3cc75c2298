import { fromAbortSignal } from "@pepperpy/storage-core";

interface Waiter {
  bytes: number;
  grant: () => void;
}

/**
 * Bytes that buffered decompressions may produce at once, shared by the reads that use it.
 * A `get` through `CompressedStorage` reserves the value's declared size before it
 * decompresses and returns it when done; a read that does not fit waits (first come, first
 * served, abortable) until earlier ones finish. So two or twenty concurrent reads of a
 * bomb cost at most the budget, not twenty times `maxDecompressedSize`.
 *
 * A read larger than the whole budget waits until it runs alone. Streamed reads
 * (`getStream`) decompress chunk by chunk and reserve nothing.
 */
export class DecompressionBudget {
  /** Bytes that may be reserved at once. */
  readonly capacity: number;
  private used = 0;
  private readonly waiting: Waiter[] = [];
  /** The most bytes reserved at once so far (for diagnostics and tests). */
  peak = 0;

  constructor(capacity: number) {
    if (typeof capacity !== "number" || Number.isNaN(capacity) || capacity <= 0) {
      throw new RangeError("DecompressionBudget capacity must be a positive number of bytes");
    }
    this.capacity = capacity;
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /**
   * Reserves `bytes` (at most the capacity), waiting for earlier reservations to be
   * released. Resolves to the release function (calling it twice is harmless); rejects
   * with the signal's storage error when the signal aborts while waiting.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const n = Math.min(Math.max(0, bytes), this.capacity);
    if (signal?.aborted) return Promise.reject(fromAbortSignal(signal));
    if (this.waiting.length === 0 && this.used + n <= this.capacity) return Promise.resolve(this.take(n));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes: n,
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.take(n));
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(fromAbortSignal(signal!));
        this.grantWaiting();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private take(n: number): () => void {
    this.used += n;
    this.peak = Math.max(this.peak, this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.capacity) this.waiting.shift()!.grant();
  }
}

/** Default capacity of the shared budget: 256 MiB (four reads at the default `maxDecompressedSize`). */
export const DEFAULT_DECOMPRESSION_BUDGET_BYTES = 256 * 1024 * 1024;

/** The budget every `CompressedStorage` without a `decompressionBudget` option shares in this process. */
export const sharedDecompressionBudget = new DecompressionBudget(DEFAULT_DECOMPRESSION_BUDGET_BYTES);
