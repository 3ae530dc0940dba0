import fp from 'fastify-plugin';
import { SharpImages } from '../adapters/sharp-images.js';
import { HfTokenizers } from '../adapters/hf-tokenizers.js';
import type { Config } from '../config.js';
import { ModelRegistry } from '../core/loading/model-registry.js';
import type { ModelRouter } from '../core/models/model-router.js';
import { RefusalLog } from '../core/cache/refusal-log.js';
import { FeedbackStore, type SharedRecords } from '../core/monitoring/feedback-store.js';
import { ModelMonitoring } from '../core/monitoring/model-monitoring.js';
import { ShadowTraffic } from '../core/experiments/shadow-traffic.js';
import type { ShadowLane } from '../core/serving/request-mirrors.js';
import { DataPlane } from '../core/serving/data-plane.js';
import type { ModelRunner } from '../core/serving/model-runner.js';
import type { ModelRuntime } from '../core/serving/model-runtime.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Loads and rescans the model repository. */
    models: ModelRegistry;
    /** The served model versions and the way from a request's target to one (the 404/503 wording). */
    router: ModelRouter<ModelRunner>;
    /** The protocol-neutral data plane every protocol calls. */
    dataPlane: DataPlane;
    monitoring: ModelMonitoring;
    /** Where a model version's inference runs now (a function, not a method: callers pass it on unbound). */
    placement: (key: string) => 'workers' | 'main-thread';
    /** Settles when every model has been loaded (or has failed); the server listens before that. */
    modelsLoaded: Promise<void>;
    /** What /ready answers: models loaded and warmed, and no SIGTERM yet. */
    readiness(): { ready: boolean; status: 'loading' | 'ready' | 'draining' | 'not_ready' };
  }
}

export interface ModelsPluginOptions {
  config: Pick<
    Config,
    | 'MODEL_DIR'
    | 'MODEL_POLL_INTERVAL_S'
    | 'VALIDATION_LEVEL'
    | 'READY_REQUIRES_ALL_MODELS'
    | 'BATCH_MAX_ROWS'
    | 'BATCH_MAX_DELAY_MS'
    | 'BATCH_MAX_QUEUE_ROWS'
    | 'REQUEST_TIMEOUT_MS'
    | 'MAX_REQUEST_ROWS'
    | 'DRIFT_WINDOW_ROWS'
    | 'DRIFT_MIN_ROWS'
    | 'FEEDBACK_TTL_SECONDS'
    | 'FEEDBACK_MAX_PREDICTIONS'
    | 'ACCURACY_WINDOW'
    | 'PRICE_PER_CPU_HOUR'
    | 'CACHE_MIN_HIT_RATE'
    | 'SHADOW_MAX_INFLIGHT'
    | 'SHADOW_TIMEOUT_MS'
  >;
  runtime: ModelRuntime;
}

/**
 * Owns the model registry and the inference runtime. Loading starts at registration and runs in
 * the background, so /health answers while models load; the runtime is released on close,
 * after fastify has finished every in-flight request.
 */
export default fp<ModelsPluginOptions>(
  async (app, { config, runtime }) => {
    const registry = new ModelRegistry(runtime, app.log, {
      defaultValidation: config.VALIDATION_LEVEL,
      batching: {
        maxBatchRows: config.BATCH_MAX_ROWS,
        maxDelayMs: config.BATCH_MAX_DELAY_MS,
        maxQueueRows: config.BATCH_MAX_QUEUE_ROWS,
      },
      anomalies: (model, version, kind, count) => app.metrics.monitoring.featureAnomaly(model, version, kind, count),
      drained: (runner: ModelRunner): Promise<void> => dataPlane.runnerDrained(runner),
      tokenizers: new HfTokenizers(),
    });
    const specOf = (model: string, version: string) =>
      registry.router.entries(model).find((e) => e.version === version)?.runner?.spec;
    const refusals = new RefusalLog(
      (obj, msg) => app.log.warn(obj, msg),
      'a prediction record in redis was not used; feedback on it answers 404',
    );
    const shared: SharedRecords | undefined = app.redis &&
      app.redisSigner && {
        store: app.redis,
        signer: app.redisSigner,
        specOf,
        refused: (why) => refusals.refused({ why }),
      };
    const monitoring = new ModelMonitoring(
      {
        drift: { windowRows: config.DRIFT_WINDOW_ROWS, minRows: config.DRIFT_MIN_ROWS },
        accuracyWindow: config.ACCURACY_WINDOW,
      },
      new FeedbackStore(
        {
          maxEntries: config.FEEDBACK_MAX_PREDICTIONS,
          ttlSeconds: config.FEEDBACK_TTL_SECONDS,
          maxRows: config.MAX_REQUEST_ROWS,
        },
        shared,
      ),
      app.metrics.monitoring,
      specOf,
      app.experiments.ledger,
    );
    app.decorate('monitoring', monitoring);
    app.metrics.monitoring.watch(() => monitoring.stats());
    if (config.PRICE_PER_CPU_HOUR !== undefined)
      app.metrics.predictions.pricePerCpuSecond = config.PRICE_PER_CPU_HOUR / 3600;
    const loaded = registry.load(config.MODEL_DIR).catch((err: unknown) => {
      registry.router.error = `model loading failed: ${(err as Error).message}`;
      app.log.error({ err }, registry.router.error);
    });

    app.decorate('models', registry);
    app.decorate('router', registry.router);
    app.decorate('placement', (key: string) => runtime.placement?.(key) ?? 'workers');
    app.decorate('modelsLoaded', loaded);
    const dataPlane = new DataPlane({
      router: registry.router,
      runtime,
      observer: app.experiments.ledger.observing(app.metrics.predictions),
      batchObserver: app.metrics.batching,
      cache: app.cache,
      monitoring,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
      cacheMinHitRate: config.CACHE_MIN_HIT_RATE,
      onCacheUsage: (spec, using, hitRate) =>
        app.log.info(
          {
            model: spec.name,
            version: spec.version,
            hitRate: +hitRate.toFixed(3),
            minHitRate: config.CACHE_MIN_HIT_RATE,
          },
          using ? 'prediction cache in use again' : 'prediction cache skipped: its rows rarely hit',
        ),
      admission: { maxRequestRows: config.MAX_REQUEST_ROWS, inflight: app.inflight },
      images: new SharpImages(),
      imageObserver: app.metrics.images,
      textObserver: app.metrics.texts,
      ...(app.inferenceLog && { inferenceLog: app.inferenceLog }),
      ...(config.SHADOW_MAX_INFLIGHT > 0 && {
        shadows: (lane: ShadowLane) =>
          new ShadowTraffic(registry.router, lane, {
            observer: app.metrics.shadows,
            log: app.log,
            maxInflight: config.SHADOW_MAX_INFLIGHT,
            timeoutMs: config.SHADOW_TIMEOUT_MS,
            inflight: app.inflight,
            accepting: () => !app.draining,
          }),
      }),
    });
    app.decorate('dataPlane', dataPlane);
    app.metrics.batching.watch(() => dataPlane.batchStats());
    app.metrics.cache.watchUsage(() =>
      registry.router
        .all()
        .flatMap((e) =>
          e.runner && e.runner.cache.enabled && app.cache
            ? [{ model: e.name, version: e.version, using: dataPlane.usageOf(e.runner).using }]
            : [],
        ),
    );
    app.decorate('readiness', () => {
      if (app.draining) return { ready: false, status: 'draining' as const };
      if (registry.router.phase !== 'loaded') return { ready: false, status: 'loading' as const };
      const ready = registry.isReady(config.READY_REQUIRES_ALL_MODELS);
      return { ready, status: ready ? ('ready' as const) : ('not_ready' as const) };
    });

    let poll: NodeJS.Timeout | undefined;
    if (config.MODEL_POLL_INTERVAL_S > 0) {
      void loaded.then(() => {
        if (closing) return;
        // A rescan slower than the interval (a drain waits for long requests) is not queued behind itself
        let busy = false;
        poll = setInterval(() => {
          if (busy) return;
          busy = true;
          registry
            .rescan()
            .catch((err: unknown) => app.log.error({ err }, 'model repository rescan failed'))
            .finally(() => (busy = false));
        }, config.MODEL_POLL_INTERVAL_S * 1000).unref();
      });
    }
    let closing = false;

    app.addHook('onClose', async () => {
      closing = true;
      await loaded;
      clearInterval(poll);
      await registry.settled(); // a rescan may be loading a version onto the workers
      await dataPlane.drained(); // fastify has finished HTTP requests; batches may still be on the workers
      await runtime.close();
    });
  },
  { name: 'models', dependencies: ['metrics', 'cache', 'drain', 'inflight', 'experiments'] },
);
