/**
 * Counts of the last `capacity` observations per bin, updated in O(1) with fixed memory: a ring
 * of bin indices, and a count per bin that the ring's oldest entry leaves as a new one enters.
 */
export class SlidingHistogram {
  private readonly ring: Uint16Array;
  private readonly counts: Uint32Array;
  private next = 0;
  private filled = 0;

  constructor(
    readonly bins: number,
    readonly capacity: number,
  ) {
    this.ring = new Uint16Array(capacity);
    this.counts = new Uint32Array(bins);
  }

  add(bin: number): void {
    if (this.filled === this.capacity) this.counts[this.ring[this.next]!]!--;
    else this.filled++;
    this.ring[this.next] = bin;
    this.counts[bin]!++;
    this.next = (this.next + 1) % this.capacity;
  }

  get size(): number {
    return this.filled;
  }

  fractions(): number[] {
    return Array.from(this.counts, (c) => (this.filled === 0 ? 0 : c / this.filled));
  }
}

/** Fractions below this are floored before the log, so an empty bin gives a large but finite PSI. */
const EPSILON = 1e-4;

/**
 * Population Stability Index of `actual` against `expected`: sum of (a - e) * ln(a / e) over bins.
 * Rules of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift.
 */
export function psi(expected: number[], actual: number[]): number {
  let total = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]!, EPSILON);
    const a = Math.max(actual[i] ?? 0, EPSILON);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/** The reference bin rule: the number of edges strictly below v, so bins are (-inf,e1], (e1,e2], ..., (ek,+inf). */
export function binOf(edges: number[], value: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (edges[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
