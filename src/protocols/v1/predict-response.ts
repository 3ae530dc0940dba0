import { z } from 'zod';

/**
 * One row's answer: label, confidence and probabilities (classifiers), values (regressors), or a
 * raw model's outputs.
 */
const rowAnswer = z.object({
  label: z.string().optional(),
  confidence: z.number().optional(),
  probabilities: z.record(z.string(), z.number()).optional(),
  values: z.array(z.number()).optional(),
  outputs: z.record(z.string(), z.unknown()).optional(),
});

/**
 * The /predict answer: a `features` request gets its row's fields at the top level, an
 * `instances` request a `predictions` list. Declared once, it is the route's 200 response schema
 * (v1/route-schemas.ts), documented in /openapi.json and compiled into the answer's serializer
 * (about half JSON.stringify's time).
 */
export const predictResponseSchema = z.object({
  id: z.string(),
  model: z.string(),
  version: z.string(),
  /**
   * The traffic split's variant that served the request, when the model has a split and the request
   * named no version.
   */
  variant: z.string().optional(),
  cached: z.boolean(),
  ...rowAnswer.shape,
  predictions: z.array(rowAnswer).optional(),
  warnings: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export type PredictResponse = z.infer<typeof predictResponseSchema>;
