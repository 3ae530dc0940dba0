import { describe, expect, it } from 'vitest';
import { appFor, postJson } from '../helpers/app.js';
import { sample } from '../helpers/metrics.js';

const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

/** Series of our own metrics; nodejs_gc_* gains a series the first time a new GC kind runs. */
const seriesCount = (text: string) =>
  text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('nodejs_')).length;

describe('health, readiness, models and metrics', () => {
  const app = appFor({});

  it('GET /health is 200 and /ready lists every bundled model as ready', async () => {
    expect((await app().inject('/health')).statusCode).toBe(200);
    const ready = await app().inject('/ready');
    expect(ready.statusCode).toBe(200);
    const models = ready.json().models.map((m: { name: string; state: string }) => `${m.name}:${m.state}`);
    expect(models).toEqual(
      expect.arrayContaining(['iris:ready', 'breast_cancer:ready', 'diabetes:ready', 'digits:ready']),
    );
  });

  it('GET /models gives features, labels and the model card', async () => {
    const { models } = (await app().inject('/models')).json();
    const iris = models.find((m: { name: string }) => m.name === 'iris');
    expect(iris.versions[0].labels).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(iris.versions[0].features.map((f: { name: string }) => f.name)).toEqual([
      'sepal_length',
      'sepal_width',
      'petal_length',
      'petal_width',
    ]);
    expect(iris.versions[0].card.sha256).toBe(iris.versions[0].sha256);
  });

  it('counts predictions by model, version and status, with sub-millisecond buckets', async () => {
    await postJson(app(), '/predict', { model: 'iris', features: setosa });
    await postJson(app(), '/predict', { model: 'iris', features: { ...setosa, sepal_length: 'x' } });
    const text = (await app().inject('/metrics')).body;
    expect(
      sample(text, 'ml_predictions_total', { model: 'iris', version: '1', status: 'success' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'ml_predictions_total', { model: 'iris', version: '1', status: 'invalid_input' }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('ml_prediction_duration_seconds_bucket{le="0.0005",model="iris",version="1"}');
    expect(
      sample(text, 'http_request_duration_seconds_count', { route: '/predict', status_code: '400' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'http_request_errors_total', { status_class: '4xx', code: 'INVALID_INPUT' }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('ml_model_state{model="iris",version="1",state="ready"} 1');
  });

  it('keeps label sets bounded: unknown models and random URLs add no series', async () => {
    await postJson(app(), '/predict', { model: 'nope-0', instances: [[1]] });
    await app().inject('/random-0');
    await app().inject('/metrics'); // the scrape's own series exist from the first scrape on
    const before = seriesCount((await app().inject('/metrics')).body);
    for (let i = 1; i <= 25; i++) {
      await postJson(app(), '/predict', { model: `nope-${i}`, instances: [[1]] });
      await app().inject(`/random-${i}?q=${i}`);
    }
    const text = (await app().inject('/metrics')).body;
    expect(text).not.toContain('nope-');
    expect(text).not.toContain('random-');
    expect(seriesCount(text)).toBe(before);
  });

  it('logs one JSON line per request with the client request id, never the input', async () => {
    app().logs.lines.length = 0;
    const response = await postJson(
      app(),
      '/predict',
      { model: 'iris', features: { ...setosa, sepal_width: 3.456789 } },
      { 'x-request-id': 'client-abc-123' },
    );
    expect(response.headers['x-request-id']).toBe('client-abc-123');
    const lines = app().logs.lines.filter((l) => l.reqId === 'client-abc-123');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ route: '/predict', status: 200, method: 'POST' });
    expect(JSON.stringify(app().logs.lines)).not.toContain('3.456789');
  });

  it('replaces a request id that is not a sane token', async () => {
    const response = await app().inject({ url: '/health', headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
