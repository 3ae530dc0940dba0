import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFor, BUNDLED_MODELS, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { newPredictionId } from '../../src/core/monitoring/prediction-id.js';

const iris = JSON.parse(readFileSync(join(BUNDLED_MODELS, 'iris', 'holdout.json'), 'utf8')) as {
  rows: number[][];
  targets: string[];
};
const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const settle = () => new Promise((r) => setTimeout(r, 20)); // monitoring runs just after the answer

describe('model monitoring through the HTTP API', () => {
  const app = appFor({
    DRIFT_WINDOW_ROWS: '200',
    DRIFT_MIN_ROWS: '38',
    PRICE_PER_CPU_HOUR: '0.05',
    CACHE_ENABLED: 'false',
  });

  it('drift gauges: NaN before the minimum window, calm on holdout rows, alarmed on shifted rows', async () => {
    expect(
      sample(await scrape(app()), 'ml_feature_drift_score', { model: 'iris', feature: 'petal_length' }),
    ).toBeUndefined();
    await postJson(app(), '/predict', { model: 'iris', instances: iris.rows.slice(0, 10) });
    await settle();
    expect(sample(await scrape(app()), 'ml_feature_drift_score', { model: 'iris', feature: 'petal_length' })).toBeNaN();

    await postJson(app(), '/predict', { model: 'iris', instances: iris.rows });
    await settle();
    const calm = await scrape(app());
    for (const feature of ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']) {
      expect(sample(calm, 'ml_feature_drift_score', { model: 'iris', feature })).toBeLessThan(0.25);
    }
    // the window (200 rows) fills with setosa-only traffic
    const onlySetosa = iris.rows.filter((_, i) => iris.targets[i] === 'setosa');
    for (let i = 0; i < 20; i++) await postJson(app(), '/predict', { model: 'iris', instances: onlySetosa });
    await settle();
    const shifted = await scrape(app());
    expect(sample(shifted, 'ml_feature_drift_score', { model: 'iris', feature: 'petal_length' })).toBeGreaterThan(0.25);
    expect(sample(shifted, 'ml_class_drift_score', { model: 'iris' })).toBeGreaterThan(0.25);
    expect(sample(shifted, 'ml_predicted_class_total', { model: 'iris', class: 'setosa' })).toBeGreaterThan(200);
    expect(sample(shifted, 'ml_prediction_confidence_count', { model: 'iris' })).toBeGreaterThan(200);
  });

  it('joins feedback by prediction id into accuracy, per row', async () => {
    const one = await postJson(app(), '/predict', {
      model: 'breast_cancer',
      instances: [
        Array(30)
          .fill(0)
          .map(
            (_, i) =>
              [
                14, 19, 92, 655, 0.096, 0.1, 0.09, 0.05, 0.18, 0.063, 0.4, 1.2, 2.9, 40, 0.007, 0.025, 0.032, 0.012,
                0.02, 0.0038, 16, 25.7, 107, 880, 0.13, 0.25, 0.27, 0.11, 0.29, 0.084,
              ][i]!,
          ),
      ],
    });
    expect(one.status).toBe(200);
    const predicted = one.body.predictions[0].label as string;
    const wrong = predicted === 'benign' ? 'malignant' : 'benign';
    const first = await postJson(app(), '/feedback', { id: one.body.id, row: 0, label: predicted });
    expect(first).toMatchObject({ status: 200, body: { correct: true, model: 'breast_cancer' } });

    const two = await postJson(app(), '/predict', { model: 'iris', features: setosa });
    expect((await postJson(app(), '/feedback', { id: two.body.id, label: 'virginica' })).body.correct).toBe(false);
    const three = await postJson(app(), '/predict', {
      model: 'breast_cancer',
      instances: one.body.predictions.map(() =>
        Array(30)
          .fill(0)
          .map(
            (_, i) =>
              [
                14, 19, 92, 655, 0.096, 0.1, 0.09, 0.05, 0.18, 0.063, 0.4, 1.2, 2.9, 40, 0.007, 0.025, 0.032, 0.012,
                0.02, 0.0038, 16, 25.7, 107, 880, 0.13, 0.25, 0.27, 0.11, 0.29, 0.084,
              ][i]!,
          ),
      ),
    });
    await postJson(app(), '/feedback', { id: three.body.id, label: wrong });
    await settle();
    const metrics = await scrape(app());
    expect(sample(metrics, 'ml_model_accuracy', { model: 'breast_cancer' })).toBe(0.5);
    expect(sample(metrics, 'ml_model_accuracy', { model: 'iris' })).toBe(0);
    expect(sample(metrics, 'ml_feedback_total', { model: 'breast_cancer', result: 'correct' })).toBe(1);
  });

  it('tracks mean absolute error for the regressor', async () => {
    const p = await postJson(app(), '/predict', { model: 'diabetes', instances: [Array(10).fill(0)] });
    const predicted = p.body.predictions[0].values[0] as number;
    const answer = await postJson(app(), '/feedback', { id: p.body.id, value: predicted + 10 });
    expect(answer.body.error).toBeCloseTo(10, 3);
    expect(sample(await scrape(app()), 'ml_model_mean_absolute_error', { model: 'diabetes' })).toBeCloseTo(10, 3);
  });

  it('answers unmatched feedback with 404 unknown, 410 expired, 409 duplicate, and counts each', async () => {
    const p = await postJson(app(), '/predict', { model: 'iris', features: setosa });
    await settle();
    expect((await postJson(app(), '/feedback', { id: p.body.id, label: 'setosa' })).status).toBe(200);
    const duplicate = await postJson(app(), '/feedback', { id: p.body.id, label: 'setosa' });
    expect(duplicate).toMatchObject({ status: 409, body: { code: 'DUPLICATE_FEEDBACK' } });
    const unknown = await postJson(app(), '/feedback', { id: newPredictionId(), label: 'setosa' });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'UNKNOWN_PREDICTION' } });
    const expired = await postJson(app(), '/feedback', {
      id: newPredictionId(Date.now() - 2 * 86_400_000),
      label: 'setosa',
    });
    expect(expired).toMatchObject({ status: 410, body: { code: 'PREDICTION_EXPIRED' } });
    const metrics = await scrape(app());
    for (const reason of ['unknown', 'expired', 'duplicate'])
      expect(sample(metrics, 'ml_feedback_unmatched_total', { reason })).toBe(1);
  });

  it.each([
    ['no id', { label: 'setosa' }, 'INVALID_REQUEST'],
    ['both label and value', { id: 'x', label: 'setosa', value: 1 }, 'INVALID_REQUEST'],
    ['an unknown field', { id: 'x', label: 'setosa', note: 'hi' }, 'INVALID_REQUEST'],
  ])('rejects feedback with %s (400)', async (_name, body, code) => {
    const answer = await postJson(app(), '/feedback', body);
    expect(answer).toMatchObject({ status: 400, body: { code } });
  });

  it('rejects a label the model does not have, a value for a classifier and a row that does not exist', async () => {
    const p = await postJson(app(), '/predict', { model: 'iris', features: setosa });
    await settle();
    for (const body of [{ label: 'rose' }, { value: 1 }, { label: 'setosa', row: 3 }]) {
      const answer = await postJson(app(), '/feedback', { id: p.body.id, ...body });
      expect(answer).toMatchObject({ status: 400, body: { code: 'INVALID_FEEDBACK' } });
    }
    expect((await postJson(app(), '/feedback', { id: p.body.id, label: 'setosa' })).status).toBe(200); // none of those used the row up
  });

  it('counts missing, non-finite and out-of-range values, valid and rejected alike', async () => {
    await postJson(app(), '/predict', {
      model: 'iris',
      features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 },
    });
    await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"model":"iris","instances":[[1e999,3,1,1]]}',
    });
    await postJson(app(), '/predict', {
      model: 'iris',
      validation: 'permissive',
      features: { ...setosa, petal_width: 9 },
    });
    const metrics = await scrape(app());
    expect(sample(metrics, 'ml_feature_anomalies_total', { model: 'iris', kind: 'missing' })).toBe(1);
    expect(sample(metrics, 'ml_feature_anomalies_total', { model: 'iris', kind: 'non_finite' })).toBe(1);
    expect(sample(metrics, 'ml_feature_anomalies_total', { model: 'iris', kind: 'out_of_range' })).toBe(1);
  });

  it('prices inference: CPU-seconds and dollars per model', async () => {
    const metrics = await scrape(app());
    const cpu = sample(metrics, 'ml_inference_cpu_seconds_total', { model: 'iris' })!;
    expect(cpu).toBeGreaterThan(0);
    expect(sample(metrics, 'ml_prediction_cost_dollars_total', { model: 'iris' })).toBeCloseTo((cpu / 3600) * 0.05, 12);
  });
});

describe('monitoring and metrics cover the Open Inference Protocol too', () => {
  const app = appFor({ DRIFT_WINDOW_ROWS: '100', DRIFT_MIN_ROWS: '20', CACHE_ENABLED: 'false' });

  const inferIris = async (rows: number[][]) => {
    const response = await app().inject({
      method: 'POST',
      url: '/v2/models/iris/infer',
      payload: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows }] }),
    });
    expect(response.statusCode).toBe(200);
    return response.json();
  };

  it('feeds drift, class counts and confidence from v2 requests, and joins feedback by parameters.prediction_id', async () => {
    const onlySetosa = iris.rows.filter((_, i) => iris.targets[i] === 'setosa');
    for (let i = 0; i < 10; i++) await inferIris(onlySetosa);
    await settle();
    const metrics = await scrape(app());
    expect(sample(metrics, 'ml_feature_drift_score', { model: 'iris', feature: 'petal_length' })).toBeGreaterThan(0.25);
    expect(sample(metrics, 'ml_predicted_class_total', { model: 'iris', class: 'setosa' })).toBeGreaterThanOrEqual(100);
    expect(sample(metrics, 'ml_prediction_rows_total', { model: 'iris' })).toBe(10 * onlySetosa.length);

    const answer = await inferIris([iris.rows[0]!, iris.rows[1]!]);
    await settle();
    const feedback = await postJson(app(), '/feedback', {
      id: answer.parameters.prediction_id,
      row: 1,
      label: iris.targets[1],
    });
    expect(feedback).toMatchObject({ status: 200, body: { model: 'iris', row: 1, correct: true } });
  });

  it('counts v2 predictions by outcome and v2 routes by template, with no series per model name or version in a URL', async () => {
    for (const data of [
      [1, 2, 3, 4],
      [40, 3, 1, 1],
    ]) {
      const refused = await app().inject({
        method: 'POST',
        url: '/v2/models/iris/infer',
        payload: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data }] }),
      });
      expect(refused.statusCode).toBe(400); // out of the feature ranges: counted as invalid input
    }
    for (let i = 0; i < 5; i++) await app().inject(`/v2/models/random-${i}/versions/${i}/ready`);
    const metrics = await scrape(app());
    expect(sample(metrics, 'ml_predictions_total', { model: 'iris', status: 'invalid_input' })).toBe(2);
    expect(
      sample(metrics, 'http_request_duration_seconds_count', { route: '/v2/models/:model/infer', status_code: '200' }),
    ).toBeGreaterThan(10);
    expect(
      sample(metrics, 'http_request_duration_seconds_count', {
        route: '/v2/models/:model/versions/:version/ready',
        status_code: '404',
      }),
    ).toBe(5);
    expect(metrics).not.toMatch(/random-/);
  });
});
