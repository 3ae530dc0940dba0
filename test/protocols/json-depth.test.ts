import { describe, expect, it } from 'vitest';
import { appFor } from '../helpers/app.js';

/** A value `levels` containers deep: [[[…1…]]] or {"a":{"a":…1…}}. */
const nest = (levels: number, kind: 'array' | 'object') =>
  kind === 'array' ? `${'['.repeat(levels)}1${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

const irisData = '[5.1,3.5,1.4,0.2]';
/** Bodies whose total depth is `depth` (the root object is level 1), nested where each route lets a client nest. */
const places: [string, string, (depth: number, kind: 'array' | 'object') => string][] = [
  ['/predict', 'instances', (d, k) => `{"model":"iris","instances":[${nest(d - 2, k)}]}`],
  ['/predict', 'features', (d, k) => `{"model":"iris","features":{"sepal_length":${nest(d - 2, k)}}}`],
  [
    '/v2/models/iris/infer',
    'inputs[].data',
    (d, k) => `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":${nest(d - 3, k)}}]}`,
  ],
  [
    '/v2/models/iris/infer',
    'parameters',
    (d, k) =>
      `{"parameters":{"x":${nest(d - 2, k)}},"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":${irisData}}]}`,
  ],
  ['/feedback', 'label', (d, k) => `{"id":"x","label":${nest(d - 1, k)}}`],
];

describe.each([
  ['on the main thread', '0'],
  ['on a decode worker', '64'],
])('JSON nested deeper than MAX_JSON_DEPTH is a 400 naming the limit, %s', (_where, offloadBytes) => {
  const app = appFor({ LOG_LEVEL: 'silent', JSON_OFFLOAD_BYTES: offloadBytes, CACHE_ENABLED: 'false' });

  const post = (url: string, payload: string) =>
    app().inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

  it.each(
    places.flatMap(([url, place, body]) =>
      [65, 10_000].flatMap((depth) =>
        (['array', 'object'] as const).map((kind) => [url, place, depth, kind, body] as const),
      ),
    ),
  )('%s %s, %i deep (%s)', async (url, _place, depth, kind, body) => {
    const response = await post(url, body(depth, kind));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: 'the body is nested deeper than 64 levels (MAX_JSON_DEPTH)',
      code: 'INVALID_REQUEST',
      details: [{ path: '(body)', message: 'nested deeper than 64 levels' }],
    });
  });

  it('lets a body exactly 64 deep through to the envelope and input checks', async () => {
    const parameters = places[3]![2](64, 'object');
    expect((await post('/v2/models/iris/infer', parameters)).statusCode).toBe(200);
    const data = await post('/v2/models/iris/infer', places[2]![2](64, 'array'));
    expect(data.json().code).toBe('INVALID_INPUT');
  });
});

describe('MAX_JSON_DEPTH', () => {
  const app = appFor({ LOG_LEVEL: 'silent', MAX_JSON_DEPTH: '8' });

  it('sets the limit', async () => {
    const post = (payload: string) => app().inject({ method: 'POST', url: '/v2/models/iris/infer', payload });
    expect((await post(places[3]![2](8, 'object'))).statusCode).toBe(200);
    const deeper = await post(places[3]![2](9, 'object'));
    expect(deeper.statusCode).toBe(400);
    expect(deeper.json().error).toContain('deeper than 8 levels');
  });
});
