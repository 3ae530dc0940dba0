import { collectDefaultMetrics, Registry } from 'prom-client';
import { ImageMetrics } from './image-metrics.js';
import { TextMetrics } from './text-metrics.js';
import { InferenceLogMetrics } from './inference-log-metrics.js';
import { AfterAnswers } from './after-answers.js';
import { BatchingMetrics } from './batching-metrics.js';
import { CacheMetrics } from './cache-metrics.js';
import { EventLoopMetrics } from './event-loop-metrics.js';
import { GrpcMetrics } from './grpc-metrics.js';
import { HttpMetrics } from './http-metrics.js';
import { InflightMetrics } from './inflight-metrics.js';
import { MonitoringMetrics } from './monitoring-metrics.js';
import { PredictionMetrics, type ModelStateSample } from './prediction-metrics.js';
import { VariantMetrics } from './variant-metrics.js';
import { ShadowMetrics } from './shadow-metrics.js';

/**
 * Every metric the service exports, one registry, declared once per concern with its label set
 * (these files are the only ones importing prom-client): HTTP, predictions, batching, cache, model
 * monitoring, traffic splits' variants and the event loop, beside prom-client's process, GC and
 * event-loop-lag defaults. Label values come from the model registry, route templates and the
 * error table, never from raw user input, so the series count stays bounded whatever clients send.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Prediction and batching updates, run after the answers they describe are written. */
  private readonly afterAnswers = new AfterAnswers();
  readonly http: HttpMetrics;
  readonly grpc: GrpcMetrics;
  readonly predictions: PredictionMetrics;
  readonly batching: BatchingMetrics;
  readonly cache: CacheMetrics;
  readonly monitoring: MonitoringMetrics;
  readonly inflight: InflightMetrics;
  readonly variants: VariantMetrics;
  readonly shadows: ShadowMetrics;
  readonly images: ImageMetrics;
  readonly texts: TextMetrics;
  readonly inferenceLog: InferenceLogMetrics;

  constructor(modelStates: () => ModelStateSample[], ready: () => boolean) {
    collectDefaultMetrics({ register: this.registry });
    this.http = new HttpMetrics(this.registry, ready);
    this.grpc = new GrpcMetrics(this.registry);
    this.predictions = new PredictionMetrics(this.registry, modelStates, this.afterAnswers);
    this.batching = new BatchingMetrics(this.registry, this.afterAnswers);
    this.cache = new CacheMetrics(this.registry);
    this.monitoring = new MonitoringMetrics(this.registry);
    this.inflight = new InflightMetrics(this.registry);
    this.variants = new VariantMetrics(this.registry);
    this.shadows = new ShadowMetrics(this.registry);
    this.images = new ImageMetrics(this.registry);
    this.texts = new TextMetrics(this.registry);
    this.inferenceLog = new InferenceLogMetrics(this.registry);
    new EventLoopMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    this.afterAnswers.flush();
    return this.registry.metrics();
  }
}
