import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shortestFloat32 } from '../../../src/core/inference-log/dataset.js';

describe('float32 features in the data set', () => {
  it('are the shortest decimal that reads back as the same float32', () => {
    expect([5.099999904632568, 0.20000000298023224, 3.5, Math.fround(1e-7)].map(shortestFloat32)).toEqual([
      5.1, 0.2, 3.5, 1e-7,
    ]);
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (f) => {
        const short = shortestFloat32(f) as number;
        expect(Object.is(Math.fround(short), f) || (f === 0 && short === 0)).toBe(true);
        // and no shorter decimal would do
        const digits = short === 0 ? 1 : Number(short.toExponential().split('e')[0]!.replace(/[-.]/g, '').length);
        if (digits > 1) expect(Math.fround(Number(f.toPrecision(digits - 1)))).not.toBe(f);
      }),
      { numRuns: 2000 },
    );
  });

  it('leave other values as they are', () => {
    expect([null, 'text', Number.NaN, 0.1].map(shortestFloat32)).toEqual([null, 'text', Number.NaN, 0.1]);
  });
});
