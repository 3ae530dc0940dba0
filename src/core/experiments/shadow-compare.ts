import type { RowPrediction } from '../codec/output-codec.js';

/**
 * What became of the rows mirrored to a shadow: classifiers' rows agree or disagree on the label;
 * regressors' and raw models' rows are compared (the regressors' difference goes to a histogram);
 * failed: the shadow's version could not answer; shed: skipped for the clients' sake.
 */
export type ShadowOutcome = 'agree' | 'disagree' | 'compared' | 'failed' | 'shed';

/** What the core reports about shadow traffic; adapters/ turns it into Prometheus series. */
export interface ShadowObserver {
  /** Rows of a mirrored request (a request of 5 instances counts 5), by outcome. */
  outcome(model: string, shadow: string, outcome: ShadowOutcome, rows: number): void;
  /** A regressor row's |shadow - primary| of its first value. */
  difference(model: string, shadow: string, value: number): void;
  /**
   * From the shadow's batch going to a worker to its outputs (its wait in the background lane is
   * the load's, not the version's).
   */
  latency(model: string, shadow: string, seconds: number): void;
}

/** The shadow's rows against the client's, row by row; rows without a task (raw models) are only counted. */
export function compareRows(
  observer: ShadowObserver,
  model: string,
  shadow: string,
  primary: RowPrediction[] | undefined,
  mirrored: RowPrediction[] | undefined,
  rows: number,
): void {
  if (!primary || !mirrored) return observer.outcome(model, shadow, 'compared', rows);
  let agree = 0;
  let disagree = 0;
  let compared = 0;
  primary.forEach((p, r) => {
    const s = mirrored[r]!;
    if ('label' in p && 'label' in s) {
      if (p.label === s.label) agree++;
      else disagree++;
      return;
    }
    if ('values' in p && 'values' in s) observer.difference(model, shadow, Math.abs(s.values[0]! - p.values[0]!));
    compared++;
  });
  if (agree > 0) observer.outcome(model, shadow, 'agree', agree);
  if (disagree > 0) observer.outcome(model, shadow, 'disagree', disagree);
  if (compared > 0) observer.outcome(model, shadow, 'compared', compared);
}
