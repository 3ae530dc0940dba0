import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startApp } from '../helpers/app.js';
import { ACCURACY_REFERENCE, close, IRIS_SPLIT, keyFor, label, predictThrough, ROW } from '../helpers/experiments.js';
import { sample, scrape } from '../helpers/metrics.js';
import { RedisServer } from '../helpers/redis-server.js';
import { bundled, fixture, TempRepository } from '../helpers/repository.js';
import { experimentSchema, type ExperimentAnswer } from '../../src/protocols/experiments/schemas.js';

const results = async (app: FastifyInstance): Promise<ExperimentAnswer> =>
  experimentSchema.parse((await app.inject('/experiments/iris')).json());
const byName = (answer: ExperimentAnswer) => Object.fromEntries(answer.variants.map((v) => [v.name, v]));

describe('experiment results across pods: two app instances sum their counts through a real redis-server', () => {
  const repo = new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), IRIS_SPLIT)
    .addOnnx('iris', '2', fixture('iris_like.onnx'));
  let redis: RedisServer;
  let a: FastifyInstance;
  let b: FastifyInstance;
  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { MODEL_DIR: repo.dir, CACHE_ENABLED: 'false', REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '500' };
    [a, b] = [await startApp(env), await startApp(env)];
    // Pod a serves 60 rows to each variant and pod b 40; the feedback for a's answers is posted to
    // both pods (the prediction records are shared through Redis), b's to b. In all: the control
    // 80/100 right, the candidate 90/100, as in the single-pod test, so the statistics must match it.
    const stable = [
      await predictThrough(a, 'iris', keyFor(a, 'iris', 'stable'), ROW, 60),
      await predictThrough(b, 'iris', keyFor(b, 'iris', 'stable'), ROW, 40),
    ];
    const canary = [
      await predictThrough(a, 'iris', keyFor(a, 'iris', 'canary'), ROW, 60),
      await predictThrough(b, 'iris', keyFor(b, 'iris', 'canary'), ROW, 40),
    ];
    await label(a, stable[0]!.id, 0, 30, () => 'setosa');
    await label(b, stable[0]!.id, 30, 60, (row) => (row < 50 ? 'setosa' : 'versicolor')); // 50 right, 10 wrong
    await label(b, stable[1]!.id, 0, 40, (row) => (row < 30 ? 'setosa' : 'versicolor')); // 30 right, 10 wrong
    await label(a, canary[0]!.id, 0, 60, (row) => (row < 55 ? 'virginica' : 'setosa')); // 55 right, 5 wrong
    await label(b, canary[1]!.id, 0, 40, (row) => (row < 35 ? 'virginica' : 'setosa')); // 35 right, 5 wrong
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
    repo.remove();
  });

  it("adds every pod's requests and feedback up: the same statistics as one pod that saw it all", async () => {
    // a writes its totals within a second (its latest write may predate its last feedback)
    const answer = await vi.waitFor(
      async () => {
        const now = await results(b);
        expect(byName(now).stable).toMatchObject({
          requests: 2,
          by_status: { success: 2, invalid_input: 0, error: 0 },
          accuracy: { n: 100, correct: 80 },
        });
        expect(byName(now).canary).toMatchObject({ requests: 2, accuracy: { n: 100, correct: 90 } });
        return now;
      },
      { timeout: 5_000, interval: 100 },
    );
    expect(answer).toMatchObject({ scope: 'fleet', pods: 2 });
    expect(answer.scope_detail).toContain('summed over 2 pod(s) through Redis');
    const { stable, canary, next } = byName(answer);
    expect(next).toMatchObject({ requests: 0, accuracy: { n: 0 } });
    expect(stable!.latency_seconds.samples).toBe(1); // latency stays this pod's
    close(canary!.versus_control!.p_value, ACCURACY_REFERENCE.p);
    close(canary!.versus_control!.statistic, ACCURACY_REFERENCE.z);
    expect(canary!.versus_control!.samples_needed.per_variant).toBe(199);
    // the other pod answers the same fleet-wide numbers
    expect(byName(await results(a)).canary!.accuracy).toMatchObject({ n: 100, correct: 90 });
  });

  it("exports each pod's own counters, and the fleet-wide test as the p-value gauge", async () => {
    const [textA, textB] = [await scrape(a), await scrape(b)];
    expect(sample(textA, 'ml_variant_feedback_total', { model: 'iris', variant: 'stable', result: 'correct' })).toBe(
      30,
    );
    expect(sample(textB, 'ml_variant_feedback_total', { model: 'iris', variant: 'stable', result: 'correct' })).toBe(
      50,
    );
    expect(sample(textA, 'ml_variant_requests_total', { model: 'iris', variant: 'canary', status: 'success' })).toBe(1);
    for (const text of [textA, textB])
      close(sample(text, 'ml_experiment_p_value', { model: 'iris', variant: 'canary' })!, ACCURACY_REFERENCE.p);
  });

  it('a pod shutting down writes its last counts before it lets go of Redis', async () => {
    const c = await startApp({ MODEL_DIR: repo.dir, CACHE_ENABLED: 'false', REDIS_URL: redis.url });
    const answer = await predictThrough(c, 'iris', keyFor(c, 'iris', 'canary'), ROW, 7);
    await label(c, answer.id, 0, 7, () => 'virginica');
    await c.close(); // within a second of its last count: the flush on close writes it, if the timer has not
    const client = redis.client();
    const fields = Object.values(await client.hgetall('onnx-serve:experiment:iris:canary:2')).map((v) => JSON.parse(v));
    client.disconnect();
    expect(fields).toContainEqual(
      expect.objectContaining({ requests: { success: 1, invalid_input: 0, error: 0 }, accuracy: { n: 7, correct: 7 } }),
    );
    const after = await results(b);
    expect(byName(after).canary).toMatchObject({ requests: 3, accuracy: { n: 107, correct: 97 } });
    expect(after.pods).toBe(3); // a pod that is gone still counts
  });

  it("leaves out a value in Redis that is not a pod's totals, signed by this deployment for its field", async () => {
    const client = redis.client();
    const key = 'onnx-serve:experiment:iris:stable:1';
    const totals = {
      requests: { success: 1000, invalid_input: 0, error: 0 },
      accuracy: { n: 1000, correct: 0 },
      errors: { n: 0, sum: 0, sumSquares: 0 },
    };
    const [podField, podValue] = Object.entries(await client.hgetall(key))[0]!;
    await client.hset(key, 'intruder.1', '{"v":1,"requests":{"success":-5}}', 'junk.1', 'not json');
    await client.hset(
      key,
      'planted.1',
      JSON.stringify({ v: 1, ...totals }),
      'unsigned.1',
      `{"v":2,"mac":"${'Q'.repeat(43)}",${JSON.stringify(totals).slice(1)}`,
    );
    await client.hset(key, `moved.${podField.split('.').at(-1)}`, podValue); // a pod's signed totals under another field
    client.disconnect();
    expect(byName(await results(b)).stable).toMatchObject({ requests: 2, accuracy: { n: 100, correct: 80 } });
  });

  it('answers this pod\'s numbers with scope "pod" while Redis is down, and the fleet\'s again once it is back', async () => {
    await redis.stop();
    const down = await results(b);
    expect(down.scope).toBe('pod');
    expect(down.scope_detail).toContain('Redis did not answer');
    // What b counted: 30 rows of a's answer, 40 of its own
    expect(byName(down).stable).toMatchObject({ requests: 1, accuracy: { n: 70, correct: 50 } });
    await redis.start(); // empty: no persistence
    // Each pod finds its totals missing on its next read and writes them again at its next flush.
    await vi.waitFor(
      async () => {
        await results(a);
        const back = await results(b);
        expect(back.scope).toBe('fleet');
        expect(byName(back).stable).toMatchObject({ requests: 2, accuracy: { n: 100, correct: 80 } });
      },
      { timeout: 15_000, interval: 200 },
    );
  });
});
