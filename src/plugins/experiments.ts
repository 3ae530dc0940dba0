import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { CandidateSample, VariantSample } from '../adapters/metrics/variant-metrics.js';
import { ExperimentLedger } from '../core/experiments/experiment-ledger.js';
import type { ExperimentReport } from '../core/experiments/experiment-report.js';
import { ExperimentResults } from '../core/experiments/experiment-results.js';
import { FleetTallies } from '../core/experiments/fleet-tallies.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The traffic splits' results: the ledger the data plane and feedback feed, and the reports. */
    experiments: ExperimentResults;
  }
}

/** Successful requests per variant the latency percentiles are over (16 KB a variant). */
const LATENCY_WINDOW = 2048;
/** How often this pod writes its changed totals to Redis, off the request path. */
const FLUSH_INTERVAL_MS = 1_000;
/**
 * Every this many flushes, every total is written again: the TTL is refreshed and a Redis that lost
 * its data is refilled.
 */
const REWRITE_EVERY = 60;
/** A variant's totals in Redis outlive the last write by a week. */
const FLEET_TTL_SECONDS = 7 * 24 * 3600;

/**
 * The experiments: per (model, variant) accounting fed by the data plane and by feedback (the
 * models plugin hands them the ledger), summed across pods through Redis when REDIS_URL is set,
 * and read by GET /experiments and the ml_variant_* / ml_experiment_* metrics. Registered before
 * the models plugin; reads the registry's splits only once requests and scrapes come.
 */
export default fp(
  async (app) => {
    const pod = randomUUID();
    const ledger = new ExperimentLedger(
      () => app.router.traffic,
      { latencyWindow: LATENCY_WINDOW, pod },
      app.metrics.variants,
    );
    const entry = (model: string, version: string) => app.router.entries(model).find((e) => e.version === version);
    const results = new ExperimentResults(
      ledger,
      {
        taskOf: (model, version) => entry(model, version)?.runner?.spec.task,
        isReady: (model, version) => entry(model, version)?.state === 'ready',
      },
      app.redis && app.redisSigner && new FleetTallies(app.redis, app.redisSigner, { ttlSeconds: FLEET_TTL_SECONDS }),
    );
    app.decorate('experiments', results);

    // The gauges of one scrape share one read (with Redis, one round trip).
    let reading: Promise<ExperimentReport[]> | undefined;
    const reports = () => (reading ??= results.all().finally(() => (reading = undefined)));
    app.metrics.variants.watch(
      () =>
        ledger.experiments().flatMap((experiment) => {
          const classifier = results.taskOf(experiment) === 'classification';
          return experiment.variants.map(({ declared, account }, i): VariantSample => ({
            model: experiment.model,
            variant: declared.name,
            version: declared.version,
            role: i === 0 ? 'control' : 'candidate',
            weight: declared.weight,
            requests: account.requests,
            ...(classifier ? { feedback: account.accuracy } : {}),
          }));
        }),
      async () =>
        (await reports()).flatMap((report) =>
          report.variants.flatMap((v): CandidateSample[] =>
            v.versusControl
              ? [
                  {
                    model: report.model,
                    variant: v.name,
                    pValue: v.versusControl.comparison.pValue,
                    samplesNeeded: v.versusControl.samplesNeeded.perVariant,
                  },
                ]
              : [],
          ),
        ),
    );

    if (!app.redis) return;
    // Redis trouble is not an error here (the next flush carries everything); anything else is logged, never thrown.
    const flush = (rewrite: boolean) =>
      results
        .flush(rewrite)
        .catch((err: unknown) => app.log.error({ err }, 'writing the experiment totals to redis failed'));
    let ticks = 0;
    // A flush slower than the interval (Redis timing out) is not queued behind itself
    let busy: Promise<unknown> | undefined;
    const timer = setInterval(() => {
      ticks++;
      busy ??= flush(ticks % REWRITE_EVERY === 0).finally(() => (busy = undefined));
    }, FLUSH_INTERVAL_MS).unref();
    // Runs after the models plugin's onClose (hooks run in reverse order), so every request has
    // been counted; before Redis closes.
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await busy;
      await flush(false);
    });
  },
  { name: 'experiments', dependencies: ['metrics', 'cache'] },
);
