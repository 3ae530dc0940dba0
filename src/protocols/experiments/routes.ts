import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ServiceError } from '../../errors.js';
import { METHOD, type ExperimentReport, type Quality, type Versus } from '../../core/experiments/experiment-report.js';
import type { Interval } from '../../core/experiments/statistics.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import { experimentRoute, experimentsRoute, type ExperimentAnswer } from './schemas.js';

/** JSON has no NaN or Infinity: what is not computable (or infinite) is null. */
const figure = (x: number) => (Number.isFinite(x) ? x : null);
const interval = ({ lower, upper }: Interval) => ({ lower: figure(lower), upper: figure(upper) });

function quality(q: Quality) {
  const { estimate: e } = q;
  const trust = { trustworthy: e.trustworthy, reasons: [...e.reasons] };
  if (q.metric === 'accuracy')
    return {
      accuracy: { value: figure(q.estimate.rate), n: e.n, correct: q.correct, ci95: interval(e.interval), ...trust },
    };
  return {
    mean_absolute_error: {
      value: figure(q.estimate.mean),
      n: e.n,
      standard_deviation: figure(q.estimate.standardDeviation),
      ci95: interval(e.interval),
      ...trust,
    },
  };
}

function versus(control: string, v: Versus) {
  const c = v.comparison;
  const [controlMore, candidateMore] = v.samplesNeeded.additional;
  return {
    control,
    test: v.test,
    difference: figure(c.difference),
    ci95: interval(c.interval),
    statistic: figure('z' in c ? c.z : c.t),
    ...('degreesOfFreedom' in c ? { degrees_of_freedom: figure(c.degreesOfFreedom) } : {}),
    p_value: figure(c.pValue),
    samples_needed: {
      per_variant: figure(v.samplesNeeded.perVariant),
      control_more: figure(controlMore),
      candidate_more: figure(candidateMore),
    },
    trustworthy: c.trustworthy,
    reasons: [...c.reasons],
  };
}

/** The wire shape of one experiment's results (snake_case, nulls for what is not computable). */
export function encodeReport(report: ExperimentReport): ExperimentAnswer {
  const { scope } = report;
  return {
    model: report.model,
    task: report.task ?? null,
    metric: report.metric ?? null,
    control: report.control,
    scope: scope.kind,
    scope_detail:
      scope.kind === 'fleet'
        ? `summed over ${scope.pods} pod(s) through Redis, each as of its last write (at most a second old), this pod's as of now; latency is this pod's`
        : scope.why,
    ...(scope.kind === 'fleet' ? { pods: scope.pods } : {}),
    variants: report.variants.map((v) => {
      const requests = v.totals.requests.success + v.totals.requests.invalid_input + v.totals.requests.error;
      return {
        name: v.name,
        version: v.version,
        weight: v.weight,
        role: v.role,
        ready: v.ready,
        requests,
        by_status: { ...v.totals.requests },
        errors: v.totals.requests.error,
        error_rate: figure(v.totals.requests.error / requests),
        latency_seconds: {
          p50: figure(v.latency.p50),
          p95: figure(v.latency.p95),
          p99: figure(v.latency.p99),
          samples: v.latency.samples,
        },
        ...(v.quality ? quality(v.quality) : {}),
        ...(v.versusControl ? { versus_control: versus(report.control, v.versusControl) } : {}),
      };
    }),
    method: METHOD,
  };
}

/**
 * GET /experiments and /experiments/{model}: public and read-only, like /models. Each model with a
 * traffic split is an experiment named after it; its first variant is the control.
 */
const experiments: FastifyPluginAsync = async (app) => {
  const routes = app.withTypeProvider<DescribedRoutes>();
  routes.get('/experiments', { schema: experimentsRoute }, async () => ({
    experiments: (await app.experiments.all()).map(encodeReport),
  }));

  routes.get(
    '/experiments/:model',
    { schema: experimentRoute },
    async (request: FastifyRequest<{ Params: { model: string } }>) => {
      const { model } = request.params;
      if (app.router.entries(model).length === 0) {
        if (app.router.phase !== 'loaded')
          throw new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200');
        throw new ServiceError('MODEL_NOT_FOUND', `unknown model "${model}"`, [
          { path: 'model', message: `models: ${[...new Set(app.router.all().map((e) => e.name))].join(', ')}` },
        ]);
      }
      const report = await app.experiments.of(model);
      if (!report)
        throw new ServiceError('NO_TRAFFIC_SPLIT', 'the model has no traffic split', [
          { path: 'model', message: `model "${model}" declares no \`traffic\` in its model.json` },
        ]);
      return encodeReport(report);
    },
  );
};

export default experiments;
