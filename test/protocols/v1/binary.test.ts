import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { appFor, BUNDLED_MODELS, postJson } from '../../helpers/app.js';

const digits = (
  JSON.parse(readFileSync(join(BUNDLED_MODELS, 'digits', 'holdout.json'), 'utf8')) as { rows: number[][] }
).rows;

function postTensor(app: FastifyInstance, query: string, bytes: Uint8Array | Buffer) {
  return app.inject({
    method: 'POST',
    url: `/predict?${query}`,
    payload: Buffer.from(bytes),
    headers: { 'content-type': 'application/octet-stream' },
  });
}

const floats = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

describe('binary tensor input (application/octet-stream)', () => {
  const app = appFor({});

  it('answers exactly what the same rows sent as JSON answer', async () => {
    const rows = digits.slice(0, 4);
    const binary = await postTensor(app(), 'model=digits&dtype=float32&shape=4,1,8,8', floats(rows.flat()));
    expect(binary.statusCode).toBe(200);
    const json = await postJson(app(), '/predict', { model: 'digits', instances: rows });
    expect(binary.json().predictions).toEqual(json.body.predictions);
    expect(binary.json()).toMatchObject({ model: 'digits', version: '1' });
  });

  it.each([
    [
      'a body of the wrong length',
      'model=digits&dtype=float32&shape=2,1,8,8',
      floats(Array(64).fill(1)),
      'INVALID_INPUT',
      'body',
    ],
    [
      'a dtype the model does not take',
      'model=digits&dtype=float64&shape=1,1,8,8',
      new Uint8Array(512),
      'INVALID_INPUT',
      'dtype',
    ],
    ['an unknown dtype', 'model=digits&dtype=complex&shape=1,1,8,8', new Uint8Array(256), 'INVALID_INPUT', 'dtype'],
    [
      'a shape that does not fit the model',
      'model=digits&dtype=float32&shape=1,8,8',
      floats(Array(64).fill(1)),
      'INVALID_INPUT',
      'shape',
    ],
    ['no shape', 'model=digits&dtype=float32', floats(Array(64).fill(1)), 'INVALID_REQUEST', 'query.shape'],
    [
      'a malformed shape',
      'model=digits&dtype=float32&shape=1;8',
      floats(Array(64).fill(1)),
      'INVALID_REQUEST',
      'query.shape',
    ],
    [
      'NaN in the tensor',
      'model=digits&dtype=float32&shape=1,1,8,8',
      floats([...Array(26).fill(0), Number.NaN, ...Array(37).fill(0)]),
      'INVALID_INPUT',
      'tensor[0][0][3][2]',
    ],
    [
      'a pixel above its range (strict)',
      'model=digits&dtype=float32&shape=1,1,8,8',
      floats([17, ...Array(63).fill(0)]),
      'INVALID_INPUT',
      'tensor[0][0][0][0]',
    ],
  ])('rejects %s with 400 and the field', async (_name, query, bytes, code, path) => {
    const response = await postTensor(app(), query, bytes);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe(code);
    expect(response.json().details[0].path).toBe(path);
  });

  it('clamps and warns in permissive mode', async () => {
    const response = await postTensor(
      app(),
      'model=digits&dtype=float32&shape=1,1,8,8&validation=permissive',
      floats([17, ...Array(63).fill(0)]),
    );
    expect(response.statusCode).toBe(200);
    expect(response.json().warnings).toEqual([
      { path: 'tensor[0][0][0][0]', message: '17 clamped to 16 (the range of px_0_0 in model.json)' },
    ]);
  });

  it('404s an unknown model and 413s a body over the limit', async () => {
    expect((await postTensor(app(), 'model=nope&dtype=float32&shape=1,4', floats([1, 2, 3, 4]))).json().code).toBe(
      'MODEL_NOT_FOUND',
    );
    const huge = await postTensor(app(), 'model=digits&dtype=float32&shape=20000,1,8,8', new Uint8Array(20000 * 256));
    expect(huge.statusCode).toBe(413);
  });
});
