import { Counter, Histogram, type Registry } from 'prom-client';
import type { ShadowObserver, ShadowOutcome } from '../../core/experiments/shadow-compare.js';
import { LATENCY_BUCKETS } from './buckets.js';

const OUTCOMES: ShadowOutcome[] = ['agree', 'disagree', 'compared', 'failed', 'shed'];
/** |shadow - primary| spans the target's scale: decades from a rounding difference to a different answer. */
const DIFFERENCE_BUCKETS = [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000, 10_000];

/** Shadow traffic: how the mirrored rows compared with the clients' answers, and how long the shadows took. */
export class ShadowMetrics implements ShadowObserver {
  private readonly requests: Counter<'model' | 'shadow' | 'outcome'>;
  private readonly differences: Histogram<'model' | 'shadow'>;
  private readonly durations: Histogram<'model' | 'shadow'>;
  /** Shadows whose outcomes were set to 0 already, so a rate or a ratio exists before the first failure. */
  private readonly known = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'ml_shadow_requests_total',
      help: "Rows mirrored to a shadow version, by outcome: agree or disagree (classifiers' label), compared (regressors, raw models), failed, shed (skipped under load).",
      labelNames: ['model', 'shadow', 'outcome'] as const,
      registers,
    });
    this.differences = new Histogram({
      name: 'ml_shadow_abs_difference',
      help: "Regressors: |shadow - primary| of each mirrored row's first value.",
      labelNames: ['model', 'shadow'] as const,
      buckets: DIFFERENCE_BUCKETS,
      registers,
    });
    this.durations = new Histogram({
      name: 'ml_shadow_latency_seconds',
      help: "A shadow request's inference, from its batch going to a worker to its outputs (its wait for spare capacity excluded).",
      labelNames: ['model', 'shadow'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  outcome(model: string, shadow: string, outcome: ShadowOutcome, rows: number): void {
    const key = `${model}\u0000${shadow}`;
    if (!this.known.has(key)) {
      this.known.add(key);
      for (const o of OUTCOMES) this.requests.inc({ model, shadow, outcome: o }, 0);
    }
    this.requests.inc({ model, shadow, outcome }, rows);
  }

  difference(model: string, shadow: string, value: number): void {
    this.differences.observe({ model, shadow }, value);
  }

  latency(model: string, shadow: string, seconds: number): void {
    this.durations.observe({ model, shadow }, seconds);
  }
}
