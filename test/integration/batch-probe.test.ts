import { describe, expect, it } from 'vitest';
import { appFor, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { TempRepository, fixture } from '../helpers/repository.js';

/**
 * Models as converters export them, dropped into a repository with no model.json: Paddle2ONNX and tf2onnx
 * name each dynamic dim differently, so no name says which is the batch. The server proves dim 0 at load
 * (core/loading/batch-probe.ts), or refuses it for a model that mixes its rows; model.json's batching.axes
 * is checked the same way.
 */
const repo = new TempRepository()
  .addOnnx('p2o_classifier', '1', fixture('p2o_classifier.onnx'))
  .addOnnx('tf_dense', '1', fixture('tf_dense.onnx'))
  .addOnnx('row_mixer', '1', fixture('row_mixer.onnx'))
  .addOnnx('dense_axes', '1', fixture('tf_dense.onnx'), { batching: { axes: { dense_input: 0, probabilities: 0 } } })
  .addOnnx('mixer_axes', '1', fixture('row_mixer.onnx'), { batching: { axes: { x: 0, y: 0 } } })
  .addOnnx('unknown_axes', '1', fixture('tf_dense.onnx'), { batching: { axes: { input: 0, probabilities: 0 } } });

const app = appFor({ CACHE_ENABLED: 'false', BATCH_MAX_DELAY_MS: '2', INFERENCE_WORKERS: '1' }, repo);
/** The same repository with every body over 400 bytes decoded on a decode worker, which gets the probed plan. */
const offloading = appFor({ CACHE_ENABLED: 'false', JSON_OFFLOAD_BYTES: '400', INFERENCE_WORKERS: '1' }, repo);

const version = async (name: string) =>
  (await app().inject('/models')).json().models.find((m: { name: string }) => m.name === name).versions[0];

/** Deterministic values in [0, 1), different for every seed. */
const values = (seed: number, length: number) =>
  Array.from({ length }, (_, i) => Math.abs(Math.sin((seed + 1) * 12.9898 + i * 78.233)) % 1);

describe('batch dims proven at load where the file does not name them', () => {
  it('says in /models how each version’s batch dim was established, and why', async () => {
    expect((await version('p2o_classifier')).batching).toEqual({
      source: 'probed',
      dim: 'batch',
      axes: { inputs: { x: 0 }, outputs: { probabilities: 0 } },
      max_batch_size: expect.any(Number),
      reason: expect.stringMatching(/^two distinct rows run together gave each row's answer alone/),
    });
    expect((await version('tf_dense')).batching.source).toBe('probed');
    expect(await version('row_mixer')).toMatchObject({
      state: 'ready',
      predict: expect.stringMatching(/^not by \/predict: input "x" has no batch dim first/),
      batching: {
        source: 'none',
        reason: expect.stringMatching(
          /but row 0's "y" run beside another row differs from it run alone .*the model mixes rows; each request runs alone$/,
        ),
      },
    });
    expect((await version('dense_axes')).batching).toMatchObject({
      source: 'configured',
      reason: expect.stringMatching(/^batching.axes in model.json, confirmed: two distinct rows/),
    });
  });

  it('fails a version whose batching.axes the file or the probe contradicts, with why', async () => {
    expect(await version('mixer_axes')).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(
        /^model.json batching.axes does not hold: row 0's "y" run beside another row differs/,
      ),
    });
    expect(await version('unknown_axes')).toMatchObject({
      state: 'failed',
      reason:
        'model.json batching.axes: "input" is neither an input (dense_input) nor an output (probabilities) of the model',
    });
  });

  it('serves /predict rows to the Paddle2ONNX image classifier, each row answered as the same image alone over OIP', async () => {
    const image = (seed: number) => [0, 1, 2].map((c) => [0, 1, 2, 3].map((y) => values(seed * 100 + c * 10 + y, 5)));
    const body = { model: 'p2o_classifier', instances: [image(1), image(2)] };
    const predicted = await postJson(app(), '/predict', body);
    expect(predicted.status).toBe(200);
    expect(predicted.body.predictions).toHaveLength(2);
    expect(JSON.stringify(body).length).toBeGreaterThan(400);
    expect((await postJson(offloading(), '/predict', body)).body.predictions).toEqual(predicted.body.predictions);
    for (const [i, seed] of [1, 2].entries()) {
      const alone = await postJson(app(), '/v2/models/p2o_classifier/infer', {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 4, 5], data: image(seed).flat(2) }],
      });
      const probabilities = alone.body.outputs[0].data as number[];
      const row = predicted.body.predictions[i].outputs.probabilities as number[];
      expect(row).toHaveLength(2);
      row.forEach((p, k) => expect(Math.abs(p - probabilities[k]!)).toBeLessThanOrEqual(1e-6));
    }
  });

  const runs = async (model: string) => {
    const text = await scrape(app());
    return {
      runs: sample(text, 'ml_batch_size_requests_count', { model }) ?? 0,
      requests: sample(text, 'ml_batch_size_requests_sum', { model }) ?? 0,
    };
  };
  const infer = async (model: string, input: string, rows: number, width: number, seed: number) => {
    const response = await postJson(app(), `/v2/models/${model}/infer`, {
      inputs: [{ name: input, datatype: 'FP32', shape: [rows, width], data: values(seed, rows * width) }],
    });
    expect(response.status).toBe(200);
    return response.body.outputs[0].data as number[];
  };

  it.each([
    { model: 'tf_dense', input: 'dense_input', width: 256, merges: true },
    { model: 'row_mixer', input: 'x', width: 4, merges: false },
  ])(
    '$model: concurrent requests answer what each answers alone (merged: $merges)',
    async ({ model, input, width, merges }) => {
      const requests = Array.from({ length: 24 }, (_, i) => i);
      const alone: number[][] = [];
      for (const i of requests) alone.push(await infer(model, input, 1 + (i % 2), width, i));
      const before = await runs(model);
      const together = await Promise.all(requests.map((i) => infer(model, input, 1 + (i % 2), width, i)));
      for (const [i, answer] of together.entries()) {
        expect(answer).toHaveLength(alone[i]!.length);
        answer.forEach((v, k) => expect(Math.abs(v - alone[i]![k]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
      }
      const after = await runs(model);
      const merged = after.requests - before.requests - (after.runs - before.runs);
      if (merges) expect(merged).toBeGreaterThan(0);
      else expect(merged).toBe(0);
    },
  );
});
