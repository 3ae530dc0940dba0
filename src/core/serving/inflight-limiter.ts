import { ServiceError } from '../../errors.js';

export type InflightResource = 'bytes' | 'rows';

export interface InflightObserver {
  rejected(resource: InflightResource): void;
}

/**
 * Process-wide caps on what requests in flight hold: body bytes (taken before the body is read)
 * and decoded rows (taken once a request is decoded). Past a cap the request is refused at once
 * with 503 SERVER_BUSY, which clients retry after Retry-After, rather than queued in memory. A
 * share is given back exactly once, however the request ends.
 */
export class InflightLimiter {
  private readonly held: Record<InflightResource, number> = { bytes: 0, rows: 0 };

  constructor(
    private readonly caps: Record<InflightResource, number>,
    private readonly observer?: InflightObserver,
  ) {}

  /** Takes `amount` of the resource, or throws SERVER_BUSY; returns what gives it back (idempotent). */
  take(resource: InflightResource, amount: number): () => void {
    if (amount <= 0) return () => {};
    const cap = this.caps[resource];
    if (this.held[resource] + amount > cap) {
      this.observer?.rejected(resource);
      throw new ServiceError(
        'SERVER_BUSY',
        `the server is holding ${this.held[resource]} of its ${cap} in-flight request ${resource}; retry shortly`,
      );
    }
    this.held[resource] += amount;
    let held = amount;
    return () => {
      this.held[resource] -= held;
      held = 0;
    };
  }

  /**
   * What a share taken as `from` really is now (a body whose size was not known up front); never
   * above the first amount.
   */
  resize(resource: InflightResource, release: () => void, from: number, to: number): () => void {
    if (to >= from) return release;
    release();
    return this.take(resource, to);
  }

  /** What is held now, for the gauges and the tests. */
  stats(): Record<InflightResource, number> {
    return { ...this.held };
  }

  limits(): Record<InflightResource, number> {
    return { ...this.caps };
  }
}
