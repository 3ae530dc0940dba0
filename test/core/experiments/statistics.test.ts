import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  normalCdf,
  normalQuantile,
  studentTCdf,
  studentTQuantile,
} from '../../../src/core/experiments/distributions.js';
import {
  compareMeans,
  compareProportions,
  ErrorTally,
  estimateMean,
  estimateProportion,
  type ErrorSums,
  type Interval,
  type MeanComparison,
  MIN_SAMPLES_PER_VARIANT,
  type ProportionComparison,
  ProportionTally,
  samplesNeededForMeans,
  samplesNeededForProportions,
} from '../../../src/core/experiments/statistics.js';

// Reference values were computed once with scipy 1.17.1 (numpy 2.4) and pasted here; the calls are
// in the comment above each table. Nothing here runs Python.

/** |actual − expected| ≤ relative·|expected| (absolute near 0). */
function expectClose(actual: number, expected: number, relative = 1e-6): void {
  const tolerance = Math.max(relative * Math.abs(expected), 1e-300);
  if (!(Math.abs(actual - expected) <= tolerance)) {
    expect.fail(`${actual} is not within ${relative} (relative) of ${expected}`);
  }
}

function sumsOf(errors: readonly number[]): ErrorSums {
  const tally = new ErrorTally();
  for (const e of errors) tally.add(e);
  return tally;
}

describe('the distributions', () => {
  // [df, [[t, scipy.stats.t.cdf(t, df)], …]]
  const tCdf: [number, [number, number][]][] = [
    [
      1,
      [
        [-40, 0.007956089912025812],
        [-3.5, 0.08858553278290476],
        [-1, 0.25000000000000006],
        [0.7, 0.6944001122142147],
        [2, 0.8524163823495667],
        [12, 0.9735353239404101],
      ],
    ],
    [
      2,
      [
        [-40, 0.0003122073360923703],
        [-3.5, 0.036413675027234665],
        [-1, 0.2113248654051871],
        [0.7, 0.7218034876835673],
        [2, 0.908248290463863],
        [12, 0.9965635331614208],
      ],
    ],
    [
      3,
      [
        [-40, 1.7190340394579253e-5],
        [-3.5, 0.019740518809641387],
        [-1, 0.19550110947788524],
        [0.7, 0.7328365008476182],
        [2, 0.9303370157205785],
        [12, 0.9993774920996054],
      ],
    ],
    [
      4,
      [
        [-40, 1.1670081613006339e-6],
        [-3.5, 0.012448081730111374],
        [-1, 0.18695048315002943],
        [0.7, 0.7387499172032749],
        [2, 0.9419417382415922],
        [12, 0.9998617857257485],
      ],
    ],
    [
      5,
      [
        [-40, 9.205981085886477e-8],
        [-3.5, 0.008642215892646679],
        [-1, 0.18160873382456144],
        [0.7, 0.7424255258425918],
        [2, 0.9490302605850708],
        [12, 0.9999645525374142],
      ],
    ],
    [
      7.5,
      [
        [-40, 2.559528381854894e-10],
        [-3.5, 0.004474435990039672],
        [-1, 0.17423801281537565],
        [0.7, 0.7474721890630748],
        [2, 0.9585515023509168],
        [12, 0.9999981695967722],
      ],
    ],
    [
      30,
      [
        [-40, 6.863022597203209e-28],
        [-3.5, 0.0007384037188221266],
        [-1, 0.1626543077130151],
        [0.7, 0.7553397782501642],
        [2, 0.9726874775185085],
        [12, 0.999999999999721],
      ],
    ],
    [
      1000,
      [
        [-40, 5.239426077586636e-210],
        [-3.5, 0.0002428871729839163],
        [-1, 0.15877620904233627],
        [0.7, 0.7579549430036988],
        [2, 0.9771148267533741],
        [12, 1.0],
      ],
    ],
    [
      1e6,
      [
        [-3.5, 0.00023263919684051747],
        [-1, 0.15865537491678916],
        [0.7, 0.7580362663567293],
        [2, 0.9772497330743404],
        [12, 1.0],
      ],
    ],
  ];
  // [df, [[p, scipy.stats.t.ppf(p, df)], …]]
  const tPpf: [number, [number, number][]][] = [
    [
      1,
      [
        [1e-6, -318309.8861827435],
        [0.025, -12.706204736174705],
        [0.2, -1.3763819204711736],
        [0.8, 1.3763819204711738],
        [0.975, 12.706204736174694],
        [0.999, 318.30883898555015],
      ],
    ],
    [
      2,
      [
        [1e-6, -707.1057205259339],
        [0.025, -4.302652729749464],
        [0.2, -1.060660171779821],
        [0.8, 1.0606601717798214],
        [0.975, 4.302652729749462],
        [0.999, 22.327124770119866],
      ],
    ],
    [
      3,
      [
        [1e-6, -103.29946778041935],
        [0.025, -3.1824463052837086],
        [0.2, -0.9784723123633038],
        [0.8, 0.9784723123633042],
        [0.975, 3.1824463052837078],
        [0.999, 10.214531852407383],
      ],
    ],
    [
      5,
      [
        [1e-6, -24.771029720515948],
        [0.025, -2.5705818356363155],
        [0.2, -0.9195437802408267],
        [0.8, 0.9195437802408271],
        [0.975, 2.5705818356363146],
        [0.999, 5.893429531356009],
      ],
    ],
    [
      2.4,
      [
        [1e-6, -266.81958187123337],
        [0.025, -3.683504289675021],
        [0.2, -1.0183287883990662],
        [0.8, 1.0183287883990666],
        [0.975, 3.683504289675019],
        [0.999, 14.942687812219416],
      ],
    ],
    [
      29,
      [
        [1e-6, -5.917105540459563],
        [0.025, -2.045229642132704],
        [0.2, -0.8541919858818556],
        [0.8, 0.8541919858818557],
        [0.975, 2.045229642132703],
        [0.999, 3.3962402883568026],
      ],
    ],
    [
      1e4,
      [
        [1e-6, -4.75622968505678],
        [0.025, -1.9602012398906263],
        [0.2, -0.8416571791416533],
        [0.8, 0.8416571791416534],
        [0.975, 1.960201239890626],
        [0.999, 3.091047516030612],
      ],
    ],
  ];

  it.each(tCdf)('the t CDF with %s degrees of freedom matches scipy.stats.t.cdf', (df, points) => {
    for (const [t, expected] of points) expectClose(studentTCdf(t, df), expected);
  });

  it.each(tPpf)('the t quantile with %s degrees of freedom matches scipy.stats.t.ppf', (df, points) => {
    for (const [p, expected] of points) expectClose(studentTQuantile(p, df), expected);
  });

  it('the normal CDF and quantile match scipy.stats.norm.cdf and .ppf', () => {
    const cdf = [
      [-20, 2.7536241186061556e-89],
      [-5, 2.866515718791933e-7],
      [-1.96, 0.024997895148220435],
      [-0.5, 0.3085375387259869],
      [0, 0.5],
      [1, 0.8413447460685429],
      [3, 0.9986501019683699],
    ] as const;
    for (const [x, expected] of cdf) expectClose(normalCdf(x), expected);
    const ppf = [
      [1e-10, -6.361340902404056],
      [1e-4, -3.7190164854556804],
      [0.025, -1.9599639845400545],
      [0.3, -0.5244005127080409],
      [0.8, 0.8416212335729143],
      [0.975, 1.959963984540054],
      [0.99999, 4.264890793923841],
    ] as const;
    for (const [p, expected] of ppf) expectClose(normalQuantile(p), expected);
    expect(normalQuantile(0.5)).toBe(0);
  });

  it('has the limits right', () => {
    expect(studentTCdf(0, 3)).toBe(0.5);
    expect([studentTCdf(-Infinity, 3), studentTCdf(Infinity, 3)]).toEqual([0, 1]);
    expect([studentTQuantile(0, 3), studentTQuantile(0.5, 3), studentTQuantile(1, 3)]).toEqual([
      -Infinity,
      0,
      Infinity,
    ]);
    expect([studentTCdf(1, 0), studentTQuantile(0.5, -1), studentTQuantile(1.5, 3)].every(Number.isNaN)).toBe(true);
  });
});

describe('accuracy: Wilson intervals, Newcombe differences, the pooled z-test', () => {
  // a = scipy.stats.binomtest(x_a, n_a).proportion_ci(0.95, 'wilson'), b likewise;
  // d = p_b − p_a; newcombe = [d − √((p_b − b.low)² + (a.high − p_a)²), d + √((b.high − p_b)² + (p_a − a.low)²)];
  // p = (x_a + x_b)/(n_a + n_b); z = d/√(p(1 − p)(1/n_a + 1/n_b)); pValue = 2·scipy.stats.norm.sf(|z|);
  // zα, zβ = norm.ppf(0.975), norm.ppf(0.8); p̄ = (p_a + p_b)/2;
  // n = (zα·√(2p̄(1 − p̄)) + zβ·√(p_a(1 − p_a) + p_b(1 − p_b)))² / (p_a − p_b)²; perVariant = ceil(n).
  const cases = [
    {
      a: { n: 1000, correct: 870 },
      b: { n: 1000, correct: 893 },
      wilsonA: [0.8477319733455311, 0.889436225375158],
      wilsonB: [0.8723150421383736, 0.9106771256919799],
      newcombe: [-0.005383698465337341, 0.05143142247257767],
      z: 1.5912649785770985,
      p: 0.11154995485909155,
      perVariant: 3099,
    },
    {
      a: { n: 5000, correct: 4500 },
      b: { n: 600, correct: 530 },
      wilsonA: [0.8913750184255398, 0.9080108200184145],
      wilsonB: [0.8551739570252176, 0.9066154055309451],
      newcombe: [-0.0459433418779932, 0.008161647673509239],
      z: -1.275798156047796,
      p: 0.20202687958141685,
      perVariant: 5458,
    },
    {
      a: { n: 50, correct: 45 },
      b: { n: 50, correct: 49 },
      wilsonA: [0.7863976856252034, 0.9565242350681095],
      wilsonB: [0.8950455641036218, 0.9964607407283538],
      newcombe: [-0.022040410272140376, 0.1947886833125818],
      z: 1.6843038421330365,
      p: 0.09212296325765229,
      perVariant: 138,
    },
    {
      a: { n: 40, correct: 0 },
      b: { n: 40, correct: 3 },
      wilsonA: [0, 0.08762160119728662],
      wilsonB: [0.025836025774588198, 0.19864233524310543],
      newcombe: [-0.02547209243373652, 0.19864233524310543],
      z: 1.765469659009499,
      p: 0.0774848651326447,
      perVariant: 100,
    },
  ];

  it.each(cases)(
    '$a.correct/$a.n against $b.correct/$b.n matches the reference',
    ({ a, b, wilsonA, wilsonB, newcombe, z, p, perVariant }) => {
      for (const [counts, [lower, upper]] of [
        [a, wilsonA],
        [b, wilsonB],
      ] as const) {
        const { interval, rate } = estimateProportion(counts);
        expect(rate).toBe(counts.correct / counts.n);
        expectClose(interval.lower, lower!);
        expectClose(interval.upper, upper!);
      }
      const comparison = compareProportions(a, b);
      expectClose(comparison.difference, b.correct / b.n - a.correct / a.n, 1e-12);
      expectClose(comparison.interval.lower, newcombe[0]!);
      expectClose(comparison.interval.upper, newcombe[1]!);
      expectClose(comparison.z, z);
      expectClose(comparison.pValue, p);
      const needed = samplesNeededForProportions(a, b);
      expect(needed.perVariant).toBe(perVariant);
      expect(needed.additional).toEqual([Math.max(0, perVariant - a.n), Math.max(0, perVariant - b.n)]);
    },
  );

  it('at the size it names, the z-test reaches 80% power, and one sample fewer does not', () => {
    // Power of the pooled test at n per group (the formula solved for n, read the other way).
    const power = (pa: number, pb: number, n: number) => {
      const mean = (pa + pb) / 2;
      const spread = Math.sqrt(pa * (1 - pa) + pb * (1 - pb));
      return normalCdf(
        (Math.abs(pa - pb) * Math.sqrt(n) - normalQuantile(0.975) * Math.sqrt(2 * mean * (1 - mean))) / spread,
      );
    };
    for (const { a, b } of cases) {
      const { perVariant } = samplesNeededForProportions(a, b);
      const [pa, pb] = [a.correct / a.n, b.correct / b.n];
      expect(power(pa, pb, perVariant)).toBeGreaterThanOrEqual(0.8);
      expect(power(pa, pb, perVariant - 1)).toBeLessThan(0.8);
    }
  });

  it('says when the numbers are not to be trusted, and why', () => {
    expect(estimateProportion({ n: 1000, correct: 870 })).toMatchObject({ trustworthy: true, reasons: [] });
    expect(estimateProportion({ n: 20, correct: 18 }).reasons).toEqual([
      `20 samples, fewer than ${MIN_SAMPLES_PER_VARIANT}`,
      '2 wrong, fewer than 5',
    ]);
    expect(estimateProportion({ n: 100, correct: 3 }).reasons).toEqual(['3 correct, fewer than 5']);
    const comparison = compareProportions({ n: 1000, correct: 870 }, { n: 12, correct: 12 }, 0.95, ['v1', 'v2']);
    expect(comparison).toMatchObject({
      trustworthy: false,
      reasons: ['v2: 12 samples, fewer than 30', 'v2: 0 wrong, fewer than 5'],
    });
  });

  it('handles the degenerate cases without NaN where an answer exists', () => {
    expect(estimateProportion({ n: 0, correct: 0 })).toMatchObject({
      rate: Number.NaN,
      interval: { lower: 0, upper: 1 },
      trustworthy: false,
    });
    expect(compareProportions({ n: 50, correct: 50 }, { n: 80, correct: 80 })).toMatchObject({
      difference: 0,
      z: 0,
      pValue: 1,
    });
    expect(compareProportions({ n: 0, correct: 0 }, { n: 80, correct: 80 }).pValue).toBeNaN();
    expect(samplesNeededForProportions({ n: 100, correct: 90 }, { n: 200, correct: 180 })).toEqual({
      perVariant: Infinity,
      additional: [Infinity, Infinity],
    });
    expect(samplesNeededForProportions({ n: 0, correct: 0 }, { n: 200, correct: 180 }).perVariant).toBeNaN();
    expect(samplesNeededForProportions({ n: 5000, correct: 1000 }, { n: 5000, correct: 4000 }).additional).toEqual([
      0, 0,
    ]);
  });

  it('refuses counts that cannot be', () => {
    expect(() => estimateProportion({ n: 3, correct: 4 })).toThrow(RangeError);
    expect(() => estimateProportion({ n: 2.5, correct: 1 })).toThrow(RangeError);
    expect(() => estimateProportion({ n: 10, correct: 5 }, 1)).toThrow(RangeError);
    expect(() => samplesNeededForProportions({ n: 10, correct: 5 }, { n: 10, correct: 6 }, { power: 1 })).toThrow(
      RangeError,
    );
  });

  it('a tally counts what it is given', () => {
    const tally = new ProportionTally();
    for (const right of [true, false, true, true]) tally.add(right);
    expect({ n: tally.n, correct: tally.correct }).toEqual({ n: 4, correct: 3 });
  });
});

describe('mean absolute error: t intervals, Welch’s t-test', () => {
  // res = scipy.stats.ttest_ind(b, a, equal_var=False); ci = res.confidence_interval(0.95)
  // → t = res.statistic, p = res.pvalue, df = res.df, difference ci = [ci.low, ci.high];
  // each variant: scipy.stats.t.interval(0.95, n − 1, loc=mean, scale=std(ddof=1)/√n);
  // n = (norm.ppf(0.975) + norm.ppf(0.8))²·(var(a, ddof=1) + var(b, ddof=1)) / (mean(a) − mean(b))²;
  // perVariant = ceil(n).
  // big: a = [abs(3·sin(i)) for i in 1..200], b = [2.5·abs(cos(1.3·i)) + 0.1 for i in 1..150].
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const cases = [
    {
      name: 'two against three (df ≈ 3)',
      a: [1.0, 2.0],
      b: [3.0, 5.5, 4.0],
      t: 3.023715784073818,
      p: 0.05663848377050381,
      df: 2.9980879541108987,
      ci: [-0.14100005024592166, 5.474333383579255],
      mean: [1.5, 4.166666666666667],
      sd: [0.7071067811865476, 1.2583057392117916],
      ciA: [0, 7.853102368087347],
      ciB: [1.0408619269787796, 7.292471406354554],
      perVariant: 3,
    },
    {
      name: 'seven against nine',
      a: [0.5, 1.2, 0.3, 2.2, 0.9, 1.1, 0.4],
      b: [1.5, 0.2, 2.3, 1.9, 2.8, 1.4, 0.9, 1.7, 2.0],
      t: 1.942419206366522,
      p: 0.07275293421936299,
      df: 13.816522769147687,
      ci: [-0.07288696903420944, 1.4538393499865898],
      mean: [0.9428571428571431, 1.6333333333333333],
      sd: [0.6553806600166117, 0.7648529270389177],
      ciA: [0.3367311259109059, 1.54898315980338],
      ciB: [1.0454153291417485, 2.221251337524918],
      perVariant: 17,
    },
    {
      name: '200 against 150',
      a: range(1, 200).map((i) => Math.abs(3 * Math.sin(i))),
      b: range(1, 150).map((i) => 2.5 * Math.abs(Math.cos(1.3 * i)) + 0.1),
      t: -2.4849895573715837,
      p: 0.013430134653743242,
      df: 344.1289624608693,
      ci: [-0.40193134931413554, -0.04677671421955734],
      mean: [1.9185581320092728, 1.6942041002424264],
      sd: [0.920149064602598, 0.7665937840643672],
      ciA: [1.79025403297451, 2.0468622310440354],
      ciB: [1.5705212455818753, 1.8178869549029775],
      perVariant: 224,
    },
  ];

  it.each(cases)(
    '$name matches scipy.stats.ttest_ind(equal_var=False)',
    ({ a, b, t, p, df, ci, mean, sd, ciA, ciB, perVariant }) => {
      const [sa, sb] = [sumsOf(a), sumsOf(b)];
      for (const [sums, m, s, [lower, upper]] of [
        [sa, mean[0]!, sd[0]!, ciA],
        [sb, mean[1]!, sd[1]!, ciB],
      ] as const) {
        const estimate = estimateMean(sums);
        expectClose(estimate.mean, m, 1e-12);
        expectClose(estimate.standardDeviation, s, 1e-9);
        // scipy's lower bound for a is −4.85; ours is clamped at 0, since an absolute error is never negative.
        if (lower! > 0) expectClose(estimate.interval.lower, lower!);
        else expect(estimate.interval.lower).toBe(0);
        expectClose(estimate.interval.upper, upper!);
      }
      const comparison = compareMeans(sa, sb);
      expectClose(comparison.t, t);
      expectClose(comparison.degreesOfFreedom, df);
      expectClose(comparison.pValue, p);
      expectClose(comparison.interval.lower, ci[0]!);
      expectClose(comparison.interval.upper, ci[1]!);
      expect(samplesNeededForMeans(sa, sb)).toEqual({
        perVariant,
        additional: [Math.max(0, perVariant - a.length), Math.max(0, perVariant - b.length)],
      });
    },
  );

  it('flags small samples, and handles constant and missing errors', () => {
    const few = sumsOf([1, 2, 3]);
    expect(estimateMean(few)).toMatchObject({ trustworthy: false, reasons: ['3 samples, fewer than 30'] });
    expect(compareMeans(few, sumsOf(range(1, 40)), 0.95, ['old', 'new']).reasons).toEqual([
      'old: 3 samples, fewer than 30',
    ]);
    const constant = (value: number, n: number) => ({ n, sum: value * n, sumSquares: value * value * n });
    expect(compareMeans(constant(1, 40), constant(1, 50))).toMatchObject({ t: 0, pValue: 1, degreesOfFreedom: 88 });
    expect(compareMeans(constant(1, 40), constant(2, 50))).toMatchObject({ t: Infinity, pValue: 0 });
    expect(compareMeans({ n: 1, sum: 1, sumSquares: 1 }, constant(2, 50)).pValue).toBeNaN();
    expect(estimateMean({ n: 0, sum: 0, sumSquares: 0 }).mean).toBeNaN();
    expect(samplesNeededForMeans(constant(1, 40), constant(1, 50)).perVariant).toBe(Infinity);
    expect(samplesNeededForMeans({ n: 1, sum: 1, sumSquares: 1 }, constant(2, 50)).perVariant).toBeNaN();
  });

  it('refuses sums that cannot be, and keeps only the size of an error', () => {
    expect(() => estimateMean({ n: 3, sum: -1, sumSquares: 1 })).toThrow(RangeError);
    expect(() => new ErrorTally().add(Number.NaN)).toThrow(RangeError);
    const tally = new ErrorTally();
    tally.add(-2);
    tally.add(3);
    expect({ n: tally.n, sum: tally.sum, sumSquares: tally.sumSquares }).toEqual({ n: 2, sum: 5, sumSquares: 13 });
  });
});

describe('properties', () => {
  const counts = fc
    .integer({ min: 1, max: 5000 })
    .chain((n) => fc.record({ n: fc.constant(n), correct: fc.integer({ min: 0, max: n }) }));
  // n errors with a given mean and spread, as their sums (what a tally would hold).
  const errorSums = fc
    .record({
      n: fc.integer({ min: 2, max: 5000 }),
      mean: fc.double({ min: 0, max: 100, noNaN: true }),
      sd: fc.double({ min: 0, max: 50, noNaN: true }),
    })
    .map(({ n, mean, sd }) => ({ n, sum: mean * n, sumSquares: n * mean * mean + (n - 1) * sd * sd }));

  /** What the two tests share: p in [0, 1], the same p either way round, and a mirrored difference. */
  function expectSymmetric(ab: ProportionComparison | MeanComparison, ba: ProportionComparison | MeanComparison): void {
    expect(ab.pValue).toBeGreaterThanOrEqual(0);
    expect(ab.pValue).toBeLessThanOrEqual(1);
    expect(ba.pValue).toBe(ab.pValue);
    expect(ba.difference + ab.difference).toBe(0);
    expectClose(ba.interval.lower, -ab.interval.upper, 1e-9);
    expectClose(ba.interval.upper, -ab.interval.lower, 1e-9);
  }

  function expectWithin(value: number, { lower, upper }: Interval): void {
    expect(lower).toBeLessThanOrEqual(value);
    expect(upper).toBeGreaterThanOrEqual(value);
  }

  it('p-values lie in [0, 1] and do not depend on which variant is called a', () => {
    fc.assert(
      fc.property(counts, counts, (a, b) => expectSymmetric(compareProportions(a, b), compareProportions(b, a))),
    );
    fc.assert(fc.property(errorSums, errorSums, (a, b) => expectSymmetric(compareMeans(a, b), compareMeans(b, a))));
  });

  it('every interval contains its estimate', () => {
    fc.assert(
      fc.property(counts, counts, (a, b) => {
        for (const { rate, interval } of [estimateProportion(a), estimateProportion(b)]) expectWithin(rate, interval);
        const { difference, interval } = compareProportions(a, b);
        expectWithin(difference, interval);
      }),
    );
    fc.assert(
      fc.property(errorSums, errorSums, (a, b) => {
        for (const { mean, interval } of [estimateMean(a), estimateMean(b)]) expectWithin(mean, interval);
        const { difference, interval } = compareMeans(a, b);
        expectWithin(difference, interval);
      }),
    );
  });

  it('more samples at the same rate, or the same mean and spread, never widen an interval', () => {
    const width = ({ lower, upper }: { lower: number; upper: number }) => upper - lower;
    fc.assert(
      fc.property(counts, fc.integer({ min: 2, max: 20 }), (c, k) => {
        const more = { n: c.n * k, correct: c.correct * k };
        expect(width(estimateProportion(more).interval)).toBeLessThanOrEqual(width(estimateProportion(c).interval));
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        (n, extra, mean, sd) => {
          const sums = (size: number) => ({
            n: size,
            sum: mean * size,
            sumSquares: size * mean * mean + (size - 1) * sd * sd,
          });
          const [fewer, more] = [estimateMean(sums(n)), estimateMean(sums(n + extra))];
          // The upper half-width (the lower bound may be clamped at 0). Slack: a variance from sums carries
          // rounding of about √ε·mean in its standard deviation, visible when the spread is 0.
          expect(more.interval.upper - more.mean).toBeLessThanOrEqual(
            (fewer.interval.upper - fewer.mean) * (1 + 1e-9) + 1e-7 * mean,
          );
        },
      ),
    );
  });
});
