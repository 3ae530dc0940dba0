import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { appsPerTest, postJson } from '../helpers/app.js';
import { HeldRuntime } from '../helpers/held-runtime.js';
import { sample, scrape } from '../helpers/metrics.js';
import { bundled, fixture, TempRepository } from '../helpers/repository.js';
import { OnnxRuntime } from '../../src/runtime/onnx-runtime.js';

const SETOSA = [5.1, 3.5, 1.4, 0.2]; // version 1 answers setosa, version 2 virginica
const OUTCOMES = ['agree', 'disagree', 'compared', 'failed', 'shed'];
const isShadowVersion = (key: string) => key.startsWith('iris@2');

/** iris version 1 serves every request that names no version; version 2 is its shadow at fraction 1, or is not. */
function repository(withShadow: boolean): TempRepository {
  const config = JSON.parse(readFileSync(new URL('../../models/iris/model.json', import.meta.url), 'utf8'));
  delete config.card;
  config.traffic = {
    variants: [{ name: 'stable', version: 1, weight: 1 }],
    ...(withShadow ? { shadows: [{ name: 'candidate', version: 2, fraction: 1 }] } : {}),
  };
  return new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), config)
    .addOnnx('iris', '2', fixture('iris_like.onnx'));
}

/**
 * Waits for a condition the server reaches on its own, without a deadline of its own: vitest's test
 * timeout bounds it.
 */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 5));
}

const outcomes = async (app: FastifyInstance) => {
  const text = await scrape(app);
  return Object.fromEntries(
    OUTCOMES.map((o) => [
      o,
      sample(text, 'ml_shadow_requests_total', { model: 'iris', shadow: 'candidate', outcome: o }) ?? 0,
    ]),
  );
};
const predict = (app: FastifyInstance, rows = 1) =>
  postJson(app, '/predict', { model: 'iris', instances: Array.from({ length: rows }, () => SETOSA) });
const stats = (app: FastifyInstance, version: string) =>
  app.dataPlane.batchStats().find((s) => s.model === 'iris' && s.version === version) ?? {
    queuedRows: 0,
    inflightBatches: 0,
  };

describe('shadows are shed first: a client request is never refused nor queued for one (real sessions, runs held)', () => {
  const started = appsPerTest();

  async function start(withShadow: boolean, env: Record<string, string> = {}) {
    const repo = repository(withShadow);
    const runtime = new HeldRuntime(
      new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 }),
    );
    const app = await started(
      {
        CACHE_ENABLED: 'false',
        BATCH_MAX_QUEUE_ROWS: '4',
        SHADOW_MAX_INFLIGHT: '2',
        SHADOW_TIMEOUT_MS: '600000',
        ...env,
      },
      { runtime },
      repo,
    );
    return { app, runtime };
  }

  /**
   * Three requests answered while the shadow's runs are held (one shadow on the worker, one queued
   * in the background lane, the third shed at SHADOW_MAX_INFLIGHT), then, with every run held, a
   * burst of 12: one runs, the queue takes 4, the rest are refused. What the burst saw, and after.
   */
  async function saturate(withShadow: boolean) {
    const { app, runtime } = await start(withShadow);
    runtime.hold(isShadowVersion);
    for (let i = 0; i < 3; i++) expect((await predict(app)).status).toBe(200);
    if (withShadow) await until(() => runtime.waiting === 1 && stats(app, '2').queuedRows === 1);

    runtime.hold();
    const answers: number[] = [];
    const burst = Array.from({ length: 12 }, () => predict(app).then((r) => answers.push(r.status)));
    const client = () => stats(app, '1');
    await until(() => answers.length + client().queuedRows + client().inflightBatches === 12);
    const during = {
      refused: answers.length,
      refusals: [...answers],
      client: { ...client() },
      shadow: { ...stats(app, '2') },
    };
    runtime.release();
    await Promise.all(burst);
    return { app, during, answers };
  }

  it("a saturating burst gets exactly the refusals it gets without shadows; the shadows are shed, and the client run does not wait for the shadow's", async () => {
    const plain = await saturate(false);
    const shadowed = await saturate(true);
    expect(plain.during.refusals.every((status) => status === 503)).toBe(true);
    expect(shadowed.during.refused).toBe(plain.during.refused);
    expect(shadowed.during.refused).toBe(12 - 1 - 4);
    expect(shadowed.answers.filter((s) => s === 200)).toHaveLength(5);
    // While the burst came, the shadow held a run and had another queued, and a client batch ran beside it anyway.
    expect(shadowed.during.client).toEqual({ model: 'iris', version: '1', queuedRows: 4, inflightBatches: 1 });
    expect(shadowed.during.shadow).toMatchObject({ queuedRows: 1, inflightBatches: 1 });
    // Of the 8 answered requests: the first two mirrored (setosa against virginica), the third and the burst's 5 shed.
    await until(async () => (await outcomes(shadowed.app)).disagree === 2);
    expect(await outcomes(shadowed.app)).toEqual({ agree: 0, disagree: 2, compared: 0, failed: 0, shed: 6 });
  });

  it('sheds a shadow while requests in flight hold over half of MAX_INFLIGHT_ROWS, and mirrors it below', async () => {
    const { app } = await start(true, { MAX_INFLIGHT_ROWS: '10', MAX_REQUEST_ROWS: '10', BATCH_MAX_QUEUE_ROWS: '64' });
    expect((await predict(app, 6)).status).toBe(200); // 6 of 10 rows held when it is sampled
    expect((await predict(app, 5)).status).toBe(200); // 5 of 10: not over half
    await until(async () => (await outcomes(app)).disagree === 5);
    expect(await outcomes(app)).toEqual({ agree: 0, disagree: 5, compared: 0, failed: 0, shed: 6 });
  });

  it("a shadow past SHADOW_TIMEOUT_MS: still queued it is shed, running it failed; the clients' answers are not touched", async () => {
    const { app, runtime } = await start(true, { SHADOW_TIMEOUT_MS: '50' });
    runtime.hold(isShadowVersion);
    const first = await predict(app);
    await until(() => runtime.waiting === 1); // the first shadow runs, held
    const second = await predict(app); // its shadow waits behind it in the background lane
    expect([first.status, second.status, first.body.predictions[0].label]).toEqual([200, 200, 'setosa']);
    await until(async () => (await outcomes(app)).shed === 1); // the queued one's deadline passed
    runtime.release();
    await until(async () => (await outcomes(app)).failed === 1); // the running one's had passed too
    expect(await outcomes(app)).toEqual({ agree: 0, disagree: 0, compared: 0, failed: 1, shed: 1 });
  });
});
