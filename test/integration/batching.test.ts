import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { appFor, appsPerTest, BUNDLED_MODELS, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { TempRepository, fixture } from '../helpers/repository.js';

const MODELS = ['iris', 'breast_cancer', 'diabetes', 'digits'];
const holdout = (name: string) =>
  (JSON.parse(readFileSync(join(BUNDLED_MODELS, name, 'holdout.json'), 'utf8')) as { rows: number[][] }).rows;

/** Each row alone: one request at a time, so nothing can be merged. */
async function oneAtATime(app: FastifyInstance, model: string, rows: number[][]) {
  const answers = [];
  for (const row of rows) answers.push(await postJson(app, '/predict', { model, instances: [row] }));
  expect(answers.every((a) => a.status === 200)).toBe(true);
  return answers.map((a) => a.body.predictions[0]);
}

/** One request per row, all in flight at once, so the batcher has rows to merge. */
async function rowByRow(app: FastifyInstance, model: string, rows: number[][]) {
  const answers = await Promise.all(rows.map((row) => postJson(app, '/predict', { model, instances: [row] })));
  expect(answers.every((a) => a.status === 200)).toBe(true);
  return answers.map((a) => a.body.predictions[0]);
}

describe('dynamic batching', () => {
  // One worker: requests arriving while it is busy are merged.
  const app = appFor({ CACHE_ENABLED: 'false' });

  it.each(MODELS)('%s: merged requests answer exactly what each row answers alone', async (model) => {
    const rows = holdout(model).slice(0, 96);
    const alone = await oneAtATime(app(), model, rows);
    const before = await scrape(app());
    expect(sample(before, 'ml_batch_size_rows_sum', { model })).toBe(
      sample(before, 'ml_batch_size_rows_count', { model }),
    ); // one row per run

    const merged = await rowByRow(app(), model, rows);
    expect(merged).toEqual(alone);
    const after = await scrape(app());
    const runs =
      sample(after, 'ml_batch_size_rows_count', { model })! - sample(before, 'ml_batch_size_rows_count', { model })!;
    expect(runs).toBeLessThan(rows.length / 2); // the requests really were merged
  });

  it('exports queue wait, queue depth and in-flight gauges per model', async () => {
    const metrics = await scrape(app());
    expect(sample(metrics, 'ml_queue_wait_seconds_count', { model: 'iris' })).toBeGreaterThan(0);
    expect(sample(metrics, 'ml_queue_depth_rows', { model: 'iris' })).toBe(0);
    expect(sample(metrics, 'ml_inflight_batches', { model: 'iris' })).toBe(0);
  });
});

describe('overload and deadlines over HTTP', () => {
  const repo = new TempRepository().addOnnx('heavy', '1', fixture('heavy.onnx'), {
    batching: { max_queue_size: 8, max_batch_size: 4 },
  });
  const row = (seed: number) => Array.from({ length: 1024 }, (_, i) => Math.sin(i * seed));
  const app = appFor({ CACHE_ENABLED: 'false' }, repo);

  it('answers 503 QUEUE_FULL with Retry-After at once when the queue is full; the rest still succeed', async () => {
    const requests = Array.from({ length: 16 }, (_, i) =>
      postJson(app(), '/predict', { model: 'heavy', instances: [row(i + 1), row(i + 100)] }),
    );
    const answers = await Promise.all(requests);
    const full = answers.filter((a) => a.status === 503);
    expect(full.length).toBeGreaterThan(0);
    expect(full[0]!.body.code).toBe('QUEUE_FULL');
    expect(full[0]!.headers['retry-after']).toBe('1');
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
  });

  it('answers 504 DEADLINE_EXCEEDED for a request whose timeout_ms passes while it waits', async () => {
    const busy = postJson(app(), '/predict', { model: 'heavy', instances: [row(1), row(2), row(3), row(4)] });
    const late = await postJson(app(), '/predict', { model: 'heavy', instances: [row(5)], timeout_ms: 1 });
    expect(late.status).toBe(504);
    expect(late.body.code).toBe('DEADLINE_EXCEEDED');
    // the Open Inference Protocol takes Triton's parameters.timeout, in microseconds
    const oip = await postJson(app(), '/v2/models/heavy/infer', {
      parameters: { timeout: 1000 },
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1024], data: row(6) }],
    });
    expect(oip.status).toBe(504);
    expect(oip.body.code).toBe('DEADLINE_EXCEEDED');
    expect((await busy).status).toBe(200);
  });
});

describe('tiny models move to the main thread once measured', () => {
  const app = appFor({ CACHE_ENABLED: 'false', INLINE_MAX_ROW_MICROS: '10000' });
  const start = appsPerTest();

  it('answers the same before and after the move, and /models says where each model runs', async () => {
    const rows = holdout('iris');
    const placement = async () =>
      (await app().inject('/models')).json().models.find((m: { name: string }) => m.name === 'iris').versions[0]
        .runs_on as string;
    expect(await placement()).toBe('workers');
    const before = await oneAtATime(app(), 'iris', rows.slice(0, 25)); // 25 measured runs on the workers
    await new Promise((r) => setTimeout(r, 100)); // the main-thread session loads in the background
    expect(await placement()).toBe('main-thread');
    const after = await oneAtATime(app(), 'iris', rows.slice(0, 25));
    expect(after).toEqual(before);
  });

  it('keeps heavy models on the workers', async () => {
    const repo = new TempRepository().addOnnx('heavy', '1', fixture('heavy.onnx'));
    const heavyApp = await start({ CACHE_ENABLED: 'false' }, {}, repo); // default threshold: 50 µs per row
    const row = Array.from({ length: 1024 }, (_, i) => Math.sin(i));
    for (let i = 0; i < 22; i++)
      await postJson(heavyApp, '/predict', { model: 'heavy', instances: [row.map((v) => v + i)] });
    const { models } = (await heavyApp.inject('/models')).json();
    expect(models[0].versions[0].runs_on).toBe('workers');
  });
});
