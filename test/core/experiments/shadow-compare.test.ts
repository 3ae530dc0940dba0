import { describe, expect, it } from 'vitest';
import { compareRows, type ShadowOutcome } from '../../../src/core/experiments/shadow-compare.js';

describe("compareRows: a shadow's rows against the client's", () => {
  function observed(
    primary: Parameters<typeof compareRows>[3],
    mirrored: Parameters<typeof compareRows>[4],
    rows: number,
  ) {
    const outcomes: Partial<Record<ShadowOutcome, number>> = {};
    const differences: number[] = [];
    compareRows(
      {
        outcome: (_m, _s, o, n) => (outcomes[o] = (outcomes[o] ?? 0) + n),
        difference: (_m, _s, v) => differences.push(v),
        latency: () => {},
      },
      'm',
      's',
      primary,
      mirrored,
      rows,
    );
    return { outcomes, differences };
  }
  const row = (label: string) => ({ label, confidence: 1, probabilities: {} });

  it('counts classifier rows by whether the labels agree', () => {
    expect(observed([row('a'), row('b'), row('a')], [row('a'), row('a'), row('a')], 3).outcomes).toEqual({
      agree: 2,
      disagree: 1,
    });
  });

  it("records |shadow - primary| of each regressor row's first value, and counts the rows compared", () => {
    expect(observed([{ values: [10, 1] }, { values: [-2] }], [{ values: [7.5, 9] }, { values: [2] }], 2)).toEqual({
      outcomes: { compared: 2 },
      differences: [2.5, 4],
    });
  });

  it("counts a raw model's rows as compared", () => {
    expect(observed(undefined, undefined, 4)).toEqual({ outcomes: { compared: 4 }, differences: [] });
  });
});
