import { describe, expect, it } from 'vitest';
import { appFor, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';

/** An iris row inside model.json's ranges; distinct for i < 1,000,000. */
const distinctRow = (i: number) => [4.5 + (i % 1000) / 1000, 3 + Math.floor(i / 1000) / 1e6, 1.5, 0.2];

describe('the prediction cache is skipped for a model whose rows rarely hit (CACHE_MIN_HIT_RATE)', () => {
  const app = appFor({ CACHE_MIN_HIT_RATE: '0.1' });
  const inUse = async () => sample(await scrape(app()), 'ml_cache_in_use', { model: 'iris', version: '1' });
  const lookups = async () =>
    sample(await scrape(app()), 'ml_cache_lookups_total', { tier: 'l1', result: 'miss' }) ?? 0;

  it('stops looking rows up after a window of misses, and uses the cache again once rows repeat', async () => {
    expect(await inUse()).toBe(1);
    for (let r = 0; r < 6; r++) {
      const { status, body } = await postJson(app(), '/predict', {
        model: 'iris',
        instances: Array.from({ length: 100 }, (_, i) => distinctRow(r * 100 + i)),
      });
      expect(status).toBe(200);
      expect(body.predictions).toHaveLength(100);
    }
    expect(await inUse()).toBe(0);
    expect(
      app().logs.lines.some((l) => l.msg === 'prediction cache skipped: its rows rarely hit' && l.model === 'iris'),
    ).toBe(true);

    // Skipped: 31 requests in 32 are answered without a lookup.
    const before = await lookups();
    for (let i = 0; i < 64; i++)
      expect(
        (
          await postJson(app(), '/predict', {
            model: 'iris',
            features: { sepal_length: 5, sepal_width: 3, petal_length: 1.5, petal_width: 0.2 + i / 1000 },
          })
        ).status,
      ).toBe(200);
    expect((await lookups()) - before).toBeLessThanOrEqual(2);

    // One row sent again and again: the probes hit, and the cache is used again.
    const repeated = {
      model: 'iris',
      features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
    };
    for (let i = 0; i < 32 * 40 && (await inUse()) === 0; i += 32) {
      for (let j = 0; j < 32; j++) expect((await postJson(app(), '/predict', repeated)).status).toBe(200);
    }
    expect(await inUse()).toBe(1);
    expect((await postJson(app(), '/predict', repeated)).body.cached).toBe(true);
  });
});
