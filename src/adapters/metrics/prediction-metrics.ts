import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PredictionEvent, PredictionObserver } from '../../core/serving/telemetry.js';
import type { AfterAnswers } from './after-answers.js';
import { LATENCY_BUCKETS } from './buckets.js';

export interface ModelStateSample {
  model: string;
  version: string;
  state: string;
}

/** Predictions by outcome, their latency and rows, what inference costs, and each model version's state. */
export class PredictionMetrics implements PredictionObserver {
  private readonly predictions: Counter<'model' | 'version' | 'status'>;
  private readonly rows: Counter<'model' | 'version'>;
  private readonly duration: Histogram<'model' | 'version'>;
  private readonly cpu: Counter<'model' | 'version'>;
  private readonly dollars: Counter<'model' | 'version'>;
  /** Dollars per CPU-second, when a price is configured. */
  pricePerCpuSecond?: number;

  constructor(
    registry: Registry,
    modelStates: () => ModelStateSample[],
    private readonly afterAnswers?: AfterAnswers,
  ) {
    const registers = [registry];
    this.predictions = new Counter({
      name: 'ml_predictions_total',
      help: 'Predictions requested of a known model version, by outcome (success, invalid_input, error).',
      labelNames: ['model', 'version', 'status'] as const,
      registers,
    });
    this.rows = new Counter({
      name: 'ml_prediction_rows_total',
      help: 'Rows predicted successfully (a request with 5 instances counts 5).',
      labelNames: ['model', 'version'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'ml_prediction_duration_seconds',
      help: 'Time from validated input to decoded output, queueing and worker hand-off included.',
      labelNames: ['model', 'version'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.cpu = new Counter({
      name: 'ml_inference_cpu_seconds_total',
      help: 'CPU time spent in inference (run time x onnxruntime threads per run, an upper bound); divide by ml_prediction_rows_total for CPU-seconds per prediction.',
      labelNames: ['model', 'version'] as const,
      registers,
    });
    this.dollars = new Counter({
      name: 'ml_prediction_cost_dollars_total',
      help: 'ml_inference_cpu_seconds_total priced at PRICE_PER_CPU_HOUR.',
      labelNames: ['model', 'version'] as const,
      registers,
    });
    new Gauge({
      name: 'ml_model_state',
      help: '1 for the state each model version is in (loading, ready, unsupported, failed); reload_failed beside ready when a changed file could not replace it.',
      labelNames: ['model', 'version', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of modelStates()) this.set({ model: s.model, version: s.version, state: s.state }, 1);
      },
    });
  }

  prediction(event: PredictionEvent): void {
    if (this.afterAnswers) this.afterAnswers.run(() => this.record(event));
    else this.record(event);
  }

  private record(event: PredictionEvent): void {
    const labels = { model: event.model, version: event.version };
    this.predictions.inc({ ...labels, status: event.status });
    if (event.status === 'success') {
      this.rows.inc(labels, event.rows);
      this.duration.observe(labels, event.seconds);
    }
  }

  inferenceCost(model: string, version: string, cpuSeconds: number): void {
    if (this.afterAnswers) this.afterAnswers.run(() => this.recordCost(model, version, cpuSeconds));
    else this.recordCost(model, version, cpuSeconds);
  }

  private recordCost(model: string, version: string, cpuSeconds: number): void {
    this.cpu.inc({ model, version }, cpuSeconds);
    if (this.pricePerCpuSecond !== undefined) this.dollars.inc({ model, version }, cpuSeconds * this.pricePerCpuSecond);
  }
}
