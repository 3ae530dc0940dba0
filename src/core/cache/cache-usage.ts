/** Rows looked up before the first decision, and the span the hit rate is measured over. */
const WINDOW_ROWS = 512;
/** While the cache is skipped, one request in this many still goes through it, to notice rows coming back. */
const PROBE_EVERY = 32;

/**
 * Whether a model version's predictions are worth caching, decided from its own traffic. Every
 * lookup costs the event loop (a key per row, the LRU, a write and a single-flight entry per
 * miss), and only hits pay it back; measured on breast_cancer (`npm run bench:cache-policy`), a
 * stream of distinct rows ran slower with the cache than without. So when fewer than
 * `minHitRate` of the rows looked up hit, the cache is skipped, and every PROBE_EVERY-th request
 * still goes through it (looked up and written), so that when rows start repeating, the hit rate
 * is seen and the cache is used again. The rate is over the last WINDOW_ROWS / 2 to WINDOW_ROWS
 * rows looked up (counts halve each time the window fills), so after a switch to skipping, a few
 * dozen probes that hit turn it back on. `minHitRate` 0: always used.
 */
export class CacheUsage {
  private looked = 0;
  private hits = 0;
  private requests = 0;
  private skipped = false;
  /** Whether a first window has been seen; from then on every request's rows update the decision. */
  private measured = false;

  constructor(
    private readonly minHitRate: number,
    /** Told when the decision changes, with the hit rate it was made on. */
    private readonly onChange?: (using: boolean, hitRate: number) => void,
  ) {}

  /** Whether this request goes through the cache. */
  use(): boolean {
    if (!this.skipped) return true;
    return ++this.requests % PROBE_EVERY === 0;
  }

  /** A request's rows were looked up, and this many hit. */
  record(rows: number, hits: number): void {
    if (this.minHitRate <= 0) return;
    this.looked += rows;
    this.hits += hits;
    if (this.looked >= WINDOW_ROWS) this.measured = true;
    if (!this.measured) return;
    const rate = this.hits / this.looked;
    const skip = rate < this.minHitRate;
    if (skip !== this.skipped) {
      this.skipped = skip;
      this.onChange?.(!skip, rate);
    }
    if (this.looked >= WINDOW_ROWS) {
      this.looked /= 2;
      this.hits /= 2;
    }
  }

  get using(): boolean {
    return !this.skipped;
  }
}
