import { z } from 'zod';

/**
 * Which of a model's versions are served, as Triton's `version_policy`: the latest N, all
 * (the default), or specific ones. The rest stay on disk, listed as skipped, with why.
 */
export const versionPolicySchema = z.union([
  z.object({ latest: z.object({ num_versions: z.number().int().min(1) }).strict() }).strict(),
  z.object({ all: z.object({}).strict() }).strict(),
  z.object({ specific: z.object({ versions: z.array(z.number().int().min(1)).min(1) }).strict() }).strict(),
]);

export type VersionPolicy = z.infer<typeof versionPolicySchema>;

/** The versions (sorted ascending) the policy serves, and those it leaves out with why. */
export function selectVersions<V extends { version: string }>(
  versions: V[],
  policy: VersionPolicy | undefined,
): { served: V[]; excluded: { version: string; reason: string }[] } {
  if (!policy || 'all' in policy) return { served: versions, excluded: [] };
  const keep =
    'latest' in policy
      ? new Set(versions.slice(-policy.latest.num_versions).map((v) => v.version))
      : new Set(policy.specific.versions.map(String));
  const why =
    'latest' in policy
      ? `version_policy serves the latest ${policy.latest.num_versions}`
      : `version_policy serves versions ${policy.specific.versions.join(', ')}`;
  return {
    served: versions.filter((v) => keep.has(v.version)),
    excluded: versions.filter((v) => !keep.has(v.version)).map((v) => ({ version: v.version, reason: why })),
  };
}
