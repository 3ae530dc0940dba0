const MINUTE_MS = 60_000;

/**
 * One warning a minute at most about values from Redis that were not used, with how many went
 * unlogged before it: a Redis full of planted values must not flood the log. Says which model and
 * why, never the value.
 */
export class RefusalLog {
  private loggedAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(
    private readonly warn: (obj: object, msg: string) => void,
    private readonly message: string,
    private readonly now: () => number = Date.now,
  ) {}

  refused(details: object): void {
    const now = this.now();
    if (now - this.loggedAt < MINUTE_MS) {
      this.unlogged++;
      return;
    }
    this.warn({ ...details, unloggedBefore: this.unlogged }, this.message);
    this.loggedAt = now;
    this.unlogged = 0;
  }
}
