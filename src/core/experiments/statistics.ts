/**
 * The statistics of an experiment's results: is one variant more accurate (classifiers) or closer
 * (regressors, mean absolute error) than another, how sure are we, and how many more labelled
 * answers would settle it. Every function takes sufficient statistics that stream and add up
 * across pods (n and correct; n, Σ|e| and Σe²), never raw arrays.
 *
 * When to trust the numbers:
 * - The tests are normal approximations (z) or Welch's t on means; below
 *   {@link MIN_SAMPLES_PER_VARIANT} samples per variant, or with fewer than
 *   {@link MIN_OUTCOMES_PER_VARIANT} right or wrong answers in a variant, a result is marked
 *   `trustworthy: false` with the reasons. It is still computed, so a dashboard can show it greyed.
 * - The p-values are fixed-horizon: each is valid for one look at the data, chosen in advance.
 *   Looking again and again as feedback arrives and stopping at the first p < 0.05 makes a false
 *   positive far more likely than 5% (no peeking correction or sequential test is applied). Decide
 *   the sample size first ({@link samplesNeededForProportions}, {@link samplesNeededForMeans}),
 *   and read the p-value once it is reached.
 * - Feedback must be a fair sample of each variant's traffic: if labels arrive more often for one
 *   kind of request than another, the estimates carry that bias, and no interval shows it.
 */
import { normalCdf, normalQuantile, studentTCdf, studentTQuantile } from './distributions.js';

/** Below this many samples in a variant, its results are marked untrustworthy. */
export const MIN_SAMPLES_PER_VARIANT = 30;
/** Below this many right, or wrong, answers in a variant, a proportion's results are marked untrustworthy. */
export const MIN_OUTCOMES_PER_VARIANT = 5;

/** A classifier variant's labelled answers: `n` judged, `correct` of them right. */
export interface ProportionCounts {
  readonly n: number;
  readonly correct: number;
}

/** A regressor variant's absolute errors: how many, their sum, and the sum of their squares. */
export interface ErrorSums {
  readonly n: number;
  readonly sum: number;
  readonly sumSquares: number;
}

/** Counts right and wrong answers as feedback arrives. */
export class ProportionTally implements ProportionCounts {
  n = 0;
  correct = 0;

  add(correct: boolean): void {
    this.n++;
    if (correct) this.correct++;
  }
}

/** Sums absolute errors and their squares as feedback arrives. */
export class ErrorTally implements ErrorSums {
  n = 0;
  sum = 0;
  sumSquares = 0;

  /** `error`: predicted − actual, either sign; its absolute value is what counts. */
  add(error: number): void {
    if (!Number.isFinite(error)) throw new RangeError(`an error must be a finite number, got ${error}`);
    const absolute = Math.abs(error);
    this.n++;
    this.sum += absolute;
    this.sumSquares += absolute * absolute;
  }
}

export interface Interval {
  readonly lower: number;
  readonly upper: number;
}

/** Whether a result rests on enough data for its approximation to hold, and if not, why. */
export interface Trust {
  readonly trustworthy: boolean;
  readonly reasons: readonly string[];
}

export interface ProportionEstimate extends Trust {
  readonly n: number;
  /** correct / n; NaN when n is 0. */
  readonly rate: number;
  readonly interval: Interval;
}

export interface ProportionComparison extends Trust {
  /** rate(b) − rate(a). */
  readonly difference: number;
  readonly interval: Interval;
  /** The pooled two-proportion z statistic, signed like `difference`. */
  readonly z: number;
  /** Two-sided: the chance of a |z| this large if both variants were equally accurate. */
  readonly pValue: number;
}

export interface MeanEstimate extends Trust {
  readonly n: number;
  /** The mean absolute error; NaN when n is 0. */
  readonly mean: number;
  /** The sample standard deviation of the absolute errors; NaN below 2 samples. */
  readonly standardDeviation: number;
  readonly interval: Interval;
}

export interface MeanComparison extends Trust {
  /** mean(b) − mean(a). */
  readonly difference: number;
  readonly interval: Interval;
  /** Welch's t statistic, signed like `difference`. */
  readonly t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  readonly degreesOfFreedom: number;
  /** Two-sided: the chance of a |t| this large if both variants had the same mean error. */
  readonly pValue: number;
}

export interface SamplesNeeded {
  /** Samples each variant needs in all (rounded up); Infinity when the observed difference is 0. */
  readonly perVariant: number;
  /** What each of a and b still needs beyond what it has: 0 when already enough. */
  readonly additional: readonly [number, number];
}

/** Variant names used in the reasons of a comparison. */
export type VariantNames = readonly [string, string];

const DEFAULT_NAMES: VariantNames = ['a', 'b'];
const NO_INTERVAL: Interval = { lower: Number.NaN, upper: Number.NaN };

function checkCounts({ n, correct }: ProportionCounts): void {
  if (!Number.isInteger(n) || !Number.isInteger(correct) || n < 0 || correct < 0 || correct > n) {
    throw new RangeError(`counts must be whole numbers with 0 ≤ correct ≤ n, got n=${n}, correct=${correct}`);
  }
}

function checkSums({ n, sum, sumSquares }: ErrorSums): void {
  if (!Number.isInteger(n) || n < 0 || !(sum >= 0) || !(sumSquares >= 0) || !Number.isFinite(sum + sumSquares)) {
    throw new RangeError(
      `error sums must be a whole n ≥ 0 and finite sums ≥ 0, got n=${n}, sum=${sum}, sumSquares=${sumSquares}`,
    );
  }
}

function fewSamples(n: number): string[] {
  return n < MIN_SAMPLES_PER_VARIANT ? [`${n} samples, fewer than ${MIN_SAMPLES_PER_VARIANT}`] : [];
}

function trust(reasons: string[]): Trust {
  return { trustworthy: reasons.length === 0, reasons };
}

function named(names: VariantNames, a: Trust, b: Trust): string[] {
  return [...a.reasons.map((r) => `${names[0]}: ${r}`), ...b.reasons.map((r) => `${names[1]}: ${r}`)];
}

/** The upper quantile of a two-sided interval at `confidence`: 0.975 for 0.95. */
function upperQuantile(confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  return 1 - (1 - confidence) / 2;
}

/** z such that a two-sided interval at `confidence` is ±z standard errors. */
function twoSidedZ(confidence: number): number {
  return normalQuantile(upperQuantile(confidence));
}

/**
 * Accuracy with its Wilson score interval:
 * (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), p̂ = correct/n, z = Φ⁻¹(1 − α/2).
 * Unlike p̂ ± z·√(p̂(1−p̂)/n) (Wald), it stays inside [0, 1] and keeps close to its nominal
 * coverage for small n and rates near 0 or 1. Untrustworthy below 30 samples or 5 right or wrong.
 * With n = 0 the rate is NaN and the interval [0, 1].
 */
export function estimateProportion(counts: ProportionCounts, confidence = 0.95): ProportionEstimate {
  checkCounts(counts);
  const { n, correct } = counts;
  const reasons = fewSamples(n);
  if (correct < MIN_OUTCOMES_PER_VARIANT) reasons.push(`${correct} correct, fewer than ${MIN_OUTCOMES_PER_VARIANT}`);
  if (n - correct < MIN_OUTCOMES_PER_VARIANT)
    reasons.push(`${n - correct} wrong, fewer than ${MIN_OUTCOMES_PER_VARIANT}`);
  if (n === 0) return { n, rate: Number.NaN, interval: { lower: 0, upper: 1 }, ...trust(reasons) };
  const z = twoSidedZ(confidence);
  const rate = correct / n;
  const z2n = (z * z) / n;
  const centre = (rate + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt((rate * (1 - rate)) / n + z2n / (4 * n))) / (1 + z2n);
  // Clamped: at rate 0 or 1 the exact bound is 0 or 1, and rounding must not put the estimate outside.
  const interval = {
    lower: Math.max(0, Math.min(rate, centre - half)),
    upper: Math.min(1, Math.max(rate, centre + half)),
  };
  return { n, rate, interval, ...trust(reasons) };
}

/**
 * Is b more or less accurate than a? The difference p̂_b − p̂_a with Newcombe's hybrid score
 * interval (built from the two Wilson intervals: Newcombe 1998, method 10), and the pooled
 * two-proportion z-test: z = (p̂_b − p̂_a) / √(p̄(1−p̄)(1/n_a + 1/n_b)), p̄ = (x_a + x_b)/(n_a + n_b),
 * p = 2·Φ(−|z|). When both variants are all right or all wrong, z = 0 and p = 1.
 * Trustworthy only when both variants are (see {@link estimateProportion}); a fixed-horizon test
 * (see the module's notes on peeking). p is NaN when a variant has no samples.
 */
export function compareProportions(
  a: ProportionCounts,
  b: ProportionCounts,
  confidence = 0.95,
  names = DEFAULT_NAMES,
): ProportionComparison {
  const ea = estimateProportion(a, confidence);
  const eb = estimateProportion(b, confidence);
  const reasons = named(names, ea, eb);
  const difference = eb.rate - ea.rate;
  if (a.n === 0 || b.n === 0)
    return { difference, interval: NO_INTERVAL, z: Number.NaN, pValue: Number.NaN, ...trust(reasons) };
  const interval = {
    lower: difference - Math.hypot(eb.rate - eb.interval.lower, ea.interval.upper - ea.rate),
    upper: difference + Math.hypot(eb.interval.upper - eb.rate, ea.rate - ea.interval.lower),
  };
  const pooled = (a.correct + b.correct) / (a.n + b.n);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
  const z = se === 0 ? 0 : difference / se;
  return { difference, interval, z, pValue: 2 * normalCdf(-Math.abs(z)), ...trust(reasons) };
}

/** (mean, sample variance) of the absolute errors; the variance from the sums, clamped at 0 against rounding. */
function moments({ n, sum, sumSquares }: ErrorSums): { mean: number; variance: number } {
  const mean = n === 0 ? Number.NaN : sum / n;
  const variance = n < 2 ? Number.NaN : Math.max(0, (sumSquares - sum * mean) / (n - 1));
  return { mean, variance };
}

/**
 * Mean absolute error with its t interval: MAE ± t(1 − α/2, n − 1)·s/√n, s² = (Σe² − (Σ|e|)²/n)/(n − 1);
 * the lower bound is clamped at 0. The mean of n ≥ 30 absolute errors is close enough to normal
 * unless the errors have a very heavy tail (a few huge misses): then the interval is too narrow.
 * The variance from running sums loses digits when the errors' spread is tiny beside their size
 * (below ~1e-8 of it); for model errors that does not happen. Below 2 samples s and the interval are NaN.
 */
export function estimateMean(sums: ErrorSums, confidence = 0.95): MeanEstimate {
  checkSums(sums);
  const { n } = sums;
  const { mean, variance } = moments(sums);
  const standardDeviation = Math.sqrt(variance);
  const reasons = fewSamples(n);
  if (n < 2) return { n, mean, standardDeviation, interval: NO_INTERVAL, ...trust(reasons) };
  const half = studentTQuantile(upperQuantile(confidence), n - 1) * (standardDeviation / Math.sqrt(n));
  return {
    n,
    mean,
    standardDeviation,
    interval: { lower: Math.max(0, mean - half), upper: mean + half },
    ...trust(reasons),
  };
}

/**
 * Is b's mean absolute error larger or smaller than a's? Welch's t-test, which does not assume
 * equal variances: t = (m_b − m_a) / √(s_a²/n_a + s_b²/n_b), with Welch–Satterthwaite degrees of
 * freedom ν = (s_a²/n_a + s_b²/n_b)² / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)),
 * p = 2·P(T_ν ≤ −|t|), and the interval (m_b − m_a) ± t(1 − α/2, ν)·√(s_a²/n_a + s_b²/n_b).
 * When both variances are 0, p is 1 for equal means and 0 otherwise, and ν = n_a + n_b − 2.
 * Trustworthy only when both variants are (see {@link estimateMean}); a fixed-horizon test.
 * Everything is NaN when a variant has fewer than 2 samples.
 */
export function compareMeans(a: ErrorSums, b: ErrorSums, confidence = 0.95, names = DEFAULT_NAMES): MeanComparison {
  const ea = estimateMean(a, confidence);
  const eb = estimateMean(b, confidence);
  const reasons = named(names, ea, eb);
  const difference = eb.mean - ea.mean;
  if (a.n < 2 || b.n < 2) {
    return {
      difference,
      interval: NO_INTERVAL,
      t: Number.NaN,
      degreesOfFreedom: Number.NaN,
      pValue: Number.NaN,
      ...trust(reasons),
    };
  }
  const va = (ea.standardDeviation * ea.standardDeviation) / a.n;
  const vb = (eb.standardDeviation * eb.standardDeviation) / b.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    const t = difference === 0 ? 0 : Math.sign(difference) * Infinity;
    const interval = { lower: difference, upper: difference };
    return {
      difference,
      interval,
      t,
      degreesOfFreedom: a.n + b.n - 2,
      pValue: difference === 0 ? 1 : 0,
      ...trust(reasons),
    };
  }
  // (va + vb)² / (va²/(n_a − 1) + vb²/(n_b − 1)), written with shares of va + vb so tiny variances
  // cannot underflow to 0/0.
  const [sa, sb] = [va / (va + vb), vb / (va + vb)];
  const degreesOfFreedom = 1 / (sa ** 2 / (a.n - 1) + sb ** 2 / (b.n - 1));
  const t = difference / se;
  const half = studentTQuantile(upperQuantile(confidence), degreesOfFreedom) * se;
  const interval = { lower: difference - half, upper: difference + half };
  return {
    difference,
    interval,
    t,
    degreesOfFreedom,
    pValue: 2 * studentTCdf(-Math.abs(t), degreesOfFreedom),
    ...trust(reasons),
  };
}

/** The test's settings for a sample size: α two-sided (0.05) and power (0.8). */
export interface PowerSettings {
  readonly alpha?: number;
  readonly power?: number;
}

function zAlphaBeta({ alpha = 0.05, power = 0.8 }: PowerSettings): { zAlpha: number; zBeta: number } {
  if (!(power > 0 && power < 1)) throw new RangeError(`power must be in (0, 1), got ${power}`);
  return { zAlpha: twoSidedZ(1 - alpha), zBeta: normalQuantile(power) };
}

function samplesNeeded(perVariantExact: number, a: { n: number }, b: { n: number }): SamplesNeeded {
  if (Number.isNaN(perVariantExact)) return { perVariant: Number.NaN, additional: [Number.NaN, Number.NaN] };
  const perVariant = Math.ceil(perVariantExact);
  return { perVariant, additional: [Math.max(0, perVariant - a.n), Math.max(0, perVariant - b.n)] };
}

/**
 * How many samples per variant the pooled z-test needs to detect the observed difference of
 * accuracy at the given power and two-sided α, with equal group sizes (Fleiss, without continuity
 * correction): n = (z_{1−α/2}·√(2p̄(1−p̄)) + z_{power}·√(p_a(1−p_a) + p_b(1−p_b)))² / (p_a − p_b)²,
 * p̄ = (p_a + p_b)/2, the rates being the observed ones. Infinity when they are equal; NaN when a
 * variant has no samples. The observed difference is itself noisy: with few samples this is an
 * order of magnitude, not a promise. With an uneven split the smaller arm's figure is conservative.
 */
export function samplesNeededForProportions(
  a: ProportionCounts,
  b: ProportionCounts,
  settings: PowerSettings = {},
): SamplesNeeded {
  checkCounts(a);
  checkCounts(b);
  const { zAlpha, zBeta } = zAlphaBeta(settings);
  const pa = a.correct / a.n;
  const pb = b.correct / b.n;
  const mean = (pa + pb) / 2;
  const spread = zAlpha * Math.sqrt(2 * mean * (1 - mean)) + zBeta * Math.sqrt(pa * (1 - pa) + pb * (1 - pb));
  return samplesNeeded(pa === pb ? Infinity : spread ** 2 / (pa - pb) ** 2, a, b);
}

/**
 * How many samples per variant a test of mean absolute error needs to detect the observed
 * difference at the given power and two-sided α, with equal group sizes and the observed
 * variances (normal approximation): n = (z_{1−α/2} + z_{power})²·(s_a² + s_b²) / (m_a − m_b)².
 * Infinity when the means are equal; NaN when a variant has fewer than 2 samples. As for
 * proportions, an order of magnitude while the samples are few.
 */
export function samplesNeededForMeans(a: ErrorSums, b: ErrorSums, settings: PowerSettings = {}): SamplesNeeded {
  checkSums(a);
  checkSums(b);
  const { zAlpha, zBeta } = zAlphaBeta(settings);
  if (a.n < 2 || b.n < 2) return samplesNeeded(Number.NaN, a, b);
  const ma = moments(a);
  const mb = moments(b);
  const exact = ((zAlpha + zBeta) ** 2 * (ma.variance + mb.variance)) / (ma.mean - mb.mean) ** 2;
  return samplesNeeded(ma.mean === mb.mean ? Infinity : exact, a, b);
}
