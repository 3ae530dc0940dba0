import { describe, expect, it } from 'vitest';
import { appFor, postJson } from '../../helpers/app.js';

const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

describe('POST /predict on the bundled models', () => {
  const app = appFor({ BODY_LIMIT_BYTES: '65536' });

  it('answers the README example: setosa with its confidence and every class probability', async () => {
    const { status, body } = await postJson(app(), '/predict', { model: 'iris', features: setosa });
    expect(status).toBe(200);
    expect(body).toMatchObject({ model: 'iris', version: '1', label: 'setosa' });
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(body.probabilities)).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(body.confidence).toBe(body.probabilities.setosa);
    expect(body.confidence).toBeGreaterThan(0.8);
    const sum = Object.values(body.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 5);
  });

  it('answers one prediction per instance, each with its own label', async () => {
    const { status, body } = await postJson(app(), '/predict', {
      model: 'iris',
      instances: [setosa, [6.7, 3.0, 5.2, 2.3]],
    });
    expect(status).toBe(200);
    expect(body.predictions.map((p: { label: string }) => p.label)).toEqual(['setosa', 'virginica']);
  });

  it('serves the regressor and the image classifier', async () => {
    const diabetes = await postJson(app(), '/predict', {
      model: 'diabetes',
      instances: [Array.from({ length: 10 }, () => 0)],
    });
    expect(diabetes.status).toBe(200);
    expect(diabetes.body.predictions[0].values).toHaveLength(1);
    expect(Number.isFinite(diabetes.body.predictions[0].values[0])).toBe(true);

    const zero = Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => 0));
    const digits = await postJson(app(), '/predict', { model: 'digits', instances: [[zero]] });
    expect(digits.status).toBe(200);
    expect(Object.keys(digits.body.predictions[0].probabilities)).toHaveLength(10);
  });

  it('warns in permissive mode and clamps', async () => {
    const { status, body } = await postJson(app(), '/predict', {
      model: 'iris',
      validation: 'permissive',
      features: { ...setosa, sepal_length: '5.1', petal_width: 99 },
    });
    expect(status).toBe(200);
    expect(body.warnings.map((w: { path: string }) => w.path)).toEqual([
      'features.sepal_length',
      'features.petal_width',
    ]);
  });
});

describe('bad input gets a JSON error with a stable code, never a 500', () => {
  const app = appFor({ BODY_LIMIT_BYTES: '65536' });

  const raw = (payload: string, contentType = 'application/json') =>
    app().inject({ method: 'POST', url: '/predict', payload, headers: { 'content-type': contentType } });

  it.each([
    ['malformed JSON', '{"model": "iris",', 400, 'INVALID_JSON'],
    ['an empty body', '', 400, 'INVALID_JSON'],
    ['a JSON array', '[1,2,3]', 400, 'INVALID_REQUEST'],
    ['no rows', '{"model":"iris"}', 400, 'INVALID_REQUEST'],
    ['both features and instances', '{"model":"iris","features":{},"instances":[[1]]}', 400, 'INVALID_REQUEST'],
    ['an unknown envelope field', '{"model":"iris","instances":[[1,2,3,4]],"extra":1}', 400, 'INVALID_REQUEST'],
    ['an empty instances list', '{"model":"iris","instances":[]}', 400, 'INVALID_REQUEST'],
    ['a model name that is a number', '{"model":7,"instances":[[1]]}', 400, 'INVALID_REQUEST'],
    [
      '1e999 (Infinity after parsing)',
      '{"model":"iris","features":{"sepal_length":1e999,"sepal_width":3,"petal_length":1,"petal_width":1}}',
      400,
      'INVALID_INPUT',
    ],
    [
      'null for a feature',
      '{"model":"iris","features":{"sepal_length":null,"sepal_width":3,"petal_length":1,"petal_width":1}}',
      400,
      'INVALID_INPUT',
    ],
    ['a row that is a string', '{"model":"iris","instances":["5.1,3.5,1.4,0.2"]}', 400, 'INVALID_INPUT'],
    ['a row too short', '{"model":"iris","instances":[[5.1,3.5]]}', 400, 'INVALID_INPUT'],
    ['prototype pollution', '{"model":"iris","features":{"__proto__":{"x":1}}}', 400, 'INVALID_JSON'],
    ['an unknown model', '{"model":"nope","instances":[[1]]}', 404, 'MODEL_NOT_FOUND'],
    ['an unknown version', '{"model":"iris","version":"99","instances":[[5.1,3.5,1.4,0.2]]}', 404, 'VERSION_NOT_FOUND'],
  ])('%s', async (_name, payload, status, code) => {
    const response = await raw(payload);
    expect(response.statusCode).toBe(status);
    const body = response.json();
    expect(body.code).toBe(code);
    expect(typeof body.error).toBe('string');
  });

  it('names the wrong field in details', async () => {
    const response = await raw(
      '{"model":"iris","instances":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":"x"}]}',
    );
    expect(response.json().details).toEqual([
      { path: 'instances[0].petal_width', message: 'expected a finite number, got the string "x"' },
    ]);
    const envelope = await raw('{"model":"iris","version":"latest","instances":[[1,2,3,4]]}');
    expect(envelope.json().details[0].path).toBe('version');
  });

  it('answers 413 above the body limit and 415 for another content type', async () => {
    const big = JSON.stringify({ model: 'iris', instances: Array.from({ length: 5000 }, () => [5.1, 3.5, 1.4, 0.2]) });
    expect(big.length).toBeGreaterThan(65536);
    const tooLarge = await raw(big);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().code).toBe('PAYLOAD_TOO_LARGE');
    for (const type of ['application/x-www-form-urlencoded', 'application/xml']) {
      const wrongType = await raw('model=iris', type);
      expect(wrongType.statusCode).toBe(415);
      expect(wrongType.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    // text/plain is one text, for a model that tokenises text: iris takes none
    const text = await raw('model=iris', 'text/plain');
    expect(text.statusCode).toBe(400);
    expect(text.json().code).toBe('INVALID_REQUEST');
  });

  it('survives deeply nested JSON and huge numbers of rows without a 500', async () => {
    const deep = `{"model":"digits","instances":[${'['.repeat(5000)}1${']'.repeat(5000)}]}`;
    const nested = await raw(deep);
    expect(nested.statusCode).toBe(400);
    // past MAX_REQUEST_ROWS: refused on its length, before its rows (each a bare 1, no row at all) are checked
    const many = await raw(JSON.stringify({ model: 'iris', instances: Array.from({ length: 10_001 }, () => 1) }));
    expect([many.statusCode, many.json().code]).toEqual([413, 'TOO_MANY_ROWS']);
  });

  it('answers 404 with a code for unknown routes and the wrong method', async () => {
    const unknown = await app().inject('/nope');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('ROUTE_NOT_FOUND');
    const get = await app().inject('/predict');
    expect(get.statusCode).toBe(404);
  });

  it('still serves good requests after all of that', async () => {
    const { status, body } = await postJson(app(), '/predict', { model: 'iris', features: setosa });
    expect(status).toBe(200);
    expect(body.label).toBe('setosa');
  });
});
