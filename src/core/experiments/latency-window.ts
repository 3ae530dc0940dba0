/** Latency percentiles of the last N requests: NaN while none has been seen. */
export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** How many requests the percentiles are over (at most the window's capacity). */
  readonly samples: number;
}

/**
 * The last `capacity` latencies of one variant, exactly, in fixed memory: a request writes one
 * number into a ring; the percentiles sort a copy when asked (a read of the results, not a
 * request). Exact values rather than histogram bins, so two variants a few percent apart are
 * told apart; a window rather than all time, so the figures follow the variant as it is now.
 */
export class LatencyWindow {
  private readonly ring: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`a latency window holds at least 1 value, got ${capacity}`);
    this.ring = new Float64Array(capacity);
  }

  add(seconds: number): void {
    this.ring[this.next] = seconds;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    if (this.filled < this.capacity) this.filled++;
  }

  /** Nearest rank: the p-th percentile is the ⌈p·n⌉-th smallest of the n values held. */
  summary(): LatencySummary {
    const n = this.filled;
    const sorted = this.ring.slice(0, n).sort();
    const rank = (p: number) => (n === 0 ? Number.NaN : sorted[Math.max(0, Math.ceil(p * n) - 1)]!);
    return { p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), samples: n };
  }
}
