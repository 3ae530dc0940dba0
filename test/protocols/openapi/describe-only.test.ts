import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  compiledAnswer,
  describeOnlySerializer,
  describeOnlyValidator,
} from '../../../src/protocols/openapi/describe-only.js';
import { predictRequestSchema } from '../../../src/protocols/v1/predict-request.js';

const route = { method: 'POST', url: '/x', httpStatus: '200' };
const serializerFor = (schema: unknown) => describeOnlySerializer({ ...route, schema });
const answer = { id: 'x', extra: 1 };

describe('route schemas that describe without validating', () => {
  it('compile no validator, so fastify validates nothing before the handler', () => {
    expect(describeOnlyValidator({ ...route, schema: predictRequestSchema, httpPart: 'body' })).toBeUndefined();
  });

  it('serialize an answer as JSON.stringify does, unless it is a compiled answer', () => {
    const schema = z.object({ id: z.string() });
    expect(serializerFor(schema)(answer)).toBe(JSON.stringify(answer));
    // a compiled answer goes through fast-json-stringify, which writes only what the schema declares
    expect(serializerFor(compiledAnswer(z.object({ id: z.string() })))(answer)).toBe('{"id":"x"}');
  });
});
