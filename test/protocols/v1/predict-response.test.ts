import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeOnlySerializer } from '../../../src/protocols/openapi/describe-only.js';
import { predictResponseSchema } from '../../../src/protocols/v1/predict-response.js';
import { predictRouteSchema } from '../../../src/protocols/v1/route-schemas.js';

// The route's serializer writes only what the schema declares: a field the answer gains and the
// schema lacks would vanish silently. Every answer shape must come out exactly as it went in,
// through the serializer /predict's route compiles from its 200 schema.
const serializer = describeOnlySerializer({
  schema: predictRouteSchema.response[200],
  method: 'POST',
  url: '/predict',
  httpStatus: '200',
});
async function serialize(answer: unknown): Promise<string> {
  return serializer(answer);
}

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const classification = fc.record({
  label: fc.string(),
  confidence: finite,
  probabilities: fc.dictionary(fc.string(), finite),
});
const regression = fc.record({ values: fc.array(finite) });
const raw = fc.record({
  outputs: fc.dictionary(
    fc.string(),
    fc.oneof(fc.array(fc.array(finite)), fc.array(fc.string()), finite, fc.boolean()),
  ),
});
const row = fc.oneof(classification, regression, raw);
const head = fc.record({
  id: fc.uuid(),
  model: fc.string(),
  version: fc.stringMatching(/^\d{1,3}$/),
  cached: fc.boolean(),
});
const warnings = fc.option(fc.array(fc.record({ path: fc.string(), message: fc.string() }), { minLength: 1 }), {
  nil: undefined,
});

describe('the /predict response serializer', () => {
  it('writes every answer shape exactly as JSON.stringify does', async () => {
    const answer = fc.oneof(
      fc.tuple(head, row, warnings).map(([h, r, w]) => ({ ...h, ...r, ...(w ? { warnings: w } : {}) })),
      fc
        .tuple(head, fc.array(row, { minLength: 1 }), warnings)
        .map(([h, predictions, w]) => ({ ...h, predictions, ...(w ? { warnings: w } : {}) })),
    );
    await fc.assert(
      fc.asyncProperty(answer, async (a) => {
        expect(predictResponseSchema.safeParse(a).success).toBe(true);
        expect(JSON.parse(await serialize(a))).toEqual(JSON.parse(JSON.stringify(a)));
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('drops what the schema does not declare (so the schema must declare all the route answers)', async () => {
    expect(
      JSON.parse(await serialize({ id: 'x', model: 'm', version: '1', cached: false, surprise: 1 })),
    ).not.toHaveProperty('surprise');
  });
});
