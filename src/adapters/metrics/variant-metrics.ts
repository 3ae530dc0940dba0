import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { VariantObserver } from '../../core/experiments/experiment-ledger.js';
import { PREDICTION_STATUSES, type VariantLabels } from '../../core/experiments/variant-account.js';
import type { PredictionStatus } from '../../core/serving/telemetry.js';
import { ABSOLUTE_ERROR_BUCKETS, LATENCY_BUCKETS } from './buckets.js';

/** One declared variant as this pod counts it (the counters are read from the ledger at scrape time). */
export interface VariantSample {
  model: string;
  variant: string;
  version: string;
  role: 'control' | 'candidate';
  weight: number;
  requests: Readonly<Record<PredictionStatus, number>>;
  /** Classifiers: labelled rows and how many were right. */
  feedback?: { n: number; correct: number };
}

/** A candidate against its control, from the experiment's results (fleet-wide when Redis answers). */
export interface CandidateSample {
  model: string;
  variant: string;
  pValue: number;
  samplesNeeded: number;
}

/**
 * The traffic splits' variants: requests, latency and feedback per (model, variant), what each
 * variant serves and weighs, and each candidate's test against the control. Only declared variants
 * have series. Counters are read from the experiment ledger when scraped, so a request pays for no
 * label hashing but the latency histogram's.
 */
export class VariantMetrics implements VariantObserver {
  private readonly latency: Histogram<'model' | 'variant'>;
  private readonly absoluteError: Histogram<'model' | 'variant'>;
  private variants: () => VariantSample[] = () => [];
  private candidates: () => Promise<CandidateSample[]> = async () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    const variants = () => this.variants();
    const candidates = () => this.candidates();
    new Counter({
      name: 'ml_variant_requests_total',
      help: 'Requests a traffic split sent to a variant, by outcome (success, invalid_input, error); from zero again when the variant serves another version.',
      labelNames: ['model', 'variant', 'status'] as const,
      registers,
      collect() {
        this.reset();
        for (const v of variants())
          for (const status of PREDICTION_STATUSES)
            this.inc({ model: v.model, variant: v.variant, status }, v.requests[status]);
      },
    });
    this.latency = new Histogram({
      name: 'ml_variant_latency_seconds',
      help: 'Latency of the successful requests a traffic split sent to a variant, as ml_prediction_duration_seconds measures it.',
      labelNames: ['model', 'variant'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Counter({
      name: 'ml_variant_feedback_total',
      help: "Ground-truth feedback joined to a classifier variant's answers, by result (correct, incorrect).",
      labelNames: ['model', 'variant', 'result'] as const,
      registers,
      collect() {
        this.reset();
        for (const v of variants()) {
          if (!v.feedback) continue;
          this.inc({ model: v.model, variant: v.variant, result: 'correct' }, v.feedback.correct);
          this.inc({ model: v.model, variant: v.variant, result: 'incorrect' }, v.feedback.n - v.feedback.correct);
        }
      },
    });
    this.absoluteError = new Histogram({
      name: 'ml_variant_absolute_error',
      help: "Absolute error of a regressor variant's answers that received ground-truth feedback, in the target's units (MAE = _sum / _count).",
      labelNames: ['model', 'variant'] as const,
      buckets: ABSOLUTE_ERROR_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'ml_variant_info',
      help: 'Each declared variant of a traffic split: the version it serves and its role (control: the first listed; candidate: compared with it). Always 1.',
      labelNames: ['model', 'variant', 'version', 'role'] as const,
      registers,
      collect() {
        this.reset();
        for (const v of variants())
          this.set({ model: v.model, variant: v.variant, version: v.version, role: v.role }, 1);
      },
    });
    new Gauge({
      name: 'ml_variant_weight',
      help: 'The current weight of each declared variant of a traffic split.',
      labelNames: ['model', 'variant'] as const,
      registers,
      collect() {
        this.reset();
        for (const v of variants()) this.set({ model: v.model, variant: v.variant }, v.weight);
      },
    });
    new Gauge({
      name: 'ml_experiment_p_value',
      help: "Two-sided p-value of a candidate variant against the control (z-test on accuracy, Welch's t-test on MAE), fixed-horizon: no peeking correction; NaN until computable. Fleet-wide when Redis is configured.",
      labelNames: ['model', 'variant'] as const,
      registers,
      async collect() {
        const samples = await candidates();
        this.reset();
        for (const c of samples) this.set({ model: c.model, variant: c.variant }, c.pValue);
      },
    });
    new Gauge({
      name: 'ml_experiment_samples_needed',
      help: "Labelled rows each variant needs to detect the candidate's observed difference from the control with 80% power at alpha 0.05; +Inf for no difference, NaN until computable.",
      labelNames: ['model', 'variant'] as const,
      registers,
      async collect() {
        const samples = await candidates();
        this.reset();
        for (const c of samples) this.set({ model: c.model, variant: c.variant }, c.samplesNeeded);
      },
    });
  }

  /** Where the series are read from at scrape time: this pod's declared variants, and the candidates' tests. */
  watch(variants: () => VariantSample[], candidates: () => Promise<CandidateSample[]>): void {
    this.variants = variants;
    this.candidates = candidates;
  }

  variantLatency(labels: VariantLabels, seconds: number): void {
    this.latency.observe(labels, seconds);
  }

  variantAbsoluteError(labels: VariantLabels, error: number): void {
    this.absoluteError.observe(labels, error);
  }

  variantForgotten(labels: VariantLabels): void {
    this.latency.remove(labels);
    this.absoluteError.remove(labels);
  }
}
