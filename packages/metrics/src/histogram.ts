/**
 * A fixed-bucket latency histogram: O(1) to record, constant memory, percentiles within
 * one bucket (about ±20 %) of the truth.
 *
 * Bucket `i` holds values in `(bound(i-1), bound(i)]` with `bound(i) = MIN_MS * 2^(i/2)`:
 * two buckets per doubling, from 5 µs to about two minutes; the last bucket holds the rest.
 */
export const MIN_MS = 0.005;
/** Finite buckets; index `BUCKETS` is the overflow bucket. */
export const BUCKETS = 50;

/** Upper bound in ms of bucket `i` (`Infinity` for the overflow bucket). */
export function bucketBound(i: number): number {
  return i >= BUCKETS ? Number.POSITIVE_INFINITY : MIN_MS * 2 ** (i / 2);
}

/** The bucket of a value in ms. */
export function bucketIndex(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const i = Math.ceil(2 * Math.log2(ms / MIN_MS));
  return Math.min(i, BUCKETS);
}

/** Counts of one series of latencies. */
export class Histogram {
  readonly counts = new Float64Array(BUCKETS + 1);
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    this.counts[bucketIndex(ms)]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** Adds another histogram's counts to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i <= BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /**
   * The `q` quantile (0..1) in ms, interpolated inside its bucket and never above the
   * largest value seen; 0 when empty.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      if (seen + c >= rank) {
        if (i === BUCKETS) return this.max;
        const lo = i === 0 ? 0 : bucketBound(i - 1);
        const hi = bucketBound(i);
        return Math.min(this.max, lo + ((hi - lo) * (rank - seen)) / c);
      }
      seen += c;
    }
    return this.max;
  }
}
