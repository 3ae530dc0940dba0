import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { appFor, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { buildRequest } from '../helpers/oip-client.js';
import { bundled, fixture, FIXTURE_MODELS, TempRepository } from '../helpers/repository.js';

const SETOSA = [5.1, 3.5, 1.4, 0.2]; // version 1 (iris) answers setosa, version 2 (iris_like.onnx) virginica
const VIRGINICA = [6.7, 3.0, 5.2, 2.3]; // both answer virginica
const FEATURES = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const STATEFUL = `${FIXTURE_MODELS}stateful/1/model.onnx`;

/**
 * A model.json read from disk without its card (the versions here are other files), with a
 * one-variant split and these shadows.
 */
function configOf(path: string, shadows?: { name: string; version: number; fraction: number }[]) {
  const config = JSON.parse(readFileSync(path, 'utf8'));
  delete config.card;
  config.traffic = { variants: [{ name: 'stable', version: 1, weight: 100 }], ...(shadows ? { shadows } : {}) };
  return config;
}
const IRIS_SHADOWS = [
  { name: 'candidate', version: 2, fraction: 1 }, // another model: disagrees on SETOSA
  { name: 'copy', version: 3, fraction: 1 }, // the same file: always agrees
  { name: 'broken', version: 4, fraction: 1 }, // a file that fails to load
];

/**
 * iris (a classifier), diabetes (a regressor) and stateful (a raw model of three inputs), each with
 * versions to shadow to, or not.
 */
function repository(withShadows: boolean): TempRepository {
  const iris = configOf(
    new URL('../../models/iris/model.json', import.meta.url).pathname,
    withShadows ? IRIS_SHADOWS : undefined,
  );
  const diabetes = configOf(
    new URL('../../models/diabetes/model.json', import.meta.url).pathname,
    withShadows ? [{ name: 'copy', version: 2, fraction: 1 }] : undefined,
  );
  const stateful = {
    traffic: {
      variants: [{ name: 'stable', version: 1, weight: 1 }],
      ...(withShadows ? { shadows: [{ name: 'copy', version: 2, fraction: 1 }] } : {}),
    },
  };
  return new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), iris)
    .addOnnx('iris', '2', fixture('iris_like.onnx'))
    .addOnnx('iris', '3', bundled('iris'))
    .addBytes('iris', '4', 'not an ONNX file')
    .addOnnx('diabetes', '1', bundled('diabetes'), diabetes)
    .addOnnx('diabetes', '2', bundled('diabetes'))
    .addOnnx('stateful', '1', STATEFUL, stateful)
    .addOnnx('stateful', '2', STATEFUL);
}

/**
 * The requests both apps get, in order: /predict JSON (one row, several rows), raw binary, OIP JSON
 * and binary, a raw model.
 */
function requests(): InjectOptions[] {
  const json = (url: string, body: unknown, headers: Record<string, string> = {}): InjectOptions => ({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const oipBinary = buildRequest(
    [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: [...SETOSA, ...VIRGINICA] }],
    { outputs: [{ name: 'probabilities', binary: true }], id: 'r-1' },
  );
  const diabetesRow = Array.from({ length: 10 }, () => 0.01);
  return [
    json('/predict', { model: 'iris', features: FEATURES }, { 'x-routing-key': 'user-7' }),
    json('/predict', { model: 'iris', instances: [SETOSA, VIRGINICA, SETOSA] }),
    json('/predict', { model: 'iris', features: FEATURES }), // a cache hit in both apps: mirrored all the same
    {
      method: 'POST',
      url: '/predict?model=iris&dtype=float32&shape=1,4',
      payload: Buffer.from(new Float32Array(SETOSA).buffer),
      headers: { 'content-type': 'application/octet-stream' },
    },
    json('/v2/models/iris/infer', {
      id: 'r-0',
      inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [...VIRGINICA, ...SETOSA] }],
    }),
    {
      method: 'POST',
      url: '/v2/models/iris/infer',
      payload: oipBinary.body,
      headers: { 'inference-header-content-length': String(oipBinary.headerLength) },
    },
    json('/predict', { model: 'diabetes', instances: [diabetesRow, diabetesRow] }),
    json('/v2/models/stateful/infer', {
      inputs: [
        { name: 'audio', shape: [1, 3], datatype: 'FP32', data: [0.1, -0.2, 0.3] },
        { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
        { name: 'state', shape: [2, 1, 4], datatype: 'FP32', data: [0, 0, 0, 0, 0, 0, 0, 0] },
      ],
    }),
  ];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** An answer as bytes, with its prediction id (a fresh UUIDv7 per answer, of fixed length) blanked. */
async function answer(app: FastifyInstance, request: InjectOptions) {
  const response = await app.inject(request);
  return {
    status: response.statusCode,
    type: response.headers['content-type'],
    headerLength: response.headers['inference-header-content-length'],
    bytes: response.rawPayload.toString('latin1').replace(UUID, '<id>'),
  };
}

/**
 * The scrape once every shadow launched so far has settled: launches wait for the next turn of the
 * event loop, then run through the batcher's background lane, whose idleness drained() reports.
 */
async function settled(app: FastifyInstance): Promise<string> {
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  await turn();
  await app.dataPlane.drained();
  await turn();
  return scrape(app);
}

const OUTCOMES = ['agree', 'disagree', 'compared', 'failed', 'shed'];
const outcomesOf = (text: string, model: string, shadow: string) =>
  Object.fromEntries(OUTCOMES.map((o) => [o, sample(text, 'ml_shadow_requests_total', { model, shadow, outcome: o })]));

describe('shadow traffic: mirrored off the hot path, compared with the answer (real sessions)', () => {
  const withRepo = repository(true);
  const withoutRepo = repository(false);
  // Copies of inputs for every request: a bound this test never reaches, so no shadow is shed.
  const shadowed = appFor({ SHADOW_MAX_INFLIGHT: '100', LOG_LEVEL: 'debug' }, withRepo);
  const plain = appFor({}, withoutRepo);
  const answers: { shadowed: unknown[]; plain: unknown[] } = { shadowed: [], plain: [] };

  beforeAll(async () => {
    for (const request of requests()) {
      answers.shadowed.push(await answer(shadowed(), request));
      answers.plain.push(await answer(plain(), request));
    }
  });

  it('answers byte for byte as without shadows (prediction ids aside), on /predict and OIP, JSON and binary', () => {
    expect(answers.shadowed.map((a) => (a as { status: number }).status)).toEqual(requests().map(() => 200));
    expect(answers.shadowed).toEqual(answers.plain);
  });

  it('counts each mirrored row: the other model disagrees on setosa, the copy agrees, the broken version failed', async () => {
    // iris rows mirrored: 1 + 3 + 1 + 1 + 2 + 2 = 10, of which SETOSA 7 and VIRGINICA 3.
    const text = await settled(shadowed());
    expect(outcomesOf(text, 'iris', 'candidate')).toEqual({ agree: 3, disagree: 7, compared: 0, failed: 0, shed: 0 });
    expect(outcomesOf(text, 'iris', 'copy')).toEqual({ agree: 10, disagree: 0, compared: 0, failed: 0, shed: 0 });
    expect(outcomesOf(text, 'iris', 'broken')).toEqual({ agree: 0, disagree: 0, compared: 0, failed: 10, shed: 0 });
    expect(sample(text, 'ml_shadow_latency_seconds_count', { model: 'iris', shadow: 'copy' })).toBe(6); // one per mirrored request that ran
    expect(sample(text, 'ml_shadow_latency_seconds_count', { model: 'iris', shadow: 'broken' }) ?? 0).toBe(0);
  });

  it("records a regressor's |shadow - primary| per row (0 for a copy), and counts a raw model's rows as compared", async () => {
    const text = await settled(shadowed());
    expect(outcomesOf(text, 'diabetes', 'copy')).toEqual({ agree: 0, disagree: 0, compared: 2, failed: 0, shed: 0 });
    expect(sample(text, 'ml_shadow_abs_difference_count', { model: 'diabetes', shadow: 'copy' })).toBe(2);
    expect(sample(text, 'ml_shadow_abs_difference_sum', { model: 'diabetes', shadow: 'copy' })).toBe(0);
    expect(sample(text, 'ml_shadow_abs_difference_bucket', { model: 'diabetes', shadow: 'copy', le: '0.000001' })).toBe(
      2,
    );
    expect(outcomesOf(text, 'stateful', 'copy')).toEqual({ agree: 0, disagree: 0, compared: 1, failed: 0, shed: 0 });
  });

  it('logs a failing shadow at debug per request and warns once, never as an error', async () => {
    await settled(shadowed());
    const about = shadowed().logs.lines.filter((l) => l.shadow === 'broken');
    expect(about.filter((l) => l.level === 20)).toHaveLength(6); // one per mirrored request
    expect(about.filter((l) => l.level === 40)).toHaveLength(1);
    expect(about.filter((l) => (l.level as number) > 40)).toHaveLength(0);
  });

  it("neither caches a shadow's outputs, nor records them as predictions or for feedback", async () => {
    const text = await settled(shadowed());
    expect(sample(text, 'ml_predictions_total', { model: 'iris', version: '2' })).toBeUndefined();
    expect(sample(text, 'ml_predicted_class_total', { model: 'iris', version: '2' })).toBeUndefined();
    // Version 2 ran SETOSA as a shadow many times; named by a client, it is computed, not cached.
    const named = await postJson(shadowed(), '/predict', { model: 'iris', version: 2, features: FEATURES });
    expect([named.body.cached, named.body.label]).toEqual([false, 'virginica']);
    // Feedback joins the client's answer (version 1, setosa) and counts for it.
    const served = await postJson(shadowed(), '/predict', {
      model: 'iris',
      features: { ...FEATURES, sepal_length: 5.0 },
    });
    const feedback = await postJson(shadowed(), '/feedback', { id: served.body.id, label: 'setosa' });
    expect([feedback.status, feedback.body.correct]).toEqual([200, true]);
    const after = await scrape(shadowed());
    expect(sample(after, 'ml_feedback_total', { model: 'iris', version: '1', result: 'correct' })).toBe(1);
    expect(sample(after, 'ml_feedback_total', { model: 'iris', version: '2' })).toBeUndefined();
  });

  it('lists each shadow on /models with its fraction and whether its version can take mirrored requests', async () => {
    const iris = (await shadowed().inject('/models')).json().models.find((m: { name: string }) => m.name === 'iris');
    expect(
      iris.traffic.shadows.map((s: { name: string; version: string; fraction: number; ready: boolean }) => [
        s.name,
        s.version,
        s.fraction,
        s.ready,
      ]),
    ).toEqual([
      ['candidate', '2', 1, true],
      ['copy', '3', 1, true],
      ['broken', '4', 1, false],
    ]);
    expect(iris.traffic.shadows[2].reason).toMatch(/^version 4 failed to load/);
    const plainIris = (await plain().inject('/models')).json().models.find((m: { name: string }) => m.name === 'iris');
    expect(plainIris.traffic).not.toHaveProperty('shadows');
  });

  it('does not mirror a request that names its version', async () => {
    const mirrored = async () =>
      Object.values(outcomesOf(await settled(shadowed()), 'iris', 'copy')).reduce((sum, n) => sum! + n!, 0);
    const before = await mirrored();
    await postJson(shadowed(), '/predict', { model: 'iris', version: 1, features: FEATURES });
    expect(await mirrored()).toBe(before);
    await postJson(shadowed(), '/predict', { model: 'iris', features: FEATURES });
    expect(await mirrored()).toBe(before! + 1);
  });
});
