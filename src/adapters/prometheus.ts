import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver } from '../core/batcher.js';
import type { Unmatched } from '../core/feedback-store.js';
import type { AnomalyKind, MonitoringObserver } from '../core/model-monitoring.js';
import type { CacheObserver, CacheResult, CacheTier } from '../core/prediction-cache.js';
import type { PredictionEvent, PredictionObserver } from '../core/telemetry.js';
import type { CircuitState, RedisErrorKind } from './redis-cache.js';

/** Sub-millisecond buckets: a tabular model answers in well under 1 ms, and P50 must be visible. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];

export interface ModelStateSample {
  model: string;
  version: string;
  state: string;
}

/**
 * Every metric the service exports, declared once with its label set. Label values come from
 * the model registry, route templates and the error table, never from raw user input, so the
 * series count stays bounded whatever clients send.
 */
export interface CacheStats {
  entries: number;
  bytes: number;
  /** undefined when no Redis is configured. */
  circuit?: CircuitState;
}

export interface BatchStats {
  model: string;
  version: string;
  queuedRows: number;
  inflightBatches: number;
}

const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export interface MonitoringStats {
  drift: { model: string; version: string; features: { feature: string; psi: number }[]; classes?: number }[];
  accuracy: { model: string; version: string; task: string; value: number }[];
}

const CONFIDENCE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];

export class Metrics implements PredictionObserver, CacheObserver, BatchObserver, MonitoringObserver {
  readonly registry = new Registry();

  private readonly predictions = new Counter({
    name: 'ml_predictions_total',
    help: 'Predictions requested of a known model version, by outcome (success, invalid_input, error).',
    labelNames: ['model', 'version', 'status'] as const,
    registers: [this.registry],
  });

  private readonly predictionRows = new Counter({
    name: 'ml_prediction_rows_total',
    help: 'Rows predicted successfully (a request with 5 instances counts 5).',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });

  private readonly predictionDuration = new Histogram({
    name: 'ml_prediction_duration_seconds',
    help: 'Time from validated input to decoded output, queueing and worker hand-off included.',
    labelNames: ['model', 'version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly httpInFlight = new Gauge({
    name: 'http_requests_in_flight',
    help: 'HTTP requests received and not yet answered (this scrape included).',
    registers: [this.registry],
  });

  private readonly httpErrors = new Counter({
    name: 'http_request_errors_total',
    help: 'Error answers by status class (4xx, 5xx) and stable error code.',
    labelNames: ['status_class', 'code'] as const,
    registers: [this.registry],
  });

  private readonly cacheLookups = new Counter({
    name: 'ml_cache_lookups_total',
    help: 'Prediction cache lookups per row, by tier (l1 in-process, l2 Redis) and result (hit, miss, corrupt).',
    labelNames: ['tier', 'result'] as const,
    registers: [this.registry],
  });

  private readonly redisErrors = new Counter({
    name: 'ml_cache_redis_errors_total',
    help: 'Redis calls that failed (error), timed out (timeout) or were not made because the circuit was open (rejected).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly batchRows = new Histogram({
    name: 'ml_batch_size_rows',
    help: 'Rows per inference run after dynamic batching.',
    labelNames: ['model', 'version'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });

  private readonly batchRequests = new Histogram({
    name: 'ml_batch_size_requests',
    help: 'Requests merged into one inference run.',
    labelNames: ['model', 'version'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });

  private readonly queueWaitSeconds = new Histogram({
    name: 'ml_queue_wait_seconds',
    help: 'Time a request waited in the batching queue before its batch was dispatched.',
    labelNames: ['model', 'version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly confidence = new Histogram({
    name: 'ml_prediction_confidence',
    help: 'Probability of the predicted class, per row (classifiers).',
    labelNames: ['model', 'version'] as const,
    buckets: CONFIDENCE_BUCKETS,
    registers: [this.registry],
  });

  private readonly predictedClasses = new Counter({
    name: 'ml_predicted_class_total',
    help: 'Rows predicted per class: the output distribution (classifiers).',
    labelNames: ['model', 'version', 'class'] as const,
    registers: [this.registry],
  });

  private readonly anomalies = new Counter({
    name: 'ml_feature_anomalies_total',
    help: 'Input values that were missing, non-finite, or outside the feature range of model.json, in valid and rejected requests alike.',
    labelNames: ['model', 'version', 'kind'] as const,
    registers: [this.registry],
  });

  private readonly feedbackResults = new Counter({
    name: 'ml_feedback_total',
    help: 'Ground-truth feedback joined to a classifier prediction, by result (correct, incorrect).',
    labelNames: ['model', 'version', 'result'] as const,
    registers: [this.registry],
  });

  private readonly feedbackUnmatched = new Counter({
    name: 'ml_feedback_unmatched_total',
    help: 'Feedback that matched no prediction, by reason (unknown, expired, duplicate).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly inferenceCpu = new Counter({
    name: 'ml_inference_cpu_seconds_total',
    help: 'CPU time spent in inference (run time x onnxruntime threads per run, an upper bound); divide by ml_prediction_rows_total for CPU-seconds per prediction.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });

  private readonly inferenceDollars = new Counter({
    name: 'ml_prediction_cost_dollars_total',
    help: 'ml_inference_cpu_seconds_total priced at PRICE_PER_CPU_HOUR.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });

  private cacheSource?: () => CacheStats;
  private monitoringSource?: () => MonitoringStats;
  /** Dollars per CPU-second, when a price is configured. */
  pricePerCpuSecond?: number;
  private batchSource?: () => BatchStats[];

  constructor(modelStates: () => ModelStateSample[], ready: () => boolean) {
    collectDefaultMetrics({ register: this.registry });
    const cacheStats = () => this.cacheSource?.();
    const registers = [this.registry];
    new Gauge({
      name: 'ml_model_state',
      help: '1 for the state each model version is in (loading, ready, unsupported, failed).',
      labelNames: ['model', 'version', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of modelStates()) this.set({ model: s.model, version: s.version, state: s.state }, 1);
      },
    });
    const monitoring = () => this.monitoringSource?.() ?? { drift: [], accuracy: [] };
    new Gauge({
      name: 'ml_feature_drift_score',
      help: 'Population Stability Index of each feature over the last DRIFT_WINDOW_ROWS rows against the reference bins in model.json; NaN below DRIFT_MIN_ROWS.',
      labelNames: ['model', 'version', 'feature'] as const,
      registers,
      collect() {
        for (const d of monitoring().drift) for (const f of d.features) this.set({ model: d.model, version: d.version, feature: f.feature }, f.psi);
      },
    });
    new Gauge({
      name: 'ml_class_drift_score',
      help: 'Population Stability Index of the predicted-class mix over the last DRIFT_WINDOW_ROWS rows against the holdout class priors.',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const d of monitoring().drift) if (d.classes !== undefined) this.set({ model: d.model, version: d.version }, d.classes);
      },
    });
    new Gauge({
      name: 'ml_model_accuracy',
      help: 'Accuracy over the last ACCURACY_WINDOW predictions that received ground-truth feedback (classifiers).',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const a of monitoring().accuracy) if (a.task === 'classification') this.set({ model: a.model, version: a.version }, a.value);
      },
    });
    new Gauge({
      name: 'ml_model_mean_absolute_error',
      help: 'Mean absolute error over the last ACCURACY_WINDOW predictions that received ground-truth feedback (regressors).',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const a of monitoring().accuracy) if (a.task === 'regression') this.set({ model: a.model, version: a.version }, a.value);
      },
    });
    const batchStats = () => this.batchSource?.() ?? [];
    new Gauge({
      name: 'ml_queue_depth_rows',
      help: 'Rows waiting in the batching queue.',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const s of batchStats()) this.set({ model: s.model, version: s.version }, s.queuedRows);
      },
    });
    new Gauge({
      name: 'ml_inflight_batches',
      help: 'Inference runs on the workers now.',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        for (const s of batchStats()) this.set({ model: s.model, version: s.version }, s.inflightBatches);
      },
    });
    new Gauge({
      name: 'ml_cache_l1_entries',
      help: 'Rows held in the in-process prediction cache.',
      registers,
      collect() {
        this.set(cacheStats()?.entries ?? 0);
      },
    });
    new Gauge({
      name: 'ml_cache_l1_bytes',
      help: 'Approximate bytes held in the in-process prediction cache.',
      registers,
      collect() {
        this.set(cacheStats()?.bytes ?? 0);
      },
    });
    new Gauge({
      name: 'ml_cache_redis_circuit',
      help: '1 for the state the Redis circuit breaker is in (closed, half_open, open); absent without Redis.',
      labelNames: ['state'] as const,
      registers,
      collect() {
        this.reset();
        const circuit = cacheStats()?.circuit;
        if (circuit) for (const state of ['closed', 'half_open', 'open'] as const) this.set({ state }, state === circuit ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ml_service_ready',
      help: '1 when /ready answers 200.',
      registers,
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
  }

  /** Where the cache gauges read from, once the cache exists. */
  watchCache(source: () => CacheStats): void {
    this.cacheSource = source;
  }

  watchBatches(source: () => BatchStats[]): void {
    this.batchSource = source;
  }

  batch(model: string, version: string, rows: number, requests: number): void {
    this.batchRows.observe({ model, version }, rows);
    this.batchRequests.observe({ model, version }, requests);
  }

  queueWait(model: string, version: string, seconds: number): void {
    this.queueWaitSeconds.observe({ model, version }, seconds);
  }

  watchMonitoring(source: () => MonitoringStats): void {
    this.monitoringSource = source;
  }

  rowPredicted(model: string, version: string, label: string | undefined, confidence: number | undefined): void {
    if (label !== undefined) this.predictedClasses.inc({ model, version, class: label });
    if (confidence !== undefined) this.confidence.observe({ model, version }, confidence);
  }

  featureAnomaly(model: string, version: string, kind: AnomalyKind, count: number): void {
    this.anomalies.inc({ model, version, kind }, count);
  }

  feedback(model: string, version: string, result: 'correct' | 'incorrect'): void {
    this.feedbackResults.inc({ model, version, result });
  }

  unmatchedFeedback(reason: Unmatched): void {
    this.feedbackUnmatched.inc({ reason });
  }

  inferenceCost(model: string, version: string, cpuSeconds: number): void {
    this.inferenceCpu.inc({ model, version }, cpuSeconds);
    if (this.pricePerCpuSecond !== undefined) this.inferenceDollars.inc({ model, version }, cpuSeconds * this.pricePerCpuSecond);
  }

  cacheLookup(tier: CacheTier, result: CacheResult, count: number): void {
    this.cacheLookups.inc({ tier, result }, count);
  }

  redisError(kind: RedisErrorKind): void {
    this.redisErrors.inc({ kind });
  }

  prediction(event: PredictionEvent): void {
    const labels = { model: event.model, version: event.version };
    this.predictions.inc({ ...labels, status: event.status });
    if (event.status === 'success') {
      this.predictionRows.inc(labels, event.rows);
      this.predictionDuration.observe(labels, event.seconds);
    }
  }

  requestStarted(): void {
    this.httpInFlight.inc();
  }

  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpInFlight.dec();
    this.httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  httpError(statusCode: number, code: string): void {
    this.httpErrors.inc({ status_class: `${Math.floor(statusCode / 100)}xx`, code });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
