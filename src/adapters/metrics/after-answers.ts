/**
 * Metric updates taken off a request's way: they run once the event loop has written the answers
 * of this turn (setImmediate), or sooner when /metrics is rendered, so a scrape never misses a
 * request already answered. prom-client hashes and validates the labels of every update (about 1 µs
 * each, ten a prediction): at 1 connection that time was between a request and its answer.
 */
export class AfterAnswers {
  private pending: (() => void)[] = [];
  private scheduled = false;

  run(update: () => void): void {
    this.pending.push(update);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Runs every update still pending, in the order they came. */
  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    for (const update of pending) update();
  }
}
