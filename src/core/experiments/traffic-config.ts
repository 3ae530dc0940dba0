import { z } from 'zod';
import { splitVariantSchema, splitVariantsOf } from './traffic-split.js';

/**
 * model.json `traffic`: how requests that name no version are spread over the model's versions.
 * `{"variants": [{"name": "stable", "version": 1, "weight": 90}, {"name": "canary", "version": 2, "weight": 10}]}`
 * sends 90% to version 1 and 10% to version 2, sticky per routing key. A request that names a
 * version bypasses the split. Two variants may serve one version (an A/A test).
 */
export const trafficVariantSchema = splitVariantSchema.extend({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
  version: z.union([z.number().int().min(1), z.string().regex(/^[1-9]\d*$/, 'a version number')]).transform(String),
});

export const trafficConfigSchema = z
  .object({
    variants: splitVariantsOf(trafficVariantSchema),
  })
  .strict();

export type TrafficConfig = z.infer<typeof trafficConfigSchema>;
export type TrafficVariant = z.infer<typeof trafficVariantSchema>;
