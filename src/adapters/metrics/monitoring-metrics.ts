import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Unmatched } from '../../core/monitoring/feedback-store.js';
import type { AnomalyKind } from '../../core/codec/input-checks.js';
import type { MonitoringObserver } from '../../core/monitoring/model-monitoring.js';
import { CONFIDENCE_BUCKETS } from './buckets.js';

export interface MonitoringStats {
  drift: { model: string; version: string; features: { feature: string; psi: number }[]; classes?: number }[];
  accuracy: { model: string; version: string; task: string; value: number }[];
}

/** Model quality: confidence, class mix, input anomalies, drift, and accuracy from ground-truth feedback. */
export class MonitoringMetrics implements MonitoringObserver {
  private readonly confidence: Histogram<'model' | 'version'>;
  private readonly classes: Counter<'model' | 'version' | 'class'>;
  private readonly anomalies: Counter<'model' | 'version' | 'kind'>;
  private readonly feedbackResults: Counter<'model' | 'version' | 'result'>;
  private readonly unmatched: Counter<'reason'>;
  private source: () => MonitoringStats = () => ({ drift: [], accuracy: [] });

  constructor(registry: Registry) {
    const registers = [registry];
    this.confidence = new Histogram({
      name: 'ml_prediction_confidence',
      help: 'Probability of the predicted class, per row (classifiers).',
      labelNames: ['model', 'version'] as const,
      buckets: CONFIDENCE_BUCKETS,
      registers,
    });
    this.classes = new Counter({
      name: 'ml_predicted_class_total',
      help: 'Rows predicted per class: the output distribution (classifiers).',
      labelNames: ['model', 'version', 'class'] as const,
      registers,
    });
    this.anomalies = new Counter({
      name: 'ml_feature_anomalies_total',
      help: 'Input values that were missing, non-finite, or outside the feature range of model.json, in valid and rejected requests alike.',
      labelNames: ['model', 'version', 'kind'] as const,
      registers,
    });
    this.feedbackResults = new Counter({
      name: 'ml_feedback_total',
      help: 'Ground-truth feedback joined to a classifier prediction, by result (correct, incorrect).',
      labelNames: ['model', 'version', 'result'] as const,
      registers,
    });
    this.unmatched = new Counter({
      name: 'ml_feedback_unmatched_total',
      help: 'Feedback that matched no prediction, by reason (unknown, expired, duplicate).',
      labelNames: ['reason'] as const,
      registers,
    });
    const stats = () => this.source();
    new Gauge({
      name: 'ml_feature_drift_score',
      help: 'Population Stability Index of each feature over the last DRIFT_WINDOW_ROWS rows against the reference bins in model.json; NaN below DRIFT_MIN_ROWS.',
      labelNames: ['model', 'version', 'feature'] as const,
      registers,
      collect() {
        for (const d of stats().drift)
          for (const f of d.features) this.set({ model: d.model, version: d.version, feature: f.feature }, f.psi);
      },
    });
    new Gauge({
      name: 'ml_class_drift_score',
      help: 'Population Stability Index of the predicted-class mix over the last DRIFT_WINDOW_ROWS rows against the holdout class priors.',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const d of stats().drift)
          if (d.classes !== undefined) this.set({ model: d.model, version: d.version }, d.classes);
      },
    });
    new Gauge({
      name: 'ml_model_accuracy',
      help: 'Accuracy over the last ACCURACY_WINDOW predictions that received ground-truth feedback (classifiers).',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const a of stats().accuracy)
          if (a.task === 'classification') this.set({ model: a.model, version: a.version }, a.value);
      },
    });
    new Gauge({
      name: 'ml_model_mean_absolute_error',
      help: 'Mean absolute error over the last ACCURACY_WINDOW predictions that received ground-truth feedback (regressors).',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const a of stats().accuracy)
          if (a.task === 'regression') this.set({ model: a.model, version: a.version }, a.value);
      },
    });
  }

  /** Where the drift and accuracy gauges read from. */
  watch(source: () => MonitoringStats): void {
    this.source = source;
  }

  rowPredicted(model: string, version: string, label: string | undefined, confidence: number | undefined): void {
    if (label !== undefined) this.classes.inc({ model, version, class: label });
    if (confidence !== undefined) this.confidence.observe({ model, version }, confidence);
  }

  featureAnomaly(model: string, version: string, kind: AnomalyKind, count: number): void {
    this.anomalies.inc({ model, version, kind }, count);
  }

  feedback(model: string, version: string, result: 'correct' | 'incorrect'): void {
    this.feedbackResults.inc({ model, version, result });
  }

  unmatchedFeedback(reason: Unmatched): void {
    this.unmatched.inc({ reason });
  }
}
