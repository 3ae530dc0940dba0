import { z } from 'zod';
import type { ModelEntry } from '../models/model-registry.js';
import type { SkippedEntry } from '../models/model-repository.js';
import type { ModelTraffic } from './traffic-router.js';

/** One variant of a split as it serves now (the control API's and /models' shape). */
export const variantStatusSchema = z.object({
  name: z.string(),
  version: z.string().describe('the model version this variant serves'),
  weight: z
    .number()
    .describe(
      "its current weight (model.json, or the last the control API set on this pod); shares are weight / the sum of the ready variants' weights",
    ),
  ready: z.boolean().describe('whether its version is ready: only then does it take its share'),
  reason: z.string().optional().describe('why its version is not ready (loading, failed, not in the repository)'),
});
export type VariantStatus = z.infer<typeof variantStatusSchema>;

/** One shadow of a split as it runs now (/models' shape). */
export const shadowStatusSchema = z.object({
  name: z.string(),
  version: z.string().describe('the model version the mirrored requests run on'),
  fraction: z.number().describe("the share of the model's unversioned requests mirrored to it"),
  ready: z.boolean().describe('whether its version is ready: only then are requests mirrored to it'),
  reason: z.string().optional().describe('why its version is not ready'),
});
export type ShadowStatus = z.infer<typeof shadowStatusSchema>;

/**
 * A model's split as /models and the control API show it: every variant in model.json's order
 * (the first is the control), its current weight, and whether its version serves. A variant whose
 * version is loading, failed, or not in the repository at all takes no traffic until it is ready;
 * the reason says which.
 */
export function variantStatus(
  traffic: ModelTraffic,
  entries: readonly ModelEntry[],
  skipped: readonly SkippedEntry[],
): VariantStatus[] {
  return traffic.list().map(({ name, version, weight }) => ({
    name,
    version,
    weight,
    ...readiness(traffic.model, version, entries, skipped),
  }));
}

/** The split's shadows, with whether each one's version is ready to take mirrored requests. */
export function shadowStatus(
  traffic: ModelTraffic,
  entries: readonly ModelEntry[],
  skipped: readonly SkippedEntry[],
): ShadowStatus[] {
  return traffic.shadows.map(({ name, version, fraction }) => ({
    name,
    version,
    fraction,
    ...readiness(traffic.model, version, entries, skipped),
  }));
}

function readiness(
  model: string,
  version: string,
  entries: readonly ModelEntry[],
  skipped: readonly SkippedEntry[],
): { ready: boolean; reason?: string } {
  const reason = notReady(
    model,
    version,
    entries.find((e) => e.version === version),
    skipped,
  );
  return { ready: reason === undefined, ...(reason !== undefined ? { reason } : {}) };
}

function notReady(
  model: string,
  version: string,
  entry: ModelEntry | undefined,
  skipped: readonly SkippedEntry[],
): string | undefined {
  if (!entry) {
    const left = skipped.find((s) => s.entry === `${model}/${version}`);
    return left ? `version ${version} is not served: ${left.reason}` : `version ${version} is not in the repository`;
  }
  if (entry.state === 'ready') return undefined;
  if (entry.state === 'loading') return `version ${version} is still loading`;
  return `version ${version} ${entry.state === 'failed' ? 'failed to load' : 'cannot be served'}: ${entry.reason ?? entry.state}`;
}
