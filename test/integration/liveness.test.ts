import { monitorEventLoopDelay } from 'node:perf_hooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { OnnxServeClient } from '../../src/client/index.js';
import { appFor, appsPerTest } from '../helpers/app.js';
import { TempRepository, fixture } from '../helpers/repository.js';

/**
 * onnxruntime-node's session.run() blocks the thread it runs on. With inference on worker
 * threads, /health keeps answering while every worker is saturated by a deliberately heavy
 * model. The check is an ordering, not a timing: all /health calls finish while the heavy
 * predictions are still running. Were inference on the main thread, each /health call would
 * wait for a whole inference and the predictions would finish first.
 */
describe('liveness under saturating inference', () => {
  const repo = new TempRepository().addOnnx('heavy', '1', fixture('heavy.onnx'));
  const app = appFor({ INFERENCE_WORKERS: '2', ORT_INTRA_OP_THREADS: '1', CACHE_ENABLED: 'false' }, repo);
  let base: string;

  beforeAll(async () => {
    base = await app().listen({ host: '127.0.0.1', port: 0 });
  });

  it('answers /health while heavy predictions saturate every worker', async () => {
    const row = (seed: number) => Array.from({ length: 1024 }, (_, i) => Math.sin(i + seed));
    let predictionsDone = false;
    const predictions = Promise.all(
      Array.from({ length: 8 }, (_, request) =>
        new OnnxServeClient(base)
          .predictMany(
            'heavy',
            Array.from({ length: 6 }, (_, r) => row(request * 6 + r)),
          )
          .then((answer) => answer.predictions!.length),
      ),
    ).finally(() => (predictionsDone = true));

    await new Promise((r) => setTimeout(r, 100)); // let the workers pick the tasks up
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const healthTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const response = await fetch(`${base}/health`);
      expect(response.status).toBe(200);
      healthTimes.push(performance.now() - started);
      expect(predictionsDone).toBe(false);
    }
    delay.disable();
    const answered = await predictions; // rows answered per request; an error answer throws
    expect(answered).toEqual(Array.from({ length: 8 }, () => 6));
    const sorted = [...healthTimes].sort((a, b) => a - b);
    console.log(
      `/health under load: p50 ${sorted[10]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; ` +
        `event-loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`,
    );
  });
});

describe('worker threads yield to the event loop', () => {
  const start = appsPerTest();

  it('runs inference and decode threads at WORKER_NICE below the event loop (Linux nice is per thread)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    /** The nice value of every thread of this process: field 19 of /proc/self/task/<tid>/stat. */
    const niceValues = () =>
      readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    const before = niceValues().filter((n) => n === 7).length;
    const app = await start({ INFERENCE_WORKERS: '2', WORKER_NICE: '7', JSON_DECODE_WORKERS: '1' });
    // the decode worker starts with the first body large enough to be decoded off the event loop
    // (it exits when idle), and sets its priority as it starts
    const large = {
      model: 'iris',
      instances: Array.from({ length: 3000 }, (_, i) => [5.000001 + i / 1e6, 3.000001, 1.500001, 0.200001]),
    };
    expect(JSON.stringify(large).length).toBeGreaterThan(64 * 1024);
    const answer = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(large),
    });
    expect(answer.statusCode).toBe(200);
    const lowered = () => niceValues().filter((n) => n === 7).length - before;
    for (let i = 0; i < 100 && lowered() < 3; i++) await new Promise((r) => setTimeout(r, 50));
    expect(lowered()).toBeGreaterThanOrEqual(3); // 2 inference workers (and their onnxruntime threads), 1 decoder
    expect(niceValues()[0]).toBe(0); // the main thread keeps its priority
  });
});
