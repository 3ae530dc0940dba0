import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { RedisCache, type RedisErrorKind } from '../../src/adapters/redis-cache.js';
import { postJson, startApp, type CapturedLogs } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { RedisServer } from '../helpers/redis-server.js';
import { TempRepository, bundled } from '../helpers/repository.js';

const irisConfig = {
  task: 'classification',
  labels: ['setosa', 'versicolor', 'virginica'],
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name) => ({ name, min: 0, max: 10 })),
};
/** A row no other request of the file sends: every lookup misses L1. */
let rows = 0;
const uniqueRow = () => [4 + rows++ * 1e-5, 3, 1.5, 0.2];
const PREFIX = 'faults:';

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Eight clients sending rows never seen before, until stopped; every status kept. */
function keepLoading(app: FastifyInstance) {
  const statuses: number[] = [];
  let running = true;
  const clients = Array.from({ length: 8 }, async () => {
    while (running)
      statuses.push((await postJson(app, '/predict', { model: 'iris', instances: [uniqueRow()] })).status);
  });
  return {
    statuses,
    /** Resolves once `more` requests beyond those answered so far have been answered. */
    answered: (more: number) => {
      const target = statuses.length + more;
      return waitFor(() => statuses.length >= target, `${more} more answers`);
    },
    stop: async () => {
      running = false;
      await Promise.all(clients);
      return statuses;
    },
  };
}

const circuit = async (app: FastifyInstance) => {
  const metrics = await scrape(app);
  return (['closed', 'half_open', 'open'] as const).find(
    (state) => sample(metrics, 'ml_cache_redis_circuit', { state }) === 1,
  );
};

/** The circuit's log lines: one per state change, so never the same line twice in a row. */
const circuitLines = (logs: CapturedLogs) =>
  logs.lines.map((l) => String(l.msg)).filter((m) => m.startsWith('redis circuit'));

describe('Redis faults under load', () => {
  const repo = new TempRepository().addOnnx('iris', '1', bundled('iris'), irisConfig);
  let redis: RedisServer;
  let peek: Redis;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    peek = redis.client();
  });
  afterEach(async () => {
    redis.resume();
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await redis.start();
    await peek.flushall();
  });
  afterAll(async () => {
    peek.disconnect();
    await redis.stop();
    repo.remove();
  });

  const start = async () => {
    // L1 holds one row, so a row asked for again after another comes from Redis or not at all
    // CACHE_MIN_HIT_RATE=0: every row here is new, and under the default policy a model whose rows
    // never hit stops looking them up, so Redis would hardly be called at all.
    const app = await startApp({
      MODEL_DIR: repo.dir,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: PREFIX,
      REDIS_BREAKER_RESET_MS: '300',
      CACHE_MAX_ENTRIES: '1',
      CACHE_MIN_HIT_RATE: '0',
    });
    apps.push(app);
    return app;
  };

  /** A row written through to Redis, pushed out of L1 by another, then asked for again: a hit only Redis can give. */
  async function hitFromRedis(app: FastifyInstance) {
    const row = uniqueRow();
    expect((await postJson(app, '/predict', { model: 'iris', instances: [row] })).body.cached).toBe(false);
    await waitFor(async () => (await peek.keys(`${PREFIX}pred:*`)).length > 0, 'the row in Redis');
    await postJson(app, '/predict', { model: 'iris', instances: [uniqueRow()] });
    const hitsBefore = sample(await scrape(app), 'ml_cache_lookups_total', { tier: 'l2', result: 'hit' }) ?? 0;
    const again = await postJson(app, '/predict', { model: 'iris', instances: [row] });
    expect(again.body.cached).toBe(true);
    expect(sample(await scrape(app), 'ml_cache_lookups_total', { tier: 'l2', result: 'hit' })).toBe(hitsBefore + 1);
  }

  // Typed, or the array's type keeps the signals' void and drops the restart's promise that `await` waits for.
  const faults: { name: string; break: () => void | Promise<void>; repair: () => void | Promise<void> }[] = [
    { name: 'frozen (SIGSTOP)', break: () => redis.pause(), repair: () => redis.resume() },
    { name: 'killed', break: () => redis.stop(), repair: () => redis.start() },
  ];
  for (const fault of faults) {
    it(`Redis ${fault.name}: the breaker opens, every request is answered as a miss, and Redis is used again once repaired`, async () => {
      const app = await start();
      const load = keepLoading(app);
      try {
        await load.answered(50);
        // On a loaded machine a healthy Redis may miss the 50 ms timeout now and then and trip the
        // breaker; the fault is injected once it is closed again, so "open" below is the fault's doing.
        await waitFor(async () => (await circuit(app)) === 'closed', 'the circuit to be closed before the fault');
        await fault.break();
        await waitFor(async () => (await circuit(app)) === 'open', 'the circuit to open');
        const rejectedAtOpen = sample(await scrape(app), 'ml_cache_redis_errors_total', { kind: 'rejected' }) ?? 0;
        await load.answered(200); // with the circuit open (or probing, one call at a time)
        const down = await scrape(app);
        expect(sample(down, 'ml_cache_redis_errors_total', { kind: 'rejected' })).toBeGreaterThan(rejectedAtOpen);
        expect(sample(down, 'ml_cache_lookups_total', { tier: 'l2', result: 'hit' }) ?? 0).toBe(0);
        expect((await app.inject('/ready')).statusCode).toBe(200);

        await fault.repair();
        await waitFor(async () => (await circuit(app)) === 'closed', 'the circuit to close');
      } finally {
        await load.stop();
      }
      expect(load.statuses.length).toBeGreaterThan(250);
      expect(load.statuses.filter((s) => s !== 200)).toEqual([]);
      await hitFromRedis(app);

      const lines = circuitLines(app.logs);
      expect(lines[0]).toMatch(/^redis circuit open/);
      expect(lines.at(-1)).toMatch(/^redis circuit closed/);
      expect(lines.some((line, i) => line === lines[i - 1])).toBe(false);
    });
  }
});

describe('RedisCache breaker (the adapter alone)', () => {
  let redis: RedisServer;
  let cache: RedisCache;
  const errors: RedisErrorKind[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    const log = {
      info: (_: object, msg: string) => lines.push(msg),
      warn: (_: object, msg: string) => lines.push(msg),
    };
    cache = new RedisCache(
      { url: redis.url, keyPrefix: 'adapter:', timeoutMs: 50, resetMs: 300 },
      { redisError: (kind) => errors.push(kind), log },
    );
    await waitFor(() => lines.includes('redis connected'), 'the connection');
  });
  afterAll(async () => {
    redis.resume();
    await cache.close();
    await redis.stop();
  });

  it('while open sends nothing (answers at once, without a promise), probes one call at a time, and closes when a probe succeeds', async () => {
    cache.set('k', 'v', 60);
    expect(await cache.getMany(['k'])).toEqual(['v']);

    redis.pause();
    try {
      // commands written to the frozen socket time out, and count as failures until the circuit opens
      expect(await Promise.all(Array.from({ length: 20 }, () => cache.getMany(['k'])))).toEqual(
        Array.from({ length: 20 }, () => [null]),
      );
      expect(errors.filter((e) => e === 'timeout').length).toBeGreaterThanOrEqual(10);
      expect(cache.state).toBe('open');
      expect(cache.getMany(['k'])).toBeUndefined();
      expect(await cache.get('k')).toBeUndefined();
      expect(await cache.claim('c', 60)).toBeUndefined();
      expect(errors.filter((e) => e === 'rejected')).toHaveLength(3);

      // after the reset time one call goes through; the others are still turned away while it is out
      await waitFor(() => cache.state === 'half_open', 'half-open');
      const probe = cache.getMany(['k']);
      expect(probe).toBeInstanceOf(Promise);
      expect(cache.getMany(['k'])).toBeUndefined();
      expect(await probe).toEqual([null]); // still frozen: it times out and the circuit opens again
      expect(cache.state).toBe('open');
    } finally {
      redis.resume();
    }
    // the next probe that gets an answer within the timeout closes it (a loaded machine may need more than one)
    await waitFor(async () => {
      if (cache.state === 'half_open') await cache.getMany(['k']);
      return cache.state === 'closed';
    }, 'a probe to succeed');
    expect(await cache.getMany(['k'])).toEqual(['v']);
    const circuitLog = lines.filter((l) => l.startsWith('redis circuit'));
    expect(circuitLog.slice(0, 4)).toEqual([
      'redis circuit open: not calling redis',
      'redis circuit half-open: probing',
      'redis circuit open: not calling redis',
      'redis circuit half-open: probing',
    ]);
    expect(circuitLog.at(-1)).toBe('redis circuit closed: cache shared again');
    expect(circuitLog.some((line, i) => line === circuitLog[i - 1])).toBe(false);
  });
});
