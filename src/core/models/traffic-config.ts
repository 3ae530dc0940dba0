import { z } from 'zod';
import { isCanonicalVersion } from './version-folder.js';
import { splitVariantSchema, splitVariantsOf } from './traffic-split.js';

/**
 * model.json `traffic`: how requests that name no version are spread over the model's versions.
 * `{"variants": [{"name": "stable", "version": 1, "weight": 90}, {"name": "canary", "version": 2, "weight": 10}]}`
 * sends 90% to version 1 and 10% to version 2, sticky per routing key. A request that names a
 * version bypasses the split. Two variants may serve one version (an A/A test).
 */
export const trafficVariantSchema = splitVariantSchema.extend({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
  // the version folder's one spelling (version-folder.ts): a variant on `01` would never be ready
  version: z
    .union([z.number().int().min(1).transform(String), z.string()])
    .refine(isCanonicalVersion, 'a version number (1, 2, 10)'),
});

/**
 * A shadow: `fraction` of the requests the split answers (those that name no version) are also
 * run, off the hot path, on `version`; its answer is only compared with the client's
 * (shadow-traffic.ts). Its name labels the shadow metrics.
 */
export const trafficShadowSchema = z
  .object({
    name: trafficVariantSchema.shape.name,
    version: trafficVariantSchema.shape.version,
    fraction: z.number().gt(0, 'above 0').lte(1, 'at most 1'),
  })
  .strict();

export const trafficConfigSchema = z
  .object({
    variants: splitVariantsOf(trafficVariantSchema),
    shadows: z.array(trafficShadowSchema).max(8, 'at most 8 shadows').optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const taken = new Set(config.variants.map((v) => v.name));
    (config.shadows ?? []).forEach((shadow, i) => {
      if (taken.has(shadow.name))
        ctx.addIssue({
          code: 'custom',
          path: ['shadows', i, 'name'],
          message: `"${shadow.name}" is taken: variant and shadow names must be unique`,
        });
      taken.add(shadow.name);
    });
  });

export type TrafficConfig = z.infer<typeof trafficConfigSchema>;
export type TrafficVariant = z.infer<typeof trafficVariantSchema>;
export type TrafficShadow = z.infer<typeof trafficShadowSchema>;
