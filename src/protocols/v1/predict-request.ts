import { z } from 'zod';
import { versionField, versionText } from '../version-param.js';

/** The /predict envelope. Row contents are checked later, against the model's own metadata. */
export const predictRequestSchema = z
  .strictObject({
    model: z.string().min(1).max(128),
    version: versionField.optional(),
    features: z.record(z.string(), z.unknown()).optional(),
    // At most MAX_REQUEST_ROWS: the data plane's row cap, one for every protocol
    instances: z.array(z.unknown()).min(1).optional(),
    /** One encoded image (JPEG, PNG, WebP, GIF) as base64, for a model whose model.json preprocesses its input. */
    image: z.string().optional(),
    /** One text, for a model whose model.json names a tokenizer (preprocess.<name>.text). */
    text: z.string().optional(),
    /** Several texts, one row each. */
    texts: z.array(z.string()).min(1).optional(),
    validation: z.enum(['strict', 'permissive']).optional(),
    /** This request's deadline; past it the answer is 504 and queued rows never reach a worker. */
    timeout_ms: z.number().int().min(1).max(600_000).optional(),
    /** Keeps a caller on one variant of the model's traffic split (as the X-Routing-Key header does). */
    routing_key: z.string().max(256).optional(),
  })
  .refine((r) => raw(r) || (r.features === undefined) !== (r.instances === undefined), {
    message: 'send exactly one of "features" (one row of named features) or "instances" (a list of rows)',
    path: ['features'],
  })
  .refine((r) => r.image === undefined || (r.features === undefined && r.instances === undefined), {
    message: 'send "image" alone: one image, or "instances": [{"image": …}, …] for several',
    path: ['image'],
  })
  .refine((r) => r.text === undefined || (r.features ?? r.instances ?? r.image ?? r.texts) === undefined, {
    message: 'send "text" alone: one text, or "texts": […] for several',
    path: ['text'],
  })
  .refine((r) => r.texts === undefined || (r.features ?? r.instances ?? r.image) === undefined, {
    message: 'send "texts" alone: one text per row',
    path: ['texts'],
  });

/** Whether a request sends what the model preprocesses (an image, texts) instead of rows of values. */
function raw(r: { image?: string; text?: string; texts?: string[] }): boolean {
  return r.image !== undefined || r.text !== undefined || r.texts !== undefined;
}

export type PredictRequest = z.infer<typeof predictRequestSchema>;

/** Binary input: the body is the raw little-endian tensor; what describes it travels in the query string. */
export const tensorQuerySchema = z.strictObject({
  model: z.string().min(1).max(128).describe('binary bodies: the model (a JSON body names it in the body)'),
  version: versionText.optional(),
  dtype: z
    .string()
    .min(1)
    .max(16)
    .describe('binary bodies: the element type, as the model input has it (float32, int64, …)'),
  shape: z
    .string()
    .regex(/^\d{1,9}(,\d{1,9}){0,7}$/, 'comma-separated dims, batch first: 4,1,8,8')
    .describe('binary bodies: comma-separated dims, batch first')
    .transform((s) => s.split(',').map(Number)),
  validation: z.enum(['strict', 'permissive']).optional(),
  timeout_ms: z.coerce.number().int().min(1).max(600_000).optional(),
  routing_key: z.string().max(256).optional(),
});

/** A body that is one encoded image (Content-Type image/jpeg, png, webp, gif): the query string names the model. */
export const imageQuerySchema = tensorQuerySchema.omit({ dtype: true, shape: true });
