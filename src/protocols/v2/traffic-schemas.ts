import { z } from 'zod';
import type { ErrorCode } from '../../errors.js';
import { variantStatusSchema } from '../../core/experiments/traffic-status.js';
import { splitVariantSchema } from '../../core/models/traffic-split.js';
import { ANY_REQUEST, errorResponses, PATH_PARAMS, READS_BODY } from '../openapi/error-responses.js';
import { ADMIN, auth, modelParams } from './repository-schemas.js';

/** The traffic split of a model (model.json `traffic`), read and reweighted at run time: part of the control API. */
const tags = ['Traffic splits (control API)'];
/** A model that is not there, or has no split; MODEL_NOT_READY before the repository is first read. */
const SPLIT = ['MODEL_NOT_FOUND', 'NO_TRAFFIC_SPLIT', 'MODEL_NOT_READY'] as const satisfies ErrorCode[];
const perPod =
  "A change applies to this pod only, until model.json's `traffic` changes or the pod restarts: change model.json for the whole fleet.";

export const trafficWeightsSchema = z.strictObject({
  weights: z
    .record(z.string(), splitVariantSchema.shape.weight)
    .refine((weights) => Object.keys(weights).length > 0, 'name at least one variant')
    .describe('new weights by variant name; the variants not named keep theirs'),
});

export const trafficSplitSchema = z.object({
  model: z.string(),
  variants: z
    .array(variantStatusSchema)
    .describe("in model.json's order: the first is the control, every other is compared against it"),
});

export const trafficGetRoute = {
  tags,
  summary: "A model's traffic split: each variant's version, current weight and readiness",
  description: auth,
  params: modelParams,
  response: { 200: trafficSplitSchema, ...errorResponses(ANY_REQUEST, PATH_PARAMS, ADMIN, SPLIT) },
};

export const trafficSetRoute = {
  tags,
  summary: "Set a model's split weights without a restart; answers the split as it now is",
  description: `${auth} ${perPod} An unknown variant name, a weight below 0 or not a number, or weights that leave no variant above 0: 400 INVALID_REQUEST naming the field, and nothing changes.`,
  params: modelParams,
  body: trafficWeightsSchema.meta({ examples: [{ weights: { stable: 95, canary: 5 } }] }),
  response: { 200: trafficSplitSchema, ...errorResponses(ANY_REQUEST, PATH_PARAMS, READS_BODY, ADMIN, SPLIT) },
};
