import { Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchObserver } from '../../core/serving/batcher.js';
import type { AfterAnswers } from './after-answers.js';
import { BATCH_BUCKETS, LATENCY_BUCKETS } from './buckets.js';

export interface BatchStats {
  model: string;
  version: string;
  queuedRows: number;
  inflightBatches: number;
}

/** What dynamic batching does: rows and requests per run, queue wait, queue depth, runs in flight. */
export class BatchingMetrics implements BatchObserver {
  private readonly rows: Histogram<'model' | 'version'>;
  private readonly requests: Histogram<'model' | 'version'>;
  private readonly wait: Histogram<'model' | 'version'>;
  private source: () => BatchStats[] = () => [];

  constructor(
    registry: Registry,
    private readonly afterAnswers?: AfterAnswers,
  ) {
    const registers = [registry];
    this.rows = new Histogram({
      name: 'ml_batch_size_rows',
      help: 'Rows per inference run after dynamic batching.',
      labelNames: ['model', 'version'] as const,
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.requests = new Histogram({
      name: 'ml_batch_size_requests',
      help: 'Requests merged into one inference run.',
      labelNames: ['model', 'version'] as const,
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.wait = new Histogram({
      name: 'ml_queue_wait_seconds',
      help: 'Time a request waited in the batching queue before its batch was dispatched.',
      labelNames: ['model', 'version'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const stats = () => this.source();
    new Gauge({
      name: 'ml_queue_depth_rows',
      help: 'Rows waiting in the batching queue.',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        this.reset(); // a version unloaded by a rescan leaves no series behind
        for (const s of stats()) this.set({ model: s.model, version: s.version }, s.queuedRows);
      },
    });
    new Gauge({
      name: 'ml_inflight_batches',
      help: 'Inference runs on the workers now.',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of stats()) this.set({ model: s.model, version: s.version }, s.inflightBatches);
      },
    });
  }

  /** Where the queue gauges read from, once the batcher exists. */
  watch(source: () => BatchStats[]): void {
    this.source = source;
  }

  batch(model: string, version: string, rows: number, requests: number): void {
    if (this.afterAnswers) this.afterAnswers.run(() => this.recordBatch(model, version, rows, requests));
    else this.recordBatch(model, version, rows, requests);
  }

  private recordBatch(model: string, version: string, rows: number, requests: number): void {
    this.rows.observe({ model, version }, rows);
    this.requests.observe({ model, version }, requests);
  }

  queueWait(model: string, version: string, seconds: number): void {
    if (this.afterAnswers) this.afterAnswers.run(() => this.wait.observe({ model, version }, seconds));
    else this.wait.observe({ model, version }, seconds);
  }
}
