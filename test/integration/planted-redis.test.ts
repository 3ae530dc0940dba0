import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeys } from '../../src/core/cache/cache-key.js';
import { signingKey, ValueSigner } from '../../src/core/cache/value-signer.js';
import { newPredictionId } from '../../src/core/monitoring/prediction-id.js';
import { appFor, BUNDLED_MODELS, type CapturedLogs, postJson, startApp } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { RedisServer } from '../helpers/redis-server.js';
import { bundled, TempRepository } from '../helpers/repository.js';
import { irisConfig } from '../helpers/traffic.js';

/**
 * Issue 19, item 3: whoever can write to the Redis can plant values under the service's keys.
 * Planted cache entries of every kind must give 0 wrong answers, 0 5xx and never reach L1; planted
 * feedback records must answer 404 and add no metric series.
 */

const PREFIX = 'planted:';
const HMAC_KEY = 'the cache signing key of this test deployment';
const holdout = JSON.parse(readFileSync(join(BUNDLED_MODELS, 'iris', 'holdout.json'), 'utf8')) as {
  rows: number[][];
  targets: string[];
};
const setosaRows = holdout.rows.filter((_, i) => holdout.targets[i] === 'setosa');
const otherRows = holdout.rows.filter((_, i) => holdout.targets[i] !== 'setosa');

const b64 = (values: ArrayLike<number>, Type: Float32ArrayConstructor | Int8ArrayConstructor = Float32Array) =>
  Buffer.from(new Type(values as number[]).buffer).toString('base64');
const tensor = (dtype: string, shape: number[], data: unknown) => ({ dtype, shape, data });
const probabilities = (values: number[]) => ({ probabilities: tensor('float32', [1, 3], b64(values)) });
/** A MAC field that looks right but was made without the key, as anyone without it would have to. */
const unsigned = (fields: object) => `{"v":3,"mac":"${'Q'.repeat(43)}",${JSON.stringify(fields).slice(1)}`;

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Our series on /metrics as `name{labels}`, without values; nodejs_gc_* gains one the first time a
 * new GC kind runs.
 */
async function seriesOf(app: FastifyInstance): Promise<Set<string>> {
  const lines = (await scrape(app)).split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('nodejs_'));
  return new Set(lines.map((l) => l.slice(0, l.lastIndexOf(' '))));
}

describe('a Redis holding planted prediction cache entries', () => {
  let redis: RedisServer;
  let peek: Redis;
  const apps: FastifyInstance[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const app = await startApp({
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: PREFIX,
      REDIS_TIMEOUT_MS: '1000',
      CACHE_HMAC_KEY: HMAC_KEY,
      CACHE_MIN_HIT_RATE: '0',
      ...env,
    });
    apps.push(app);
    return app;
  };
  const signer = new ValueSigner(signingKey({ hmacKey: HMAC_KEY, redisUrl: '', keyPrefix: '' }));
  const forger = new ValueSigner(Buffer.from('a key that is not this deployment one'));

  /** The key the service uses for one iris row: computed as it computes it, then checked against what it wrote. */
  let keyOf: (row: number[]) => string;
  /** What iris answers for each row with the cache off, by JSON of the row. */
  const truth = new Map<string, unknown>();
  /** The signed entry the service wrote for each row. */
  const written = new Map<string, string>();

  /** Each planted value, on a row of its own, and what it must count as. */
  const plantings: { kind: string; row: number[]; value: () => string; counts: 'rejected' | 'corrupt' | 'miss' }[] = [];
  const plant = (
    kind: string,
    row: number[],
    value: () => string,
    counts: 'rejected' | 'corrupt' | 'miss' = 'rejected',
  ) => plantings.push({ kind, row, value, counts });
  /** A row with no entry at all. */
  let fresh: number[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    peek = redis.client();
    const rows: number[][] = [];
    const pools = { setosa: [...setosaRows], any: [...otherRows, ...setosaRows.slice(3)] };
    const take = (pool: keyof typeof pools = 'any') => {
      rows.push(pools[pool].shift()!);
      return rows.at(-1)!;
    };
    const issueKinds: [string, object, 'setosa'?][] = [
      ['outputs {}', {}],
      ['a wrong output name', { label: tensor('float32', [1, 3], b64([0, 0, 1])) }],
      ['a __proto__ output', JSON.parse(`{"__proto__":${JSON.stringify(tensor('float32', [1, 3], b64([0, 0, 1])))}}`)],
      ['a string dtype', { probabilities: tensor('string', [1, 3], ['a', 'b', 'c']) }],
      ['[0.1, 0.2, 0.7] for a setosa row', probabilities([0.1, 0.2, 0.7]), 'setosa'],
      ['[-5, 1000, 3]', probabilities([-5, 1000, 3])],
      ['an int8 payload', { probabilities: tensor('int8', [1, 3], b64([3, 2, 1], Int8Array)) }],
      ['shape [0, 3]', { probabilities: tensor('float32', [0, 3], '') }],
      ['shape [1, 100]', { probabilities: tensor('float32', [1, 100], b64(new Array(100).fill(0.01))) }],
    ];
    for (const [kind, outputs, pool] of issueKinds) {
      // As the issue planted them (the format before signing, the key echoed inside): now a plain miss.
      const row = take(pool);
      plant(`${kind}, as the issue planted it`, row, () => JSON.stringify({ v: 2, key: keyOf(row), outputs }), 'miss');
      // What an attacker without the key can write in the current format.
      plant(`${kind}, in the signed format without the key`, take(pool), () => unsigned({ outputs }));
    }
    // What the structural checks alone must catch: the kinds that do not fit iris, signed with the deployment's key.
    for (const [kind, outputs] of [
      ...issueKinds.filter(([kind]) => !kind.startsWith('[')),
      ['NaN', probabilities([Number.NaN, 0, 1])] as const,
    ]) {
      const row = take();
      plant(`${kind}, signed with the key`, row, () => signer.sign(keyOf(row), 3, { outputs }));
    }
    const setosa = take('setosa');
    plant('[0.1, 0.2, 0.7] for a setosa row, signed with another key', setosa, () =>
      forger.sign(keyOf(setosa), 3, { outputs: probabilities([0.1, 0.2, 0.7]) }),
    );
    const source = take();
    plant("a valid entry copied from another row's key", take(), () => written.get(JSON.stringify(source))!);
    const tampered = take();
    plant('a tampered signature', tampered, () =>
      written.get(JSON.stringify(tampered))!.replace(/"mac":"(.)/, (_, c: string) => `"mac":"${c === 'A' ? 'B' : 'A'}`),
    );
    plant('a 4 MB value', take(), () =>
      unsigned({ outputs: { probabilities: tensor('float32', [1, 3], 'A'.repeat(4 << 20)) } }),
    );
    plant('not JSON', take(), () => 'garbage{not json', 'corrupt');
    fresh = pools.any.at(-1)!;
    expect(new Set([...rows, fresh].map(String)).size).toBe(rows.length + 1); // a row of its own each

    // The truth: the model's own answers, the cache off.
    const off = await startApp({ CACHE_ENABLED: 'false' });
    for (const row of holdout.rows)
      truth.set(
        JSON.stringify(row),
        (await postJson(off, '/predict', { model: 'iris', instances: [row] })).body.predictions[0],
      );
    await off.close();
    // The keys and signed entries the service itself writes.
    const writer = await start();
    const runner = writer.models.router.entries('iris').find((e) => e.state === 'ready')!.runner!;
    keyOf = (row) =>
      cacheKeys(
        runner.spec,
        runner.plan,
        { input: { dtype: 'float32', shape: [1, 4], data: new Float32Array(row) } },
        1,
        ['probabilities'],
      )[0]!;
    for (const row of rows) await postJson(writer, '/predict', { model: 'iris', instances: [row] });
    await waitFor(async () => (await peek.keys(`${PREFIX}pred:*`)).length === rows.length, 'every row in Redis');
    for (const row of rows) written.set(JSON.stringify(row), (await peek.get(PREFIX + keyOf(row)))!);
    expect([...written.values()].every(Boolean)).toBe(true); // the computed keys are the service's
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    peek.disconnect();
    await redis.stop();
  });

  /**
   * Each row holds what the service computes for it (an earlier test's writes have all landed): a
   * planted value then is the only one.
   */
  const computedInRedis = () =>
    waitFor(
      async () =>
        (
          await Promise.all(
            plantings.map(async (p) => (await peek.get(PREFIX + keyOf(p.row))) === written.get(JSON.stringify(p.row))),
          )
        ).every(Boolean),
      'the computed rows in Redis',
    );
  const plantAll = async () => {
    await computedInRedis();
    for (const p of plantings) await peek.set(PREFIX + keyOf(p.row), p.value());
  };
  const expected = (counts: string) => plantings.filter((p) => p.counts === counts).length;
  const logLines = (app: FastifyInstance) =>
    (app as unknown as { logs: CapturedLogs }).logs.lines.filter(
      (l) => l.msg === 'a prediction cache entry in redis was not used',
    );

  it('answers every planted row as the model does, one request a row: 200, cached false, counted, logged once', async () => {
    await plantAll();
    const app = await start();
    for (const { kind, row } of plantings) {
      const answer = await postJson(app, '/predict', { model: 'iris', instances: [row] });
      expect({ kind, status: answer.status, cached: answer.body.cached }).toEqual({ kind, status: 200, cached: false });
      expect({ kind, prediction: answer.body.predictions[0] }).toEqual({
        kind,
        prediction: truth.get(JSON.stringify(row)),
      });
    }
    const metrics = await scrape(app);
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l2', result: 'rejected' })).toBe(expected('rejected'));
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l2', result: 'corrupt' })).toBe(expected('corrupt'));
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l2', result: 'miss' })).toBe(expected('miss'));
    expect(sample(metrics, 'ml_cache_lookups_total', { tier: 'l2', result: 'hit' }) ?? 0).toBe(0);
    const lines = logLines(app);
    expect(lines).toHaveLength(1); // at most one a minute, however many
    expect(lines[0]).toMatchObject({ level: 40, model: 'iris@1', result: 'rejected', why: expect.any(String) });
    expect(JSON.stringify(lines[0])).not.toMatch(/AAAA|QQQQ/); // never the value
    expect(
      (app as unknown as { logs: CapturedLogs }).logs.lines.some((l) =>
        String(l.msg).startsWith('CACHE_HMAC_KEY is not set'),
      ),
    ).toBe(false);

    // The answers computed here replaced the planted values in Redis, signed: the next replica hits them.
    await computedInRedis();
    expect([...written.values()].every((v) => v.startsWith('{"v":3,"mac":"'))).toBe(true);
    const next = await start();
    const again = await postJson(next, '/predict', { model: 'iris', instances: plantings.map((p) => p.row) });
    expect(again.body.cached).toBe(true);
    expect(again.body.predictions).toEqual(plantings.map((p) => truth.get(JSON.stringify(p.row))));
  });

  it('answers a multi-row request holding every planted row, and OIP, as the model does', async () => {
    await plantAll();
    const app = await start();
    const rows = [fresh, ...plantings.map((p) => p.row)];
    const answer = await postJson(app, '/predict', { model: 'iris', instances: rows });
    expect(answer.status).toBe(200);
    expect(answer.body.cached).toBe(false);
    expect(answer.body.predictions).toEqual(rows.map((r) => truth.get(JSON.stringify(r))));

    await plantAll();
    const oip = await start();
    for (const { kind, row } of plantings) {
      const response = await oip.inject({
        method: 'POST',
        url: '/v2/models/iris/infer',
        payload: { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }] },
      });
      expect({ kind, status: response.statusCode, cached: response.json().parameters?.cached }).toEqual({
        kind,
        status: 200,
        cached: false,
      });
      const probs = (truth.get(JSON.stringify(row)) as { probabilities: Record<string, number> }).probabilities;
      expect(response.json().outputs[0].data).toEqual(Object.values(probs).map((p) => expect.closeTo(p, 6)));
    }
  });

  it('never copies a planted value into L1: with the Redis key gone, the row is a miss again', async () => {
    await plantAll();
    const app = await start();
    const runner = app.router.entries('iris').find((e) => e.state === 'ready')!.runner!;
    const keys = plantings.map((p) => keyOf(p.row));
    expect(await app.cache!.lookup(keys, runner, ['probabilities'])).toEqual(keys.map(() => undefined));
    expect(app.cache!.entries).toBe(0);
    await peek.del(...keys.map((k) => PREFIX + k));
    expect(await app.cache!.lookup(keys, runner, ['probabilities'])).toEqual(keys.map(() => undefined));
    expect(sample(await scrape(app), 'ml_cache_lookups_total', { tier: 'l1', result: 'hit' }) ?? 0).toBe(0);
  });
});

describe('a Redis holding planted feedback records', () => {
  // iris with an A/B split over two versions, so a planted variant could reach the experiments' series
  const repo = new TempRepository()
    .addOnnx(
      'iris',
      '1',
      bundled('iris'),
      irisConfig([
        { name: 'control', version: 1, weight: 50 },
        { name: 'candidate', version: 2, weight: 50 },
      ]),
    )
    .addOnnx('iris', '2', bundled('iris'));
  let redis: RedisServer;
  let peek: Redis;
  beforeAll(async () => {
    redis = await RedisServer.start();
    peek = redis.client();
  });
  afterAll(async () => {
    peek.disconnect();
    await redis.stop();
  });
  // Registered after the hooks above: it starts once Redis runs, and closes before Redis stops.
  // No CACHE_HMAC_KEY: the key derived from REDIS_URL and REDIS_KEY_PREFIX signs the records.
  const app = appFor(() => ({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: PREFIX, REDIS_TIMEOUT_MS: '1000' }), repo);

  it('answers 404 UNKNOWN_PREDICTION for each, counts it as unmatched, and adds no series to /metrics', async () => {
    const signer = new ValueSigner(signingKey({ redisUrl: redis.url, keyPrefix: PREFIX }));
    const forger = new ValueSigner(Buffer.from('a key that is not this deployment one'));
    // Every series feedback can create exists first: a real prediction and its feedback, an unknown id.
    const real = await postJson(app(), '/predict', { model: 'iris', instances: [setosaRows[0]] });
    expect(real.body.variant).toBeDefined();
    await waitFor(async () => (await peek.exists(`${PREFIX}feedback:${real.body.id}`)) === 1, 'the record in Redis');
    const record = await peek.get(`${PREFIX}feedback:${real.body.id}`);
    expect((await postJson(app(), '/feedback', { id: newPredictionId(), label: 'setosa' })).status).toBe(404);
    const otherReplica = await startApp({
      MODEL_DIR: repo.dir,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: PREFIX,
      REDIS_TIMEOUT_MS: '1000',
    });
    try {
      expect(await postJson(otherReplica, '/feedback', { id: real.body.id, label: 'setosa' })).toMatchObject({
        status: 200,
        body: { correct: true },
      }); // a signed record is joined
    } finally {
      await otherReplica.close();
    }
    expect((await postJson(app(), '/feedback', { id: real.body.id, label: 'setosa' })).status).toBe(409);

    const fitting = { model: 'iris', version: '1', variant: 'control', task: 'classification', rows: ['setosa'] };
    const planted: [string, (key: string) => string][] = [
      [
        '"model":"evil-model-1", as the issue planted it',
        () => JSON.stringify({ ...fitting, model: 'evil-model-1', variant: undefined }),
      ],
      ['"model":"__proto__"', () => JSON.stringify({ ...fitting, model: '__proto__' })],
      ['rows: [[]]', () => JSON.stringify({ ...fitting, rows: [[]] })],
      ['version "999"', () => JSON.stringify({ ...fitting, version: '999' })],
      ['a variant of its own', () => JSON.stringify({ ...fitting, variant: 'evil' })],
      ['a fitting record without the key, in the signed format', () => unsigned(fitting)],
      ['a fitting record signed with a wrong key', (key) => forger.sign(key, 2, fitting)],
      ["another prediction's record, copied", () => record!],
      [
        '"model":"evil-model-1", signed with the key',
        (key) => signer.sign(key, 2, { ...fitting, model: 'evil-model-1' }),
      ],
      ['version "999", signed with the key', (key) => signer.sign(key, 2, { ...fitting, version: '999' })],
      ['rows: [[]], signed with the key', (key) => signer.sign(key, 2, { ...fitting, rows: [[]] })],
      [
        'a regressor record for a classifier, signed with the key',
        (key) => signer.sign(key, 2, { ...fitting, task: 'regression', rows: [[1]] }),
      ],
      [
        '100,001 rows, signed with the key',
        (key) => signer.sign(key, 2, { ...fitting, rows: new Array(100_001).fill('setosa') }),
      ],
    ];
    await scrape(app()); // the scrape's own request series
    const before = await seriesOf(app());
    const unmatchedBefore = sample(await scrape(app()), 'ml_feedback_unmatched_total', { reason: 'unknown' })!;
    for (const [kind, value] of planted) {
      const id = newPredictionId();
      await peek.set(`${PREFIX}feedback:${id}`, value(`feedback:${id}`));
      const answer = await postJson(app(), '/feedback', { id, label: 'setosa' });
      expect({ kind, status: answer.status, code: answer.body.code }).toEqual({
        kind,
        status: 404,
        code: 'UNKNOWN_PREDICTION',
      });
    }
    const after = await seriesOf(app());
    expect([...after].filter((s) => !before.has(s))).toEqual([]);
    expect(sample(await scrape(app()), 'ml_feedback_unmatched_total', { reason: 'unknown' })).toBe(
      unmatchedBefore + planted.length,
    );
    const lines = app().logs.lines.filter((l) =>
      l.msg?.toString().startsWith('a prediction record in redis was not used'),
    );
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines[0])).not.toContain('evil');
    const warned = app().logs.lines.filter((l) => String(l.msg).startsWith('CACHE_HMAC_KEY is not set'));
    expect(warned).toMatchObject([{ level: 40 }]);
  });
});
