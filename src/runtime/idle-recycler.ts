/**
 * Decides when the inference workers are replaced by fresh ones (INFERENCE_IDLE_RECYCLE_S): once
 * the pool has run nothing for `idleMs`, has run something since the last recycle, and the
 * process's RSS has grown by more than a tenth over the lowest it was at rest since then. A
 * worker keeps what its largest batch needed (onnxruntime's arena, its V8 heap) while it lives;
 * after a burst that is memory the pod holds for nothing. Under steady traffic the pool is never
 * idle, and a lull after which memory has not grown costs nothing.
 *
 * Pure timing and bookkeeping: the pool's counters, the clock and the RSS are passed in, so tests
 * drive `tick()` themselves.
 */
export interface IdleRecyclerOptions {
  idleMs: number;
  /** Inference tasks the pool has started so far, and how many run now. */
  activity: () => { started: number; running: number };
  /** Replaces the workers; resolves when the old ones are gone, false when it chose not to. */
  recycle: () => Promise<boolean>;
  rss?: () => number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

/** RSS over the rest level by more than this is memory worth giving back; half the 20% target. */
export const RECYCLE_GROWTH = 1.1;

export class IdleRecycler {
  private seen = -1;
  private idleSince: number;
  private startedAtRecycle = 0;
  /** The lowest RSS seen at rest since the last recycle (or since start). */
  private floor: number;
  private recycling = false;
  private timer?: NodeJS.Timeout;
  private readonly rss: () => number;
  private readonly now: () => number;

  constructor(private readonly options: IdleRecyclerOptions) {
    this.rss = options.rss ?? (() => process.memoryUsage.rss());
    this.now = options.now ?? (() => performance.now());
    this.idleSince = this.now();
    this.floor = this.rss();
  }

  /** Checks every second (or a quarter of the idle time when shorter), without keeping the process alive. */
  start(): this {
    this.timer = setInterval(() => void this.tick(), Math.max(10, Math.min(1000, this.options.idleMs / 4)));
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Resolves true when it recycled. */
  async tick(): Promise<boolean> {
    const { started, running } = this.options.activity();
    const now = this.now();
    if (started !== this.seen || running > 0) {
      this.seen = started;
      this.idleSince = now;
      return false;
    }
    if (this.recycling) return false;
    const rss = this.rss();
    this.floor = Math.min(this.floor, rss);
    if (
      started === this.startedAtRecycle ||
      now - this.idleSince < this.options.idleMs ||
      rss <= this.floor * RECYCLE_GROWTH
    )
      return false;
    this.recycling = true;
    this.startedAtRecycle = started;
    try {
      if (!(await this.options.recycle())) return false;
      this.floor = this.rss(); // the fresh workers' level: growth is measured from here on
      return true;
    } catch (err) {
      this.options.onError?.(err);
      return false;
    } finally {
      this.recycling = false;
    }
  }
}
