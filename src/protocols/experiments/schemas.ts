import { z } from 'zod';
import type { ErrorCode } from '../../errors.js';
import { ANY_REQUEST, errorResponses, PATH_PARAMS } from '../openapi/error-responses.js';

/**
 * GET /experiments and /experiments/{model}: a traffic split's results per variant, and each
 * candidate against the control.
 */
const tags = ['experiments'];

const count = z.number().int().min(0);
/** JSON has no NaN or Infinity: a figure that is not (yet) computable is null. */
const figure = (description: string) => z.number().nullable().describe(description);
const interval = z
  .object({ lower: z.number().nullable(), upper: z.number().nullable() })
  .describe('95% confidence interval; null bounds while not computable');
const trust = {
  trustworthy: z
    .boolean()
    .describe(
      'false below 30 labelled rows in a variant (accuracy: or below 5 right or 5 wrong answers), where the approximations fail',
    ),
  reasons: z.array(z.string()).describe('why it is not trustworthy; empty when it is'),
};

const accuracy = z.object({
  value: figure('correct / n; null before any feedback'),
  n: count,
  correct: count,
  ci95: interval.describe('Wilson score interval'),
  ...trust,
});
const meanAbsoluteError = z.object({
  value: figure("mean |predicted − true|, in the target's units; null before any feedback"),
  n: count,
  standard_deviation: figure('of the absolute errors; null below 2 rows'),
  ci95: interval.describe('t interval, lower bound clamped at 0'),
  ...trust,
});

const versusControl = z
  .object({
    control: z.string(),
    test: z.enum(['two-proportion z-test', "Welch's t-test"]),
    difference: figure('candidate − control: for accuracy higher is better, for MAE lower is better'),
    ci95: interval.describe("of the difference: Newcombe's hybrid score interval (accuracy), Welch's t interval (MAE)"),
    statistic: figure("z (pooled) or Welch's t, signed like the difference"),
    degrees_of_freedom: figure('Welch-Satterthwaite (MAE only)').optional(),
    p_value: figure(
      'two-sided, fixed-horizon: valid for one look at a sample size chosen in advance (no peeking correction)',
    ),
    samples_needed: z
      .object({
        per_variant: figure(
          'labelled rows each variant needs to detect the observed difference with 80% power at alpha 0.05; null when not computable or when the difference is 0',
        ),
        control_more: figure('how many more the control needs'),
        candidate_more: figure('how many more this candidate needs'),
      })
      .describe('an order of magnitude while the samples are few: it rests on the observed difference'),
    ...trust,
  })
  .describe('this candidate against the control');

const variant = z.object({
  name: z.string(),
  version: z.string(),
  weight: z.number(),
  role: z.enum(['control', 'candidate']).describe('the control is the first variant listed in model.json `traffic`'),
  ready: z.boolean().describe('whether its version is ready; a variant whose version is not takes no traffic'),
  requests: count.describe('requests the split sent to this variant (its current version)'),
  by_status: z.object({ success: count, invalid_input: count, error: count }),
  errors: count.describe('requests answered with a server error'),
  error_rate: figure('errors / requests; null before any request'),
  latency_seconds: z
    .object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable(), samples: count })
    .describe(
      "this pod's last successful requests of the variant, nearest rank (whatever the scope); the fleet's is ml_variant_latency_seconds",
    ),
  accuracy: accuracy.optional().describe('classifiers'),
  mean_absolute_error: meanAbsoluteError.optional().describe('regressors'),
  versus_control: versusControl.optional(),
});

export const experimentSchema = z.object({
  model: z.string(),
  task: z
    .enum(['classification', 'regression', 'raw'])
    .nullable()
    .describe("null while no variant's version is loaded"),
  metric: z
    .enum(['accuracy', 'mean_absolute_error'])
    .nullable()
    .describe('what feedback is scored by; null for a model with neither labels nor values'),
  control: z.string(),
  scope: z
    .enum(['fleet', 'pod'])
    .describe(
      "fleet: every pod's counts, summed through Redis; pod: this pod's alone (no REDIS_URL, or Redis did not answer)",
    ),
  scope_detail: z.string(),
  pods: count.optional().describe("fleet scope: how many pods' counts were summed"),
  variants: z.array(variant),
  method: z.string().describe('how the numbers are computed and when they are trustworthy'),
});
export type ExperimentAnswer = z.infer<typeof experimentSchema>;

const modelParams = z.object({ model: z.string().describe("the model's name; its experiment is named after it") });
const NOT_AN_EXPERIMENT = ['MODEL_NOT_FOUND', 'NO_TRAFFIC_SPLIT', 'MODEL_NOT_READY'] as const satisfies ErrorCode[];

export const experimentsRoute = {
  tags,
  summary:
    'The results of every traffic split: per variant requests, errors, latency, accuracy or MAE, and each candidate tested against the control',
  response: { 200: z.object({ experiments: z.array(experimentSchema) }), ...errorResponses(ANY_REQUEST) },
};

export const experimentRoute = {
  tags,
  summary:
    "One model's traffic split results: per variant requests, errors, latency, accuracy or MAE with intervals, and each candidate tested against the control",
  description:
    '404 NO_TRAFFIC_SPLIT when the model has no `traffic` in its model.json; 503 MODEL_NOT_READY while the repository is first read.',
  params: modelParams,
  response: { 200: experimentSchema, ...errorResponses(ANY_REQUEST, PATH_PARAMS, NOT_AN_EXPERIMENT) },
};
