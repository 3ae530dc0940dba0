import { describe, expect, it } from 'vitest';
import { RefusalLog } from '../../../src/core/cache/refusal-log.js';

describe('RefusalLog', () => {
  it('warns at most once a minute, with how many went unlogged before', () => {
    let now = 0;
    const lines: object[] = [];
    const log = new RefusalLog(
      (obj) => lines.push(obj),
      'refused',
      () => now,
    );
    for (let i = 0; i < 1000; i++) log.refused({ why: 'signature' });
    expect(lines).toEqual([{ why: 'signature', unloggedBefore: 0 }]);
    now = 59_999;
    log.refused({ why: 'shape' });
    expect(lines).toHaveLength(1);
    now = 60_000;
    log.refused({ why: 'shape' });
    expect(lines).toEqual([
      { why: 'signature', unloggedBefore: 0 },
      { why: 'shape', unloggedBefore: 1000 },
    ]);
  });
});
