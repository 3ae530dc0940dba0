import { describe, expect, it } from 'vitest';
import { trafficConfigSchema } from '../../../src/core/models/traffic-config.js';

const variants = [{ name: 'stable', version: 1, weight: 100 }];
const issues = (config: unknown) => {
  const parsed = trafficConfigSchema.safeParse(config);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('model.json traffic.shadows', () => {
  it('takes shadows by name, version and a fraction in (0, 1]; the version as a string, as variants have it', () => {
    expect(
      trafficConfigSchema.parse({
        variants,
        shadows: [
          { name: 'candidate', version: 2, fraction: 0.25 },
          { name: 'next', version: '3', fraction: 1 },
        ],
      }).shadows,
    ).toEqual([
      { name: 'candidate', version: '2', fraction: 0.25 },
      { name: 'next', version: '3', fraction: 1 },
    ]);
    expect(trafficConfigSchema.parse({ variants }).shadows).toBeUndefined();
  });

  it('refuses a fraction outside (0, 1], a bad version, an unknown key, and names a variant or another shadow has, each by its path', () => {
    expect(issues({ variants, shadows: [{ name: 'a', version: 2, fraction: 0 }] })).toEqual([
      'shadows.0.fraction: above 0',
    ]);
    expect(issues({ variants, shadows: [{ name: 'a', version: 2, fraction: 1.5 }] })).toEqual([
      'shadows.0.fraction: at most 1',
    ]);
    expect(issues({ variants, shadows: [{ name: 'a', version: 0, fraction: 1 }] })).toHaveLength(1);
    expect(issues({ variants, shadows: [{ name: 'a', version: 2, fraction: 1, weight: 3 }] })).toHaveLength(1);
    expect(issues({ variants, shadows: [{ name: 'stable', version: 2, fraction: 1 }] })).toEqual([
      'shadows.0.name: "stable" is taken: variant and shadow names must be unique',
    ]);
    expect(
      issues({
        variants,
        shadows: [
          { name: 'a', version: 2, fraction: 1 },
          { name: 'a', version: 3, fraction: 1 },
        ],
      }),
    ).toEqual(['shadows.1.name: "a" is taken: variant and shadow names must be unique']);
  });
});
