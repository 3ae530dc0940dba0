import type { LatencySummary } from './latency-window.js';
import {
  compareMeans,
  compareProportions,
  estimateMean,
  estimateProportion,
  MIN_OUTCOMES_PER_VARIANT,
  MIN_SAMPLES_PER_VARIANT,
  samplesNeededForMeans,
  samplesNeededForProportions,
  type MeanComparison,
  type MeanEstimate,
  type ProportionComparison,
  type ProportionEstimate,
  type SamplesNeeded,
} from './statistics.js';
import type { VariantTotals } from './variant-account.js';

/** Intervals are 95%; samples needed are for 80% power at α = 0.05, two-sided. */
export const CONFIDENCE = 0.95;
export const POWER = 0.8;
export const ALPHA = 0.05;

export type Task = 'classification' | 'regression' | 'raw';
export type QualityMetric = 'accuracy' | 'mean_absolute_error';

/** Which pods the counts cover: every pod through Redis, or this one (and why). Latency is always this pod's. */
export type ResultScope =
  { readonly kind: 'fleet'; readonly pods: number } | { readonly kind: 'pod'; readonly why: string };

export interface VariantInput {
  readonly name: string;
  readonly version: string;
  readonly weight: number;
  /** Whether its version is ready: a variant whose version is not takes no traffic. */
  readonly ready: boolean;
  readonly totals: VariantTotals;
  readonly latency: LatencySummary;
}

export type Quality =
  | { readonly metric: 'accuracy'; readonly estimate: ProportionEstimate; readonly correct: number }
  | { readonly metric: 'mean_absolute_error'; readonly estimate: MeanEstimate };

export type Versus =
  | {
      readonly metric: 'accuracy';
      readonly test: 'two-proportion z-test';
      readonly comparison: ProportionComparison;
      readonly samplesNeeded: SamplesNeeded;
    }
  | {
      readonly metric: 'mean_absolute_error';
      readonly test: "Welch's t-test";
      readonly comparison: MeanComparison;
      readonly samplesNeeded: SamplesNeeded;
    };

export interface VariantResult extends VariantInput {
  readonly role: 'control' | 'candidate';
  /** Accuracy (classifiers) or mean absolute error (regressors); none for a model without either. */
  readonly quality?: Quality;
  /** A candidate against the control. */
  readonly versusControl?: Versus;
}

export interface ExperimentReport {
  readonly model: string;
  readonly task?: Task;
  readonly metric?: QualityMetric;
  /** The first declared variant: every other one is compared with it. */
  readonly control: string;
  readonly scope: ResultScope;
  readonly variants: readonly VariantResult[];
}

export function metricOf(task: Task | undefined): QualityMetric | undefined {
  return task === 'classification' ? 'accuracy' : task === 'regression' ? 'mean_absolute_error' : undefined;
}

function quality(metric: QualityMetric, totals: VariantTotals): Quality {
  return metric === 'accuracy'
    ? { metric, estimate: estimateProportion(totals.accuracy, CONFIDENCE), correct: totals.accuracy.correct }
    : { metric, estimate: estimateMean(totals.errors, CONFIDENCE) };
}

/**
 * The candidate against the control: the difference (candidate − control), its interval, the test
 * and its p-value, and the samples each needs.
 */
export function versusControl(metric: QualityMetric, control: VariantInput, candidate: VariantInput): Versus {
  const names = [control.name, candidate.name] as const;
  const power = { alpha: ALPHA, power: POWER };
  if (metric === 'accuracy') {
    const [a, b] = [control.totals.accuracy, candidate.totals.accuracy];
    return {
      metric,
      test: 'two-proportion z-test',
      comparison: compareProportions(a, b, CONFIDENCE, names),
      samplesNeeded: samplesNeededForProportions(a, b, power),
    };
  }
  const [a, b] = [control.totals.errors, candidate.totals.errors];
  return {
    metric,
    test: "Welch's t-test",
    comparison: compareMeans(a, b, CONFIDENCE, names),
    samplesNeeded: samplesNeededForMeans(a, b, power),
  };
}

/** The results of one model's split: the first variant is the control, every other one a candidate compared with it. */
export function experimentReport(
  model: string,
  task: Task | undefined,
  variants: readonly VariantInput[],
  scope: ResultScope,
): ExperimentReport {
  const metric = metricOf(task);
  const control = variants[0]!;
  return {
    model,
    ...(task !== undefined ? { task } : {}),
    ...(metric !== undefined ? { metric } : {}),
    control: control.name,
    scope,
    variants: variants.map((v, i) => ({
      ...v,
      role: i === 0 ? ('control' as const) : ('candidate' as const),
      ...(metric !== undefined ? { quality: quality(metric, v.totals) } : {}),
      ...(metric !== undefined && i > 0 ? { versusControl: versusControl(metric, control, v) } : {}),
    })),
  };
}

/** How the numbers are computed and when to trust them, for the answer itself (docs/experiments.md says more). */
export const METHOD = [
  "Counts are per variant and per the version it serves now (a variant pointed at another version starts again from zero): this pod's since it started (scope pod), or every pod's summed through Redis (scope fleet).",
  "Latency percentiles are this pod's, over its last successful requests of the variant (nearest rank); Prometheus's ml_variant_latency_seconds gives the fleet's.",
  'error_rate is requests answered with a server error over all requests; invalid input is counted apart.',
  `Accuracy: correct/n with a ${CONFIDENCE * 100}% Wilson score interval; a candidate's difference from the control with Newcombe's hybrid score interval and the pooled two-proportion z-test, two-sided.`,
  `Mean absolute error: with a ${CONFIDENCE * 100}% t interval; a candidate's difference with Welch's t-test (Welch-Satterthwaite degrees of freedom), two-sided.`,
  `samples_needed: per variant, to detect the observed difference with ${POWER * 100}% power at alpha ${ALPHA} two-sided (Fleiss's formula for accuracy, the normal approximation for means); null when not yet computable or when the difference is 0.`,
  `trustworthy is false below ${MIN_SAMPLES_PER_VARIANT} labelled rows in a variant, or for accuracy below ${MIN_OUTCOMES_PER_VARIANT} right or ${MIN_OUTCOMES_PER_VARIANT} wrong answers; reasons says which.`,
  'The p-values are fixed-horizon: each is valid for one look at a sample size chosen in advance. No peeking correction or sequential test is applied: checking again as feedback arrives and stopping at the first p < 0.05 makes a false positive far more likely than 5%.',
  "Feedback must be a fair sample of each variant's answers: labels that arrive more often for some requests than others bias the estimates, and no interval shows it.",
].join(' ');
