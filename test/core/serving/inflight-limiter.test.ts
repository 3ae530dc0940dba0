import { describe, expect, it } from 'vitest';
import { InflightLimiter } from '../../../src/core/serving/inflight-limiter.js';
import { thrownServiceError } from '../../helpers/errors.js';

describe('InflightLimiter', () => {
  it('takes up to the cap, refuses past it with SERVER_BUSY, counts the refusal, and gives a share back once', () => {
    const refused: string[] = [];
    const limiter = new InflightLimiter({ bytes: 100, rows: 10 }, { rejected: (r) => refused.push(r) });
    const a = limiter.take('bytes', 60);
    const b = limiter.take('bytes', 40);
    expect(thrownServiceError(() => limiter.take('bytes', 1)).code).toBe('SERVER_BUSY');
    expect(refused).toEqual(['bytes']);
    a();
    a(); // a second release gives nothing back twice
    expect(limiter.stats().bytes).toBe(40);
    b();
    expect(limiter.stats()).toEqual({ bytes: 0, rows: 0 });
  });

  it('trues a share down to what the body really was', () => {
    const limiter = new InflightLimiter({ bytes: 100, rows: 10 });
    const worst = limiter.take('bytes', 100);
    const real = limiter.resize('bytes', worst, 100, 30);
    expect(limiter.stats().bytes).toBe(30);
    real();
    expect(limiter.stats().bytes).toBe(0);
  });
});
