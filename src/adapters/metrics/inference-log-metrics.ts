import { Counter, Gauge, type Registry } from 'prom-client';
import type { LogObserver, LogOutcome } from '../../core/inference-log/inference-log.js';

/** The inference log's records by outcome, and its queue. */
export class InferenceLogMetrics implements LogObserver {
  private readonly outcomes: Counter<'outcome'>;
  private readonly depth: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.outcomes = new Counter({
      name: 'ml_inference_log_records_total',
      help: 'Inference log records: sent to the sink, dropped (queue full, or left at shutdown), failed (the sink refused them after retries).',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.depth = new Gauge({
      name: 'ml_inference_log_queue_records',
      help: 'Inference log records waiting to be written.',
      registers,
    });
    for (const outcome of ['sent', 'dropped', 'failed'] as const) this.outcomes.inc({ outcome }, 0);
  }

  records(outcome: LogOutcome, count: number): void {
    this.outcomes.inc({ outcome }, count);
  }

  queued(records: number): void {
    this.depth.set(records);
  }
}
