import { beforeAll, describe, expect, it } from 'vitest';
import { appFor, postJson } from '../helpers/app.js';
import {
  ACCURACY_REFERENCE,
  close,
  IRIS_SPLIT,
  keyFor,
  label,
  predictThrough,
  ROW,
  splitConfig,
} from '../helpers/experiments.js';
import { sample, scrape } from '../helpers/metrics.js';
import { run } from '../monitoring/monitoring-files.js';
import { bundled, fixture, TempRepository } from '../helpers/repository.js';
import { experimentSchema } from '../../src/protocols/experiments/schemas.js';

describe('experiment results on a real app: a split serving real requests, feedback joined by prediction id', () => {
  const repo = new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), IRIS_SPLIT)
    .addOnnx('iris', '2', fixture('iris_like.onnx'))
    .addOnnx(
      'diabetes',
      '1',
      bundled('diabetes'),
      splitConfig('diabetes', [
        { name: 'control', version: 1, weight: 50 },
        { name: 'candidate', version: 2, weight: 50 },
      ]),
    )
    .addOnnx('diabetes', '2', bundled('diabetes'))
    .addOnnx('plain', '1', bundled('iris'));
  const app = appFor({ CACHE_ENABLED: 'false' }, repo);
  beforeAll(async () => {
    // iris: one request of 100 rows to each variant; the control gets 80 right, the candidate 90.
    const stable = await predictThrough(app(), 'iris', keyFor(app(), 'iris', 'stable'), ROW, 100);
    const canary = await predictThrough(app(), 'iris', keyFor(app(), 'iris', 'canary'), ROW, 100);
    expect([stable.variant, stable.predictions[0]]).toEqual(['stable', expect.objectContaining({ label: 'setosa' })]);
    expect([canary.variant, canary.predictions[0]]).toEqual([
      'canary',
      expect.objectContaining({ label: 'virginica' }),
    ]);
    await label(app(), stable.id, 0, 100, (row) => (row < 80 ? 'setosa' : 'versicolor'));
    await label(app(), canary.id, 0, 100, (row) => (row < 90 ? 'virginica' : 'setosa'));
    // and one refused input through the split, and one request that names a version (no variant: not counted)
    const refused = await postJson(
      app(),
      '/predict',
      { model: 'iris', instances: [[9, 3.5, 1.4, 0.2]] },
      { 'x-routing-key': keyFor(app(), 'iris', 'stable') },
    );
    expect(refused.status).toBe(400);
    expect(
      (await postJson(app(), '/predict', { model: 'iris', version: 1, instances: [ROW] })).body.variant,
    ).toBeUndefined();
  });

  it('answers accuracy with Wilson intervals and the z-test against the control, as computed by hand and by scipy', async () => {
    const response = await app().inject('/experiments/iris');
    expect(response.statusCode).toBe(200);
    const body = experimentSchema.parse(response.json());
    expect(body).toMatchObject({
      model: 'iris',
      task: 'classification',
      metric: 'accuracy',
      control: 'stable',
      scope: 'pod',
    });
    expect(body.scope_detail).toContain('REDIS_URL is not set');
    expect(body.method).toContain('No peeking correction');
    const [stable, canary, next] = body.variants;

    expect(stable).toMatchObject({
      name: 'stable',
      version: '1',
      weight: 50,
      role: 'control',
      ready: true,
      requests: 2,
      by_status: { success: 1, invalid_input: 1, error: 0 },
      errors: 0,
      error_rate: 0,
    });
    expect(stable!.latency_seconds.samples).toBe(1);
    expect(stable!.latency_seconds.p50).toBeGreaterThan(0);
    expect(stable!.latency_seconds.p99).toBe(stable!.latency_seconds.p50);
    expect(stable!.accuracy).toMatchObject({ value: 0.8, n: 100, correct: 80, trustworthy: true, reasons: [] });
    close(stable!.accuracy!.ci95.lower, ACCURACY_REFERENCE.control.lower);
    close(stable!.accuracy!.ci95.upper, ACCURACY_REFERENCE.control.upper);
    expect(stable!.versus_control).toBeUndefined();

    expect(canary).toMatchObject({ name: 'canary', version: '2', role: 'candidate', requests: 1, errors: 0 });
    expect(canary!.accuracy).toMatchObject({ value: 0.9, n: 100, correct: 90, trustworthy: true });
    close(canary!.accuracy!.ci95.lower, ACCURACY_REFERENCE.candidate.lower);
    close(canary!.accuracy!.ci95.upper, ACCURACY_REFERENCE.candidate.upper);
    const versus = canary!.versus_control!;
    expect(versus).toMatchObject({ control: 'stable', test: 'two-proportion z-test', trustworthy: true, reasons: [] });
    close(versus.difference, 0.1);
    close(versus.ci95.lower, ACCURACY_REFERENCE.difference.lower);
    close(versus.ci95.upper, ACCURACY_REFERENCE.difference.upper);
    close(versus.statistic, ACCURACY_REFERENCE.z);
    close(versus.p_value, ACCURACY_REFERENCE.p);
    expect(versus.degrees_of_freedom).toBeUndefined();
    expect(versus.samples_needed).toEqual({ per_variant: 199, control_more: 99, candidate_more: 99 });

    // declared but never served: there, with nothing computable and saying why
    expect(next).toMatchObject({
      name: 'next',
      version: '3',
      weight: 10,
      ready: false,
      requests: 0,
      error_rate: null,
      latency_seconds: { p50: null, p95: null, p99: null, samples: 0 },
    });
    expect(next!.accuracy).toMatchObject({ value: null, n: 0, trustworthy: false });
    expect(next!.versus_control).toMatchObject({
      p_value: null,
      statistic: null,
      samples_needed: { per_variant: null },
      trustworthy: false,
    });
    expect(next!.versus_control!.reasons).toContain('next: 0 samples, fewer than 30');
  });

  it("answers MAE with t intervals and Welch's t-test for a regressor fed fixed errors", async () => {
    // |errors|: control 2, 4, 6, 8, 10 six times (mean 6, s² = 240/29), candidate 1..6 five times
    // (mean 3.5, s² = 87.5/29);
    // Welch by hand: se = √(240/29/30 + 87.5/29/30) = 0.613545…, t = −2.5/se = −4.07468…,
    // ν = se⁴ / ((240/29/30)²/29 + (87.5/29/30)²/29) = 47.6649…; p and the interval from scipy's
    // ttest_ind(equal_var=False).
    const controlErrors = Array.from({ length: 30 }, (_, i) => [2, 4, 6, 8, 10][i % 5]!);
    const candidateErrors = Array.from({ length: 30 }, (_, i) => [1, 2, 3, 4, 5, 6][i % 6]!);
    for (const [variant, errors] of [
      ['control', controlErrors],
      ['candidate', candidateErrors],
    ] as const) {
      const answer = await predictThrough(app(), 'diabetes', keyFor(app(), 'diabetes', variant), Array(10).fill(0), 30);
      expect(answer.variant).toBe(variant);
      const predicted = (answer.predictions[0] as { values: number[] }).values[0]!;
      await label(app(), answer.id, 0, 30, (row) => ({
        value: predicted + (row % 2 === 0 ? errors[row]! : -errors[row]!),
      })); // either sign: |error| counts
    }
    const body = experimentSchema.parse((await app().inject('/experiments/diabetes')).json());
    expect(body).toMatchObject({ task: 'regression', metric: 'mean_absolute_error', control: 'control' });
    const [control, candidate] = body.variants;
    expect(control!.mean_absolute_error).toMatchObject({ n: 30, trustworthy: true });
    close(control!.mean_absolute_error!.value, 6);
    close(control!.mean_absolute_error!.standard_deviation, 2.876779808912305);
    close(control!.mean_absolute_error!.ci95.lower, 4.9257927652503515);
    close(control!.mean_absolute_error!.ci95.upper, 7.0742072347496485);
    close(candidate!.mean_absolute_error!.value, 3.5);
    close(candidate!.mean_absolute_error!.ci95.lower, 2.85138576074002);
    close(candidate!.mean_absolute_error!.ci95.upper, 4.14861423925998);
    const versus = candidate!.versus_control!;
    expect(versus).toMatchObject({ test: "Welch's t-test", trustworthy: true });
    close(versus.difference, -2.5);
    close(versus.statistic, -4.074684458349444);
    close(versus.degrees_of_freedom!, 47.664878843022706);
    close(versus.p_value, 0.00017329907870218566);
    close(versus.ci95.lower, -3.733837884605504);
    close(versus.ci95.upper, -1.266162115394496);
    // (1.95996 + 0.84162)² · (240/29 + 87.5/29) / 2.5² = 14.18 → 15: both already have more
    expect(versus.samples_needed).toEqual({ per_variant: 15, control_more: 0, candidate_more: 0 });
  });

  it('exports the same per-variant numbers as metrics, for declared variants only', async () => {
    const text = await scrape(app());
    const iris = (variant: string) => ({ model: 'iris', variant });
    expect(sample(text, 'ml_variant_requests_total', { ...iris('stable'), status: 'success' })).toBe(1);
    expect(sample(text, 'ml_variant_requests_total', { ...iris('stable'), status: 'invalid_input' })).toBe(1);
    expect(sample(text, 'ml_variant_requests_total', { ...iris('canary'), status: 'success' })).toBe(1);
    expect(sample(text, 'ml_variant_requests_total', { ...iris('next'), status: 'success' })).toBe(0);
    expect(sample(text, 'ml_variant_latency_seconds_count', iris('stable'))).toBe(1);
    expect(sample(text, 'ml_variant_feedback_total', { ...iris('stable'), result: 'correct' })).toBe(80);
    expect(sample(text, 'ml_variant_feedback_total', { ...iris('stable'), result: 'incorrect' })).toBe(20);
    expect(sample(text, 'ml_variant_feedback_total', { ...iris('canary'), result: 'correct' })).toBe(90);
    expect(sample(text, 'ml_variant_info', { ...iris('canary'), version: '2', role: 'candidate' })).toBe(1);
    expect(sample(text, 'ml_variant_info', { ...iris('stable'), version: '1', role: 'control' })).toBe(1);
    expect(sample(text, 'ml_variant_weight', iris('next'))).toBe(10);
    close(sample(text, 'ml_experiment_p_value', iris('canary'))!, ACCURACY_REFERENCE.p);
    expect(sample(text, 'ml_experiment_p_value', iris('next'))).toBeNaN();
    expect(sample(text, 'ml_experiment_p_value', iris('stable'))).toBeUndefined(); // the control is not tested against itself
    expect(sample(text, 'ml_experiment_samples_needed', iris('canary'))).toBe(199);
    // the regressor
    expect(sample(text, 'ml_variant_absolute_error_count', { model: 'diabetes', variant: 'control' })).toBe(30);
    close(sample(text, 'ml_variant_absolute_error_sum', { model: 'diabetes', variant: 'candidate' })!, 105);
    expect(sample(text, 'ml_variant_feedback_total', { model: 'diabetes' })).toBeUndefined();
    close(sample(text, 'ml_experiment_p_value', { model: 'diabetes', variant: 'candidate' })!, 0.00017329907870218566);
    // no series for a model without a split
    expect(text).not.toMatch(/ml_variant_\w+\{[^}]*model="plain"/);
    // and promtool finds nothing to say about these metrics (scrape-lint.test.ts checks the rest of the scrape)
    const lint = await run('promtool', ['check', 'metrics'], { stdin: text });
    expect([0, 3]).toContain(lint.code);
    expect((lint.stdout + lint.stderr).split('\n').filter((l) => /ml_(variant|experiment)_/.test(l))).toEqual([]);
  });

  it('lists every experiment, and answers 404 for an unknown model or one without a split', async () => {
    const list = (await app().inject('/experiments')).json<{ experiments: { model: string }[] }>();
    expect(list.experiments.map((e) => e.model).sort()).toEqual(['diabetes', 'iris']);
    list.experiments.forEach((e) => experimentSchema.parse(e));
    const plain = await app().inject('/experiments/plain');
    expect(plain.statusCode).toBe(404);
    expect(plain.json()).toMatchObject({
      code: 'NO_TRAFFIC_SPLIT',
      error: 'the model has no traffic split',
      details: [{ path: 'model' }],
    });
    const unknown = await app().inject('/experiments/nope');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({
      code: 'MODEL_NOT_FOUND',
      details: [{ path: 'model', message: expect.stringContaining('iris') }],
    });
  });
});
