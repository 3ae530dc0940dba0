/**
 * Accuracy (classifiers) or mean absolute error (regressors) over the last N labelled
 * predictions of one model version, with fixed memory.
 */
export class AccuracyWindow {
  private readonly ring: Float64Array;
  private next = 0;
  private filled = 0;
  private sum = 0;

  constructor(capacity: number) {
    this.ring = new Float64Array(capacity);
  }

  /** 1/0 for right/wrong, or an absolute error. */
  add(value: number): void {
    if (this.filled === this.ring.length) this.sum -= this.ring[this.next]!;
    else this.filled++;
    this.ring[this.next] = value;
    this.sum += value;
    this.next = (this.next + 1) % this.ring.length;
  }

  /** NaN until something has been labelled. */
  get mean(): number {
    return this.filled === 0 ? Number.NaN : this.sum / this.filled;
  }

  get size(): number {
    return this.filled;
  }
}
