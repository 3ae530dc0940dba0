import { z } from 'zod';
import { versionPolicySchema } from './version-policy.js';
import { trafficConfigSchema } from './traffic-config.js';
import { preprocessSchema } from './preprocess-config.js';

/** One named input feature; min/max are the training range, used to validate and to clamp. */
const featureSchema = z
  .object({
    name: z.string().min(1),
    min: z.number().optional(),
    max: z.number().optional(),
    description: z.string().optional(),
  })
  .refine((f) => f.min === undefined || f.max === undefined || f.min <= f.max, { message: 'min must not exceed max' });

const referenceBinsSchema = z
  .object({
    /** Ascending quantile edges; the bin of v is the count of edges strictly below v. */
    edges: z.array(z.number()),
    fractions: z.array(z.number().min(0).max(1)),
  })
  .refine((b) => b.fractions.length === b.edges.length + 1, { message: 'fractions needs one entry more than edges' })
  .refine((b) => b.edges.every((e, i) => i === 0 || (b.edges[i - 1] as number) < e), {
    message: 'edges must be strictly ascending',
  });

const versionCardSchema = z.object({
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256')
    .optional(),
  holdout_score: z.number().optional(),
  holdout_rows: z.number().int().nonnegative().optional(),
});

/** Omitted keys take the BATCH_* environment defaults. */
export const batchingSchema = z
  .object({
    /** false: never merge requests, even where the inputs and outputs share a batch dim. */
    enabled: z.boolean().default(true),
    /** The symbolic dim to merge requests along, when the ONNX file has several candidates. */
    dim: z.string().min(1).optional(),
    /**
     * The batch axis of each tensor, by name, for files whose dim names do not say it: every output
     * and each batched input (an input left out is shared by the rows). Checked against the file and
     * by a probe at load.
     */
    axes: z.record(z.string().min(1), z.number().int().min(0)).optional(),
    max_batch_size: z.number().int().min(1).max(65_536).optional(),
    max_queue_delay_ms: z.number().min(0).max(1000).optional(),
    max_queue_size: z.number().int().min(1).optional(),
  })
  .refine((b) => b.dim === undefined || b.axes === undefined, {
    message: 'give batching.dim or batching.axes, not both',
  });

export const cacheOptionsSchema = z.object({
  enabled: z.boolean().default(true),
  ttl_seconds: z.number().positive().optional(),
});

/** models/<name>/model.json. Every key is optional: a bare ONNX file is a valid model. */
export const modelConfigSchema = z
  .object({
    task: z.enum(['classification', 'regression']).optional(),
    description: z.string().optional(),
    input: z.string().optional(),
    output: z.string().optional(),
    output_kind: z.enum(['probabilities', 'logits', 'values']).optional(),
    features: z.array(featureSchema).min(1).optional(),
    labels: z.array(z.string().min(1)).min(2).optional(),
    validation: z.enum(['strict', 'permissive']).optional(),
    batching: batchingSchema.optional(),
    /**
     * Which versions are served: { latest: { num_versions } }, { all: {} } (the default) or
     * { specific: { versions } }.
     */
    version_policy: versionPolicySchema.optional(),
    cache: cacheOptionsSchema.optional(),
    /** What clients may send instead of an input's tensor (an encoded image), and how it becomes one. */
    preprocess: preprocessSchema.optional(),
    /** A canary or A/B split of the requests that name no version over the model's versions (traffic-config.ts). */
    traffic: trafficConfigSchema.optional(),
    /** This model's inference log settings, over INFERENCE_LOG_SAMPLE / _MODE / _INPUTS (core/inference-log/). */
    inference_log: z
      .strictObject({
        sample: z.number().min(0).max(1).optional(),
        mode: z.enum(['request', 'response', 'all']).optional(),
        inputs: z.enum(['tensors', 'omit']).optional(),
        /**
         * Personal data kept out of the log, by feature name (model.json `features`): `drop` leaves
         * the value out, `hash` writes its HMAC-SHA256 under INFERENCE_LOG_HASH_KEY (joins, not reads).
         */
        redact: z.record(z.string().min(1), z.enum(['drop', 'hash'])).optional(),
      })
      .optional(),
    card: z
      .object({
        dataset: z.string().optional(),
        training: z.string().optional(),
        metric: z.string().optional(),
        versions: z.record(z.string().regex(/^\d+$/), versionCardSchema).default({}),
      })
      .optional(),
    reference: z
      .object({
        rows: z.number().int().nonnegative(),
        features: z.record(z.string(), referenceBinsSchema),
        class_priors: z.record(z.string(), z.number().min(0).max(1)).optional(),
      })
      .optional(),
  })
  .refine((c) => c.task !== 'classification' || c.labels !== undefined, {
    message: 'a classification model needs labels',
    path: ['labels'],
  })
  .refine((c) => !c.features || new Set(c.features.map((f) => f.name)).size === c.features.length, {
    message: 'feature names must be unique',
    path: ['features'],
  });

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type FeatureConfig = z.infer<typeof featureSchema>;
