import { afterAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { TempRepository, bundled, fixture } from '../helpers/repository.js';
import { postJson, startApp } from '../helpers/app.js';
import { sample } from '../helpers/metrics.js';

async function waitForMetrics(url: string, done: (text: string) => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done(await (await fetch(`${url}/metrics`)).text())) {
    if (Date.now() > deadline) throw new Error('the server never received every request');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const heavyRow = (seed = 0) => Array.from({ length: 1024 }, (_, i) => Math.cos(i + seed));

describe('graceful shutdown', () => {
  const repo = new TempRepository().addOnnx('heavy', '1', fixture('heavy.onnx')).addOnnx('iris_raw', '1', bundled('iris'));
  afterAll(() => repo.remove());

  it('finishes every in-flight request after SIGTERM, then exits 0', async () => {
    const server = await ServerProcess.start({ MODEL_DIR: repo.dir, INFERENCE_WORKERS: '2', SHUTDOWN_TIMEOUT_MS: '30000' });
    await server.waitUntilReady();

    const inFlight = Array.from({ length: 10 }, (_, i) =>
      fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(i % 2 ? { model: 'heavy', instances: [heavyRow(i), heavyRow(i + 100), heavyRow(i + 200)] } : { model: 'iris_raw', instances: [[5.1, 3.5, 1.4, 0.2]] }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> })),
    );
    // SIGTERM once the server has received all ten (answered or in flight): a connection with
    // no request on it yet counts as idle and is closed, which is not what this test is about.
    await waitForMetrics(server.url, (text) => (sample(text, 'http_requests_in_flight')! - 1) + (sample(text, 'http_request_duration_seconds_count', { route: '/predict' }) ?? 0) >= 10);
    const exit = server.stop('SIGTERM');
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 200));
    expect(await exit).toBe(0);
    const messages = server.logs.map((l) => l.msg);
    expect(messages).toContain('shutting down: draining in-flight requests');
    expect(messages).toContain('shut down cleanly');
    // after the drain, nothing listens any more
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  it('turns /ready to 503 the moment shutdown starts, while requests still drain', async () => {
    const app = await startApp({ MODEL_DIR: repo.dir, INFERENCE_WORKERS: '1' });
    const slow = postJson(app, '/predict', { model: 'heavy', instances: Array.from({ length: 8 }, (_, i) => heavyRow(i)) });
    await new Promise((r) => setTimeout(r, 50));
    const closing = app.close();
    await new Promise((r) => setImmediate(r)); // close() runs its preClose hooks on the next turn
    expect(app.readiness()).toEqual({ ready: false, status: 'draining' });
    expect((await slow).status).toBe(200);
    await closing;
  });
});
