import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startApp } from '../../helpers/app.js';
import { sample, scrape } from '../../helpers/metrics.js';
import { FIXTURE_MODELS } from '../../helpers/repository.js';
import { buildRequest } from '../../helpers/oip-client.js';

const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const image = (seed: number) => [
  Array.from({ length: 8 }, (_, y) => Array.from({ length: 8 }, (_, x) => (seed * 7 + y * 3 + x) % 17)),
];

/**
 * Requests answered on the main thread (offload off) and through a decode worker (every body of 64
 * bytes or more) must get the same answers.
 */
const requests: [string, string, string][] = [
  [
    '/predict',
    'rows of nested images',
    JSON.stringify({ model: 'digits', instances: Array.from({ length: 20 }, (_, i) => image(i)) }),
  ],
  ['/predict', 'named features, one row', JSON.stringify({ model: 'iris', features: setosa })],
  [
    '/predict',
    'permissive: numeric strings and clamps',
    JSON.stringify({
      model: 'iris',
      validation: 'permissive',
      instances: [{ ...setosa, sepal_length: '5.1', petal_width: 9 }],
    }),
  ],
  [
    '/predict',
    'a type error deep in a row',
    JSON.stringify({
      model: 'digits',
      instances: [image(1), [[[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 'x', 3, 4, 5, 6, 7], ...image(2)[0]!.slice(2)]]],
    }),
  ],
  [
    '/predict',
    'a value out of its feature range',
    JSON.stringify({
      model: 'iris',
      instances: [
        [5.1, 3.5, 1.4, 0.2],
        [9, 3.5, 1.4, 0.2],
      ],
    }),
  ],
  [
    '/predict',
    'a missing feature',
    JSON.stringify({ model: 'iris', instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 }] }),
  ],
  [
    '/predict',
    'an envelope error',
    JSON.stringify({
      model: 'iris',
      instances: [[5.1, 3.5, 1.4, 0.2]],
      extra: 'field padding the body past the threshold',
    }),
  ],
  [
    '/predict',
    'an unknown model',
    JSON.stringify({ model: 'nope', instances: [[5.1, 3.5, 1.4, 0.2]], validation: 'strict' }),
  ],
  [
    '/predict',
    'an unknown version',
    JSON.stringify({ model: 'iris', version: '7', instances: [[5.1, 3.5, 1.4, 0.2]], timeout_ms: 1000 }),
  ],
  ['/predict', 'malformed JSON', `{"model":"iris","instances":[[5.1,3.5,1.4,0.2]]${' '.repeat(80)}`],
  [
    '/predict',
    'prototype pollution',
    `{"model":"iris","instances":[[5.1,3.5,1.4,0.2]],"__proto__":{"x":1}${' '.repeat(60)}}`,
  ],
  [
    '/predict',
    'prototype pollution, escaped',
    `{"model":"iris","instances":[[5.1,3.5,1.4,0.2]],"\\u005f\\u005fproto__":{"x":1}${' '.repeat(60)}}`,
  ],
  ['/predict', 'nesting 10,000 deep', `{"model":"digits","instances":[${'['.repeat(10_000)}1${']'.repeat(10_000)}]}`],
  [
    '/v2/models/iris/infer',
    'OIP JSON',
    JSON.stringify({
      id: '7',
      inputs: [
        {
          name: 'input',
          shape: [2, 4],
          datatype: 'FP32',
          data: [
            [5.1, 3.5, 1.4, 0.2],
            [6.7, 3.0, 5.2, 2.3],
          ],
        },
      ],
      outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
    }),
  ],
  [
    '/v2/models/iris/infer',
    'OIP JSON out of range',
    JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 40] }] }),
  ],
  [
    '/v2/models/iris/infer',
    'OIP bad datatype',
    JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: [5.1, 3.5, 1.4, 0.2] }] }),
  ],
  [
    '/v2/models/iris/infer',
    'OIP malformed',
    `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}${' '.repeat(40)}`,
  ],
];

/** An answer without what differs by nature between two runs. */
const comparable = (body: Record<string, unknown>) => {
  const { id: _id, parameters, ...rest } = body;
  const params = parameters as Record<string, unknown> | undefined;
  return {
    ...rest,
    ...(typeof _id === 'string' && !/^[0-9a-f-]{36}$/.test(_id) ? { id: _id } : {}),
    ...(params ? { cached: params.cached } : {}),
  };
};

describe('large JSON bodies decoded on a decode worker answer exactly what the main thread answers', () => {
  let onMain: FastifyInstance;
  let offloaded: FastifyInstance;
  beforeAll(async () => {
    onMain = await startApp({ JSON_OFFLOAD_BYTES: '0', CACHE_ENABLED: 'false' });
    offloaded = await startApp({ JSON_OFFLOAD_BYTES: '64', CACHE_ENABLED: 'false' });
  });
  afterAll(async () => {
    await onMain.close();
    await offloaded.close();
  });

  it.each(requests)('%s: %s', async (url, _name, payload) => {
    expect(payload.length).toBeGreaterThanOrEqual(64);
    const send = (app: FastifyInstance) =>
      app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });
    const [a, b] = await Promise.all([send(onMain), send(offloaded)]);
    expect(b.statusCode).toBe(a.statusCode);
    expect(comparable(b.json())).toEqual(comparable(a.json()));
    if (_name.startsWith('prototype')) expect(a.json().code).toBe('INVALID_JSON');
  });

  it('counts the anomalies of rows a worker refused, and offloads binary OIP bodies too', async () => {
    // Written out: JSON.stringify would send the second row's 1e999 (Infinity once parsed) as null.
    const missing =
      '{"model":"iris","instances":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4},' +
      '{"sepal_length":5.1,"sepal_width":1e999,"petal_length":1.4,"petal_width":0.2}]}';
    // Earlier requests here counted anomalies too: each path must count this body's one of each kind.
    const anomalies = async (app: FastifyInstance) => {
      const text = await scrape(app);
      return (['missing', 'non_finite'] as const).map(
        (kind) => sample(text, 'ml_feature_anomalies_total', { model: 'iris', kind }) ?? 0,
      );
    };
    for (const app of [onMain, offloaded]) {
      const before = await anomalies(app);
      await app.inject({
        method: 'POST',
        url: '/predict',
        payload: missing,
        headers: { 'content-type': 'application/json' },
      });
      const after = await anomalies(app);
      expect(after.map((n, i) => n - before[i]!)).toEqual([1, 1]);
    }
    const { body, headerLength } = buildRequest([
      { name: 'input', datatype: 'FP32', shape: [2, 4], data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] },
    ]);
    const send = (app: FastifyInstance) =>
      app.inject({
        method: 'POST',
        url: '/v2/models/iris/infer',
        payload: body,
        headers: { 'inference-header-content-length': String(headerLength) },
      });
    const [a, b] = await Promise.all([send(onMain), send(offloaded)]);
    expect(b.statusCode).toBe(200);
    expect(b.json().outputs).toEqual(a.json().outputs);
  });
});

describe('offloading with the fixture models of every dtype', () => {
  it('decodes strings, FP16, BOOL and int64 on the worker as the main thread does', async () => {
    const [onMain, offloaded] = await Promise.all([
      startApp({ MODEL_DIR: FIXTURE_MODELS, JSON_OFFLOAD_BYTES: '0' }),
      startApp({ MODEL_DIR: FIXTURE_MODELS, JSON_OFFLOAD_BYTES: '64' }),
    ]);
    try {
      const bodies: [string, unknown][] = [
        ['vocab', { inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: ['cat', 'héllo', 'mat'] }] }],
        [
          'masked_half',
          {
            inputs: [
              { name: 'x', shape: [1, 4], datatype: 'FP16', data: [1.5, -2, 0.25, 65504] },
              { name: 'mask', shape: [1, 4], datatype: 'BOOL', data: [true, false, true, true] },
            ],
          },
        ],
        [
          'text_classifier',
          {
            inputs: [
              { name: 'input_ids', shape: [1, 3], datatype: 'INT64', data: [1, 2, 3] },
              { name: 'attention_mask', shape: [1, 3], datatype: 'INT64', data: [1, 1, 0] },
            ],
          },
        ],
      ];
      for (const [model, body] of bodies) {
        const send = (app: FastifyInstance) =>
          app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: JSON.stringify(body) });
        const [a, b] = await Promise.all([send(onMain), send(offloaded)]);
        expect(b.statusCode).toBe(200);
        expect(b.json().outputs).toEqual(a.json().outputs);
      }
    } finally {
      await Promise.all([onMain.close(), offloaded.close()]);
    }
  });
});
