import type { PredictionStatus } from '../serving/telemetry.js';
import { LatencyWindow } from './latency-window.js';
import { ErrorTally, ProportionTally, type ErrorSums, type ProportionCounts } from './statistics.js';

export const PREDICTION_STATUSES = ['success', 'invalid_input', 'error'] as const satisfies readonly PredictionStatus[];

/** What adds up across pods: requests by status, and the feedback tallies' sufficient statistics. */
export interface VariantTotals {
  readonly requests: Readonly<Record<PredictionStatus, number>>;
  /** Classifiers: labelled rows and how many were right. */
  readonly accuracy: ProportionCounts;
  /** Regressors: labelled rows, Σ|e| and Σe². */
  readonly errors: ErrorSums;
}

/** The labels every series of a variant carries; built once per account, so a request allocates none. */
export interface VariantLabels {
  readonly model: string;
  readonly variant: string;
}

/**
 * One variant of one model's split, serving one version, as this pod has seen it: requests by
 * status, the latency of the last successful ones, and the feedback its answers received. A
 * variant that is pointed at another version gets a new account: results of two versions are never mixed.
 */
export class VariantAccount {
  readonly requests: Record<PredictionStatus, number> = { success: 0, invalid_input: 0, error: 0 };
  readonly accuracy = new ProportionTally();
  readonly errors = new ErrorTally();
  readonly latency: LatencyWindow;
  readonly labels: VariantLabels;

  constructor(
    readonly model: string,
    readonly variant: string,
    readonly version: string,
    /** Unique to this account in the fleet (pod and serial): its field among the fleet's totals. */
    readonly id: string,
    latencyWindow: number,
  ) {
    this.latency = new LatencyWindow(latencyWindow);
    this.labels = { model, variant };
  }

  totals(): VariantTotals {
    const { n, correct } = this.accuracy;
    const { n: errorN, sum, sumSquares } = this.errors;
    return { requests: { ...this.requests }, accuracy: { n, correct }, errors: { n: errorN, sum, sumSquares } };
  }
}

export const NO_TOTALS: VariantTotals = {
  requests: { success: 0, invalid_input: 0, error: 0 },
  accuracy: { n: 0, correct: 0 },
  errors: { n: 0, sum: 0, sumSquares: 0 },
};

/** The totals of several pods (or several incarnations of one account) as one. */
export function sumTotals(all: readonly VariantTotals[]): VariantTotals {
  const requests = { success: 0, invalid_input: 0, error: 0 };
  const accuracy = { n: 0, correct: 0 };
  const errors = { n: 0, sum: 0, sumSquares: 0 };
  for (const t of all) {
    for (const status of PREDICTION_STATUSES) requests[status] += t.requests[status];
    accuracy.n += t.accuracy.n;
    accuracy.correct += t.accuracy.correct;
    errors.n += t.errors.n;
    errors.sum += t.errors.sum;
    errors.sumSquares += t.errors.sumSquares;
  }
  return { requests, accuracy, errors };
}

export function isEmpty(t: VariantTotals): boolean {
  return PREDICTION_STATUSES.every((s) => t.requests[s] === 0) && t.accuracy.n === 0 && t.errors.n === 0;
}
