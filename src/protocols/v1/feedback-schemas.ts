import { z } from 'zod';

/** Ground truth for a prediction, joined by the id /predict returned (never by time). */
export const feedbackSchema = z
  .strictObject({
    id: z.string().min(1).max(64),
    /** Which row of a multi-row prediction; 0 for a `features` request. */
    row: z.number().int().min(0).max(1_000_000).optional(),
    label: z.string().min(1).max(256).optional(),
    value: z.number().optional(),
  })
  .refine((f) => (f.label === undefined) !== (f.value === undefined), {
    message: 'send exactly one of "label" (classifiers) or "value" (regressors)',
    path: ['label'],
  });

/** The answer: the prediction it joined, and whether it was right (classifiers) or its absolute error (regressors). */
export const feedbackResultSchema = z.object({
  id: z.string(),
  row: z.number().int(),
  model: z.string(),
  version: z.string(),
  correct: z.boolean().optional(),
  error: z.number().optional(),
});
