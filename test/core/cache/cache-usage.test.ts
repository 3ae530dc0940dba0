import { describe, expect, it } from 'vitest';
import { CacheUsage } from '../../../src/core/cache/cache-usage.js';

/** Sends `requests` one-row requests; hit(i) says whether the i-th one's row is a hit when looked up. */
function drive(usage: CacheUsage, requests: number, hit: (i: number) => boolean): number {
  let looked = 0;
  for (let i = 0; i < requests; i++) {
    if (!usage.use()) continue;
    looked++;
    usage.record(1, hit(i) ? 1 : 0);
  }
  return looked;
}

describe('CacheUsage: the cache is skipped when its rows rarely hit', () => {
  it('uses the cache until enough rows were looked up, then skips it when they missed', () => {
    const changes: [boolean, number][] = [];
    const usage = new CacheUsage(0.1, (using, rate) => changes.push([using, rate]));
    expect(drive(usage, 511, () => false)).toBe(511);
    expect(usage.using).toBe(true);
    drive(usage, 1, () => false);
    expect(usage.using).toBe(false);
    expect(changes).toEqual([[false, 0]]);
    // Skipped: one request in 32 still looks up, so a change in traffic can be seen.
    expect(drive(usage, 3200, () => false)).toBe(100);
  });

  it('keeps the cache when enough rows hit, and comes back when rows start repeating', () => {
    const usage = new CacheUsage(0.1);
    drive(usage, 2000, (i) => i % 5 === 0); // 20% hits
    expect(usage.using).toBe(true);
    drive(usage, 2000, () => false);
    expect(usage.using).toBe(false);
    drive(usage, 32 * 40, () => true); // 40 probes see hits
    expect(usage.using).toBe(true);
    expect(drive(usage, 100, () => true)).toBe(100);
  });

  it('is always used with a minimum hit rate of 0', () => {
    const usage = new CacheUsage(0);
    expect(drive(usage, 5000, () => false)).toBe(5000);
    expect(usage.using).toBe(true);
  });
});
