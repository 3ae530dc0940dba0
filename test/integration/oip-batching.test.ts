import { describe, expect, it } from 'vitest';
import { appFor, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { FIXTURE_MODELS, TempRepository, fixture } from '../helpers/repository.js';

type Input = { name: string; datatype: string; shape: number[]; data: unknown[] };

/** A deterministic stream of numbers, so every request differs and a run repeats. */
function numbers(seed: number) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
}

/** Requests of each kind, every one with its own values (and, where it matters, its own shared input). */
const kinds: Record<string, (i: number) => Input[]> = {
  // ids + mask [batch, seq]: seq 3 or 5, so only requests of one length may share a run
  text_classifier: (i) => {
    const rows = 1 + (i % 3);
    const seq = i % 2 ? 3 : 5;
    const next = numbers(i + 1);
    return [
      {
        name: 'input_ids',
        datatype: 'INT64',
        shape: [rows, seq],
        data: Array.from({ length: rows * seq }, () => Math.floor((next() + 1) * 25)),
      },
      {
        name: 'attention_mask',
        datatype: 'INT64',
        shape: [rows, seq],
        data: Array.from({ length: rows * seq }, (_, k) => (k % seq < seq - (i % 2) ? 1 : 0)),
      },
    ];
  },
  // state [2, batch, 4] batched on axis 1, each request its own state; sr 8000 or 16000 shared per run
  stateful: (i) => {
    const rows = 1 + (i % 2);
    const next = numbers(i + 100);
    return [
      { name: 'audio', datatype: 'FP32', shape: [rows, 4], data: Array.from({ length: rows * 4 }, next) },
      { name: 'sr', datatype: 'INT64', shape: [], data: [i % 3 ? 16000 : 8000] },
      { name: 'state', datatype: 'FP32', shape: [2, rows, 4], data: Array.from({ length: 8 * rows }, next) },
    ];
  },
  mixer: (i) => [
    { name: 'x', datatype: 'FP32', shape: [2, 3], data: Array.from({ length: 6 }, numbers(i + 200)) },
    { name: 'scale', datatype: 'INT64', shape: [], data: [1 + (i % 4)] },
  ],
  masked_half: (i) => {
    const next = numbers(i + 300);
    return [
      {
        name: 'x',
        datatype: 'FP16',
        shape: [1, 4],
        data: Array.from({ length: 4 }, () => Math.round(next() * 1000) / 8),
      },
      { name: 'mask', datatype: 'BOOL', shape: [1, 4], data: Array.from({ length: 4 }, () => next() > 0) },
    ];
  },
  vocab: (i) => [
    {
      name: 'text',
      datatype: 'BYTES',
      shape: [2],
      data: [['the', 'cat', 'sat', 'on', 'mat', 'dog'][i % 6], `word${i}`],
    },
  ],
  fixed_pair: (i) => [
    { name: 'a', datatype: 'FP32', shape: [2, 2], data: Array.from({ length: 4 }, numbers(i + 400)) },
    { name: 'b', datatype: 'FP32', shape: [2, 2], data: Array.from({ length: 4 }, numbers(i + 500)) },
  ],
};

/**
 * Where two answers differ beyond float32 rounding. onnxruntime may sum in another order when a
 * batch is laid out differently (the state model reduces over axes 0 and 2, around the batch axis),
 * which moves the last bit or two of a float32; another request's answer differs far more.
 */
function differences(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a === 'number' && typeof b === 'number')
    return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b)) ? [] : [`${path}: ${a} != ${b}`];
  if (Array.isArray(a) && Array.isArray(b))
    return a.length !== b.length
      ? [`${path}: length ${a.length} != ${b.length}`]
      : a.flatMap((x, i) => differences(x, b[i], `${path}[${i}]`));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) =>
      differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  return a === b ? [] : [`${path}: ${String(a)} != ${String(b)}`];
}

describe('batching across OIP requests: merged only where provably right, and never mixing answers', () => {
  // One worker and a short batching delay: requests that arrive together are merged when they may be.
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS, CACHE_ENABLED: 'false', BATCH_MAX_DELAY_MS: '2' });

  const infer = async (model: string, inputs: Input[], id: string) => {
    const response = await app().inject({
      method: 'POST',
      url: `/v2/models/${model}/infer`,
      payload: JSON.stringify({ id, inputs }),
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.id).toBe(id);
    return body.outputs as { name: string; shape: number[]; data: unknown[] }[];
  };
  const runs = async (model: string) => {
    const text = await scrape(app());
    return {
      runs: sample(text, 'ml_batch_size_requests_count', { model }) ?? 0,
      requests: sample(text, 'ml_batch_size_requests_sum', { model }) ?? 0,
    };
  };

  it.each(Object.keys(kinds))('%s: concurrent requests answer what each answers alone', async (model) => {
    const requests = Array.from({ length: 48 }, (_, i) => kinds[model]!(i));
    const alone: unknown[] = [];
    for (const [i, inputs] of requests.entries()) alone.push(await infer(model, inputs, `alone-${i}`));
    const before = await runs(model);
    const together = await Promise.all(requests.map((inputs, i) => infer(model, inputs, `together-${i}`)));
    expect(differences(together, alone)).toEqual([]);
    const after = await runs(model);
    const merged = after.requests - before.requests - (after.runs - before.runs);
    if (model === 'fixed_pair')
      expect(merged).toBe(0); // no batch dim: every request runs alone
    else expect(merged).toBeGreaterThan(0); // the requests really were merged
  });
});

describe('a value the model refuses fails only its own request, merged or not', () => {
  const served = appFor({ MODEL_DIR: FIXTURE_MODELS, CACHE_ENABLED: 'false', BATCH_MAX_DELAY_MS: '5' });

  it("answers 400 MODEL_REJECTED_INPUT with onnxruntime's reason to the request with a token id past the vocabulary, 200 to the rest", async () => {
    const app = served();
    const ids = (id: number) => ({
      inputs: [
        { name: 'input_ids', datatype: 'INT64', shape: [1, 3], data: [1, 2, id] },
        { name: 'attention_mask', datatype: 'INT64', shape: [1, 3], data: [1, 1, 1] },
      ],
    });
    const alone = await postJson(app, '/v2/models/text_classifier/infer', ids(7));
    const answers = await Promise.all(
      [7, 8, 60, 9, 7].map((id) => postJson(app, '/v2/models/text_classifier/infer', ids(id))),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 200, 200]);
    expect(answers[2]!.body).toMatchObject({
      code: 'MODEL_REJECTED_INPUT',
      error: expect.stringMatching(/Gather: indices element out of data bounds, idx=60/),
    });
    expect(answers[0]!.body.outputs).toEqual(alone.body.outputs);
    expect(answers[4]!.body.outputs).toEqual(alone.body.outputs);
    const metrics = await scrape(app);
    expect(sample(metrics, 'ml_predictions_total', { model: 'text_classifier', status: 'invalid_input' })).toBe(1);
    // the bad request did share a run with good ones, which were then run again alone
    expect(sample(metrics, 'ml_batch_size_requests_sum', { model: 'text_classifier' })!).toBeGreaterThan(
      sample(metrics, 'ml_batch_size_requests_count', { model: 'text_classifier' })!,
    );
  });
});

describe('requests larger than a batch run in parts', () => {
  const repo = new TempRepository()
    .addOnnx('mixer', '1', `${FIXTURE_MODELS}mixer/1/model.onnx`, { batching: { max_batch_size: 4 } })
    .addOnnx('one_row', '1', fixture('one_row.onnx'));
  const served = appFor({ CACHE_ENABLED: 'false' }, repo);

  it('cuts 10 rows into runs of at most max_batch_size, and joins the answers in order', async () => {
    const x = Array.from({ length: 30 }, (_, i) => i);
    const app = served();
    const response = await app.inject({
      method: 'POST',
      url: '/v2/models/mixer/infer',
      payload: JSON.stringify({
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [10, 3], data: x },
          { name: 'scale', datatype: 'INT64', shape: [], data: [2] },
        ],
      }),
    });
    expect(response.json().outputs[1]).toEqual({
      name: 'total',
      datatype: 'FP32',
      shape: [10],
      data: Array.from({ length: 10 }, (_, r) => 2 * (9 * r + 3)),
    });
    const metrics = await scrape(app);
    expect(sample(metrics, 'ml_batch_size_rows_count', { model: 'mixer' })).toBe(3); // 4 + 4 + 2
    expect(sample(metrics, 'ml_batch_size_rows_bucket', { model: 'mixer', le: '4' })).toBe(3);
  });

  it('runs a model whose file fixes the batch at 1 one row at a time, rows sent as /predict instances', async () => {
    const app = served();
    const { status, body } = await postJson(app, '/predict', {
      model: 'one_row',
      instances: [
        [1, 2, 3],
        [4, 5, 6],
        [0, 0, 1],
      ],
    });
    expect(status).toBe(200);
    expect(body.predictions.map((p: { outputs: { y: number[] } }) => p.outputs.y)).toEqual([
      [4, 5],
      [10, 11],
      [1, 1],
    ]);
    expect(sample(await scrape(app), 'ml_batch_size_rows_sum', { model: 'one_row' })).toBe(3);
    expect(sample(await scrape(app), 'ml_batch_size_rows_count', { model: 'one_row' })).toBe(3);
  });
});
