import { afterAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../helpers/server-process.js';
import { TempRepository, bundled, fixture } from '../helpers/repository.js';
import { postJson, startApp } from '../helpers/app.js';
import { sample } from '../helpers/metrics.js';
import { stalledClient, startDrainLoad } from '../helpers/shutdown-clients.js';

async function waitForMetrics(url: string, done: (text: string) => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done(await (await fetch(`${url}/metrics`)).text())) {
    if (Date.now() > deadline) throw new Error('the server never received every request');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const heavyRow = (seed = 0) => Array.from({ length: 1024 }, (_, i) => Math.cos(i + seed));

/** Until the server has started this many requests besides the /metrics request asking. */
const requestsStarted = (url: string, n: number) =>
  waitForMetrics(url, (text) => sample(text, 'http_requests_in_flight')! - 1 >= n);

/** A distinct iris row per request, so the load runs inference rather than cache hits. */
const irisRequest = (i: number) => ({
  path: '/predict',
  json: { model: 'iris_raw', instances: [[4.5 + (i % 300) / 100, 3.5, 1.4, 0.2]] },
});

describe('graceful shutdown', () => {
  const repo = new TempRepository()
    .addOnnx('heavy', '1', fixture('heavy.onnx'))
    .addOnnx('iris_raw', '1', bundled('iris'));
  afterAll(() => repo.remove());

  it('finishes every in-flight request after SIGTERM, then exits 0', async () => {
    const server = await ServerProcess.start({
      MODEL_DIR: repo.dir,
      INFERENCE_WORKERS: '2',
      SHUTDOWN_TIMEOUT_MS: '30000',
    });
    await server.waitUntilReady();

    const inFlight = Array.from({ length: 10 }, (_, i) =>
      fetch(`${server.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          i % 2
            ? { model: 'heavy', instances: [heavyRow(i), heavyRow(i + 100), heavyRow(i + 200)] }
            : { model: 'iris_raw', instances: [[5.1, 3.5, 1.4, 0.2]] },
        ),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> })),
    );
    // SIGTERM once the server has received all ten (answered or in flight): a connection with
    // no request on it yet counts as idle and is closed, which is not what this test is about.
    await waitForMetrics(
      server.url,
      (text) =>
        sample(text, 'http_requests_in_flight')! -
          1 +
          (sample(text, 'http_request_duration_seconds_count', { route: '/predict' }) ?? 0) >=
        10,
    );
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
    const slow = postJson(app, '/predict', {
      model: 'heavy',
      instances: Array.from({ length: 8 }, (_, i) => heavyRow(i)),
    });
    await new Promise((r) => setTimeout(r, 50));
    const closing = app.close();
    await new Promise((r) => setImmediate(r)); // close() runs its preClose hooks on the next turn
    expect(app.readiness()).toEqual({ ready: false, status: 'draining' });
    expect((await slow).status).toBe(200);
    await closing;
  });

  it('SIGTERM under keep-alive load from 16 connections: /ready 503 while the listener serves on, 0 resets, 0 failed requests, exit 0', async () => {
    // A delay long enough for the prober (every 20 ms) to see 503 on a noisy machine.
    const server = await ServerProcess.start({
      MODEL_DIR: repo.dir,
      INFERENCE_WORKERS: '1',
      SHUTDOWN_DELAY_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    await server.waitUntilReady();
    const load = startDrainLoad({ url: server.url, connections: 16, body: irisRequest, followEndpoints: true });
    while (load.current.requests < 200) await new Promise((r) => setTimeout(r, 10));

    const exit = server.stop('SIGTERM');
    const result = await load.done;
    expect(await exit).toBe(0);
    expect(result.resets).toBe(0);
    expect(result.errors).toEqual({});
    expect(Object.keys(result.statuses)).toEqual(['200']);
    expect(result.requests).toBeGreaterThanOrEqual(200);
    // The prober's 503 came over a new connection: the listener was still accepting after SIGTERM.
    expect(result.ready['503']).toBeGreaterThanOrEqual(1);
    expect(result.ready['refused']).toBe(1);
    const messages = server.logs.map((l) => l.msg);
    expect(messages).toContain('shutdown delay over: closing the listener');
    expect(messages).not.toContain('shutdown grace over: destroying the connections still open');
    expect(messages).toContain('shut down cleanly');
  });

  it('SIGTERM with a client stalled mid-body: its connection is destroyed when the grace ends, exit 0', async () => {
    // The request timeout is far away: only the shutdown grace can end the stalled request.
    const server = await ServerProcess.start({
      MODEL_DIR: repo.dir,
      INFERENCE_WORKERS: '1',
      SHUTDOWN_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '600000',
    });
    await server.waitUntilReady();
    const stalled = stalledClient(server.url, 'body');
    await requestsStarted(server.url, 1);

    // Exit 0 comes from the drain; close-with-grace's own deadline, past it, would exit 1.
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(await stalled.closed).toBe('');
    const destroyed = server.logs.find((l) => l.msg === 'shutdown grace over: destroying the connections still open');
    expect(destroyed?.connections).toBe(1);
    expect(server.logs.map((l) => l.msg)).toContain('shut down cleanly');
  });

  it('closes half-sent headers and bodies with 408 at the configured timeouts, while /health keeps answering', async () => {
    const server = await ServerProcess.start({
      MODEL_DIR: repo.dir,
      INFERENCE_WORKERS: '1',
      HTTP_HEADERS_TIMEOUT_MS: '300',
      HTTP_REQUEST_TIMEOUT_MS: '600',
    });
    try {
      await server.waitUntilReady();
      const midBody = stalledClient(server.url, 'body');
      const midHeaders = stalledClient(server.url, 'headers');
      let closedBoth = false;
      const both = Promise.all([midBody.closed, midHeaders.closed]).finally(() => (closedBoth = true));
      const health: number[] = [];
      // A bound so that a server without the timeouts fails the assertions instead of hanging here.
      const giveUp = Date.now() + 20_000;
      while (!closedBoth && Date.now() < giveUp) health.push((await fetch(`${server.url}/health`)).status);
      for (const client of [midBody, midHeaders]) client.socket.destroy(); // no-op once the server closed them
      const [bodyAnswer, headersAnswer] = await both;
      expect(bodyAnswer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(headersAnswer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(health.length).toBeGreaterThan(0);
      expect(new Set(health)).toEqual(new Set([200]));
    } finally {
      await server.stop('SIGTERM');
    }
  });
});
