import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { CandidateSample, VariantSample } from '../adapters/metrics/variant-metrics.js';
import { ExperimentLedger } from '../core/experiments/experiment-ledger.js';
import type { ExperimentReport } from '../core/experiments/experiment-report.js';
import { ExperimentResults } from '../core/experiments/experiment-results.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The traffic splits' results: the ledger the data plane and feedback feed, and the reports. */
    experiments: ExperimentResults;
  }
}

/** Successful requests per variant the latency percentiles are over (16 KB a variant). */
const LATENCY_WINDOW = 2048;

/**
 * The experiments: per (model, variant) accounting fed by the data plane and by feedback (the
 * models plugin hands them the ledger), and read by GET /experiments and the ml_variant_* / ml_experiment_* metrics. Registered before
 * the models plugin; reads the registry's splits only once requests and scrapes come.
 */
export default fp(
  async (app) => {
    const pod = randomUUID();
    const ledger = new ExperimentLedger(() => app.models.traffic, { latencyWindow: LATENCY_WINDOW, pod }, app.metrics.variants);
    const entry = (model: string, version: string) => app.models.entries(model).find((e) => e.version === version);
    const results = new ExperimentResults(
      ledger,
      { taskOf: (model, version) => entry(model, version)?.runner?.spec.task, isReady: (model, version) => entry(model, version)?.state === 'ready' },
    );
    app.decorate('experiments', results);

    // The gauges of one scrape share one read.
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
            v.versusControl ? [{ model: report.model, variant: v.name, pValue: v.versusControl.comparison.pValue, samplesNeeded: v.versusControl.samplesNeeded.perVariant }] : [],
          ),
        ),
    );
  },
  { name: 'experiments', dependencies: ['metrics'] },
);
