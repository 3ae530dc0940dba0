import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { appsPerTest, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { RedisServer } from '../helpers/redis-server.js';
import { FIXTURE_MODELS, TempRepository, bundled } from '../helpers/repository.js';
import { OnnxRuntime } from '../../src/runtime/onnx-runtime.js';

const irisConfig = {
  task: 'classification',
  labels: ['setosa', 'versicolor', 'virginica'],
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name) => ({ name, min: 0, max: 10 })),
  cache: { enabled: true, ttl_seconds: 120 },
};
const row = (i: number) => [4.5 + (i % 30) / 10, 3, 1.5 + (i % 40) / 10, 0.2 + (i % 20) / 10];
const PREFIX = 'test:';

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('prediction cache with a real Redis', () => {
  const repo = new TempRepository()
    .addOnnx('stateful', '1', `${FIXTURE_MODELS}stateful/1/model.onnx`)
    .addOnnx('vocab', '1', `${FIXTURE_MODELS}vocab/1/model.onnx`)
    .addOnnx('iris', '1', bundled('iris'), irisConfig)
    .addOnnx('iris', '2', bundled('iris'))
    .addOnnx('plain', '1', bundled('iris'))
    .addOnnx('uncached', '1', bundled('iris'), { ...irisConfig, cache: { enabled: false } });
  let redis: RedisServer;
  let peek: Redis;
  const keys = () => peek.keys(`${PREFIX}pred:*`); // prediction rows; feedback records live beside them

  beforeAll(async () => {
    redis = await RedisServer.start();
    peek = redis.client();
  });
  afterEach(async () => {
    await redis.start().catch(() => {}); // a test may have stopped it
    await peek.flushall().catch(() => {});
  });
  afterAll(async () => {
    peek.disconnect();
    await redis.stop();
    repo.remove();
  });
  // Registered after the afterEach above: a test's apps are closed before Redis is restarted and flushed.
  const started = appsPerTest();
  const start = (env: Record<string, string> = {}) =>
    // A generous command timeout: these tests check what is shared, and on a loaded machine a Redis
    // round trip can outlast the 50 ms default, which turns a hit into a (correct, but unexpected) miss.
    started({
      MODEL_DIR: repo.dir,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: PREFIX,
      REDIS_BREAKER_RESET_MS: '500',
      REDIS_TIMEOUT_MS: '1000',
      ...env,
    });

  it('misses, then hits L1; a second instance hits L2 and fills its own L1', async () => {
    const a = await start();
    const first = await postJson(a, '/predict', { model: 'iris', version: '1', instances: [row(1)] });
    expect(first.body.cached).toBe(false);
    const again = await postJson(a, '/predict', { model: 'iris', version: '1', instances: [row(1)] });
    expect(again.body.cached).toBe(true);
    expect(again.body.predictions).toEqual(first.body.predictions);
    expect(sample(await scrape(a), 'ml_cache_lookups_total', { tier: 'l1', result: 'hit' })).toBe(1);

    await waitFor(async () => (await keys()).length === 1, 'the write to Redis');
    const b = await start();
    const shared = await postJson(b, '/predict', { model: 'iris', version: '1', instances: [row(1)] });
    expect(shared.body.cached).toBe(true);
    expect(shared.body.predictions).toEqual(first.body.predictions);
    await postJson(b, '/predict', { model: 'iris', version: '1', instances: [row(1)] });
    const metrics = await scrape(b);
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l2', result: 'hit' })).toBe(1);
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l1', result: 'hit' })).toBe(1);
    expect(sample(metrics, 'ml_cache_l1_entries')).toBe(1);
    expect(sample(metrics, 'ml_cache_redis_circuit', { state: 'closed' })).toBe(1);
  });

  it('keys multi-input requests by every input and the outputs asked for, per row along the batch axis, and shares them through Redis', async () => {
    const a = await start();
    const infer = async (app: FastifyInstance, sr: number, states: number[][], outputs?: string[]) => {
      const inputs = [
        { name: 'audio', datatype: 'FP32', shape: [states.length, 2], data: states.flatMap((_, i) => [i, -i]) },
        { name: 'sr', datatype: 'INT64', shape: [], data: [sr] },
        {
          name: 'state',
          datatype: 'FP32',
          shape: [2, states.length, 4],
          data: [0, 1].flatMap((layer) => states.flatMap((s) => s.map((v) => v + layer))),
        },
      ];
      const response = await app.inject({
        method: 'POST',
        url: '/v2/models/stateful/infer',
        payload: JSON.stringify({ inputs, outputs: outputs?.map((name) => ({ name })) }),
      });
      expect(response.statusCode).toBe(200);
      return response.json();
    };
    const s1 = [0.1, 0.2, 0.3, 0.4];
    const s2 = [0.5, 0.6, 0.7, 0.8];
    const first = await infer(a, 16000, [s1, s2]);
    expect(first.parameters.cached).toBe(false);
    expect((await infer(a, 16000, [s1, s2])).parameters.cached).toBe(true);
    expect((await infer(a, 8000, [s1, s2])).parameters.cached).toBe(false); // the shared scalar is in the key
    expect((await infer(a, 16000, [s1, s2], ['prob'])).parameters.cached).toBe(false); // so are the outputs
    const r1 = await infer(a, 16000, [s1]);
    const r2 = await infer(a, 16000, [s2]);
    expect(r1.parameters.cached).toBe(true); // row 0 of the batch of two, alone
    expect(r2.parameters.cached).toBe(false); // row 1 alone has audio [0, -0], not [1, -1]: another row
    const b = await start();
    await waitFor(async () => (await keys()).some((k) => k.startsWith(`${PREFIX}pred:stateful:`)), 'the rows in Redis');
    await waitFor(
      async () => (await keys()).filter((k) => k.startsWith(`${PREFIX}pred:stateful:`)).length >= 6,
      'every row in Redis',
    );
    const shared = await infer(b, 16000, [s1, s2]);
    expect(shared.parameters.cached).toBe(true);
    expect(shared.outputs).toEqual(first.outputs);

    const words = { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['cat', 'zebra'] }] };
    const post = (app: FastifyInstance) =>
      app
        .inject({ method: 'POST', url: '/v2/models/vocab/infer', payload: JSON.stringify(words) })
        .then((r) => r.json());
    const truth = await post(a);
    await waitFor(
      async () => (await keys()).filter((k) => k.startsWith(`${PREFIX}pred:vocab:`)).length === 2,
      'the strings in Redis',
    );
    const fromRedis = await post(b);
    expect(fromRedis.parameters.cached).toBe(true);
    expect(fromRedis.outputs).toEqual(truth.outputs);
  });

  it('never shares an entry across model versions, and honours the model TTL', async () => {
    const app = await start();
    await postJson(app, '/predict', { model: 'iris', version: '1', instances: [row(2)] });
    const other = await postJson(app, '/predict', { model: 'iris', version: '2', instances: [row(2)] });
    expect(other.body.cached).toBe(false);
    await waitFor(async () => (await keys()).length === 2, 'two entries');
    // iris/model.json sets cache.ttl_seconds 120 for every version of iris
    for (const key of await keys()) expect(await peek.ttl(key)).toBeGreaterThan(100);
    for (const key of await keys()) expect(await peek.ttl(key)).toBeLessThanOrEqual(120);
    // a model without model.json gets CACHE_TTL_SECONDS (300)
    await postJson(app, '/predict', { model: 'plain', instances: [row(2)] });
    await waitFor(async () => (await keys()).length === 3, 'the third entry');
    const plain = (await keys()).find((key) => key.startsWith(`${PREFIX}pred:plain:`))!;
    expect(await peek.ttl(plain)).toBeGreaterThan(120);
  });

  it('treats a corrupt or foreign value in Redis as a counted miss and still answers right', async () => {
    const a = await start();
    const truth = await postJson(a, '/predict', { model: 'iris', version: '1', instances: [row(3), row(4)] });
    await waitFor(async () => (await keys()).length === 2, 'two entries');
    const [k1, k2] = await keys();
    // k1's signed entry under k2: foreign to k2's key
    await peek.set(k2!, (await peek.get(k1!))!);
    await peek.set(k1!, 'garbage{not json');

    const b = await start();
    const answer = await postJson(b, '/predict', { model: 'iris', version: '1', instances: [row(3), row(4)] });
    expect(answer.status).toBe(200);
    expect(answer.body.cached).toBe(false);
    expect(answer.body.predictions).toEqual(truth.body.predictions);
    const metrics = await scrape(b);
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l2', result: 'corrupt' })).toBe(1);
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l2', result: 'rejected' })).toBe(1);
  });

  it('keeps answering while Redis dies, stops calling it, and uses it again once it is back', async () => {
    const app = await start({ CACHE_MAX_ENTRIES: '1' }); // L1 holds one row: nearly every lookup reaches Redis
    const latencies: number[] = [];
    const fire = async (i: number) => {
      const started = performance.now();
      const { status } = await postJson(app, '/predict', { model: 'iris', version: '1', instances: [row(i)] });
      latencies.push(performance.now() - started);
      return status;
    };
    // four clients keep requests flowing; Redis is killed once 40 have been answered
    let answered = 0;
    const statuses: number[] = [];
    const client = async (c: number) => {
      for (let i = 0; i < 50; i++) {
        statuses.push(await fire(c * 50 + i));
        if (++answered === 40) await redis.stop();
      }
    };
    await Promise.all([0, 1, 2, 3].map(client));
    expect(statuses).toHaveLength(200);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const down = await scrape(app);
    expect(sample(down, 'ml_cache_redis_circuit', { state: 'closed' })).toBe(0); // open, or half-open probing
    expect(sample(down, 'ml_cache_redis_errors_total', { kind: 'error' })).toBeGreaterThan(0);
    expect(sample(down, 'ml_cache_redis_errors_total', { kind: 'rejected' })).toBeGreaterThan(0);
    expect((await app.inject('/ready')).statusCode).toBe(200); // readiness never depends on Redis
    const sorted = [...latencies].sort((x, y) => x - y);
    console.log(
      `with Redis killed: 200/200 answered, p50 ${sorted[100]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    );

    await redis.start();
    await waitFor(async () => {
      await fire(1000 + Math.floor(Math.random() * 1e6));
      return sample(await scrape(app), 'ml_cache_redis_circuit', { state: 'closed' }) === 1;
    }, 'the circuit to close');
    const before = (await keys()).length;
    await fire(5000);
    await waitFor(async () => (await keys()).length > before, 'writes to the restarted Redis');
    const logs = (app as unknown as { logs: { lines: { msg: string }[] } }).logs.lines.map((l) => l.msg);
    expect(logs.filter((m) => m.startsWith('redis circuit open')).length).toBeGreaterThanOrEqual(1);
    expect(logs.filter((m) => m.startsWith('redis circuit open')).length).toBeLessThan(10); // per state change, not per request
  });

  it('answers within the command timeout when Redis hangs', async () => {
    const app = await start({ CACHE_MAX_ENTRIES: '1', REDIS_TIMEOUT_MS: '30' });
    await postJson(app, '/predict', { model: 'iris', version: '1', instances: [row(0)] });
    redis.pause();
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          postJson(app, '/predict', { model: 'iris', version: '1', instances: [row(100 + i)] }),
        ),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(sample(await scrape(app), 'ml_cache_redis_errors_total', { kind: 'timeout' })).toBeGreaterThan(0);
    } finally {
      redis.resume();
    }
  });

  it('joins feedback on another replica through Redis, and refuses a duplicate sent to either', async () => {
    const a = await start();
    const b = await start();
    const prediction = await postJson(a, '/predict', { model: 'iris', version: '1', instances: [row(20)] });
    await waitFor(async () => (await peek.keys(`${PREFIX}feedback:*`)).length > 0, 'the prediction record in Redis');
    const label = prediction.body.predictions[0].label;
    expect(await postJson(b, '/feedback', { id: prediction.body.id, label })).toMatchObject({
      status: 200,
      body: { correct: true },
    });
    expect((await postJson(a, '/feedback', { id: prediction.body.id, label })).status).toBe(409);
  });

  it('runs one inference for concurrent identical misses', async () => {
    const runtime = new OnnxRuntime({
      workers: 1,
      intraOpThreads: 1,
      interOpThreads: 1,
      inlineMaxRowMicros: 0,
      nice: 10,
    });
    const run = runtime.run.bind(runtime);
    let runs = 0;
    runtime.run = (task) => {
      runs++;
      return run(task);
    };
    const app = await started({ MODEL_DIR: repo.dir }, { runtime });
    const warmups = runs;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => postJson(app, '/predict', { model: 'iris', version: '1', instances: [row(7)] })),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(runs - warmups).toBe(1);
    expect(new Set(answers.map((a) => JSON.stringify(a.body.predictions))).size).toBe(1);
  });

  it('works on L1 alone without REDIS_URL, not for a model whose model.json turns it off, and not at all with CACHE_ENABLED=false', async () => {
    const l1 = await started({ MODEL_DIR: repo.dir });
    await postJson(l1, '/predict', { model: 'iris', version: '1', instances: [row(8)] });
    expect((await postJson(l1, '/predict', { model: 'iris', version: '1', instances: [row(8)] })).body.cached).toBe(
      true,
    );
    expect(sample(await scrape(l1), 'ml_cache_redis_circuit', { state: 'closed' })).toBeUndefined();

    // model.json can turn the cache off for one model
    await postJson(l1, '/predict', { model: 'uncached', instances: [row(8)] });
    expect((await postJson(l1, '/predict', { model: 'uncached', instances: [row(8)] })).body.cached).toBe(false);

    const off = await started({ MODEL_DIR: repo.dir, CACHE_ENABLED: 'false' });
    await postJson(off, '/predict', { model: 'iris', version: '1', instances: [row(8)] });
    expect((await postJson(off, '/predict', { model: 'iris', version: '1', instances: [row(8)] })).body.cached).toBe(
      false,
    );
  });
});
