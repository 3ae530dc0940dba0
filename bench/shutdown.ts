/**
 * SIGTERM and stalled clients against the real server process (src/server.ts through tsx), on
 * loopback: `npx tsx bench/shutdown.ts`. Prints one table; figures in docs/reliability.md.
 *
 * - keep-alive load from 16 connections, clients that follow the endpoint (Kubernetes), then
 *   clients pinned to this pod that reconnect until refused, with and without SHUTDOWN_DELAY_MS;
 * - a client stalled mid-body at SIGTERM (the grace has to destroy it);
 * - a half-sent body with no SIGTERM: when the server answers 408, and /health meanwhile.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, saveResults } from './lib.js';
import { ServerProcess } from '../test/helpers/server-process.js';
import { stalledClient, startDrainLoad, type DrainLoadResult } from '../test/helpers/shutdown-clients.js';

const repo = mkdtempSync(join(tmpdir(), 'bench-shutdown-'));
mkdirSync(join(repo, 'iris_raw', '1'), { recursive: true });
copyFileSync(
  new URL('../models/iris/1/model.onnx', import.meta.url).pathname,
  join(repo, 'iris_raw', '1', 'model.onnx'),
);

const irisRequest = (i: number) => ({
  path: '/predict',
  json: { model: 'iris_raw', instances: [[4.5 + (i % 300) / 100, 3.5, 1.4, 0.2]] },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN;

interface Row {
  scenario: string;
  requests: number | string;
  failures: number | string;
  resets: number | string;
  refused: number | string;
  'ready 503': number | string;
  'exit ms': number | string;
  exit: number | null | string;
  note: string;
}

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await ServerProcess.start({ MODEL_DIR: repo, INFERENCE_WORKERS: '1', ...env });
  await server.waitUntilReady();
  return server;
}

async function stopTimed(server: ServerProcess): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  const code = await server.stop('SIGTERM');
  return { code, ms: Math.round(performance.now() - t0) };
}

const failures = (r: DrainLoadResult) =>
  Object.entries(r.statuses)
    .filter(([status]) => Number(status) >= 300)
    .reduce((n, [, c]) => n + c, 0) + Object.values(r.errors).reduce((n, c) => n + c, 0);

async function underLoad(scenario: string, env: Record<string, string>, followEndpoints: boolean): Promise<Row> {
  const server = await start(env);
  const load = startDrainLoad({ url: server.url, connections: 16, body: irisRequest, followEndpoints });
  await sleep(2000);
  const before = load.current.requests;
  const exit = stopTimed(server);
  const result = await load.done;
  const { code, ms } = await exit;
  return {
    scenario,
    requests: result.requests,
    failures: failures(result),
    resets: result.resets,
    refused: result.refused,
    'ready 503': result.ready['503'] ?? 0,
    'exit ms': ms,
    exit: code,
    note: `${result.requests - before} answered after SIGTERM; ${JSON.stringify(result.statuses)}${Object.keys(result.errors).length ? ` errors ${JSON.stringify(result.errors)}` : ''}`,
  };
}

async function stalledAtSigterm(): Promise<Row> {
  const server = await start({ SHUTDOWN_DELAY_MS: '1000', SHUTDOWN_TIMEOUT_MS: '3000' });
  const stalled = stalledClient(server.url, 'body');
  await sleep(300);
  const { code, ms } = await stopTimed(server);
  const answer = await stalled.closed;
  return {
    scenario: 'client stalled mid-body, SIGTERM (delay 1 s, grace 3 s)',
    requests: 1,
    failures: '-',
    resets: '-',
    refused: '-',
    'ready 503': '-',
    'exit ms': ms,
    exit: code,
    note: `the stalled connection was destroyed${answer ? ` after ${JSON.stringify(answer.slice(0, 30))}` : ' (no answer)'}`,
  };
}

async function halfSentBody(): Promise<Row> {
  const server = await start({ HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' });
  const t0 = performance.now();
  const stalled = stalledClient(server.url, 'body');
  let closedAt = 0;
  void stalled.closed.then(() => (closedAt = performance.now()));
  const health: number[] = [];
  const statuses = new Set<number>();
  while (!closedAt) {
    const h0 = performance.now();
    statuses.add((await fetch(`${server.url}/health`)).status);
    health.push(performance.now() - h0);
    await sleep(20);
  }
  const answer = await stalled.closed;
  const { code } = await stopTimed(server);
  return {
    scenario: 'half-sent body, HTTP_REQUEST_TIMEOUT_MS=2000 (no SIGTERM)',
    requests: 1,
    failures: '-',
    resets: '-',
    refused: '-',
    'ready 503': '-',
    'exit ms': '-',
    exit: code,
    note: `${answer.split('\r\n')[0]} after ${Math.round(closedAt - t0)} ms; /health ${[...statuses].join(',')} x${health.length}, p50 ${percentile(health, 0.5).toFixed(1)} ms, max ${Math.max(...health).toFixed(1)} ms`,
  };
}

try {
  const rows: Row[] = [];
  const drain = { SHUTDOWN_DELAY_MS: '2000', SHUTDOWN_TIMEOUT_MS: '5000' };
  rows.push(await underLoad('SIGTERM, 16 keep-alive clients following the endpoint (delay 2 s)', drain, true));
  rows.push(await underLoad('SIGTERM, 16 keep-alive clients pinned to the pod (delay 2 s)', drain, false));
  rows.push(
    await underLoad(
      'SIGTERM, 16 keep-alive clients pinned to the pod (delay 0)',
      { SHUTDOWN_DELAY_MS: '0', SHUTDOWN_TIMEOUT_MS: '5000' },
      false,
    ),
  );
  rows.push(await stalledAtSigterm());
  rows.push(await halfSentBody());
  console.table(rows);
  console.log('written to', saveResults('shutdown.json', { machine: machine(), rows }));
  console.log(
    'failures: non-2xx answers and errors other than resets on requests the server accepted; resets: ECONNRESET or hang-up on a sent request; ' +
      'refused: new connections after the listener closed (in a cluster, another pod takes them); exit ms: SIGTERM to exit.',
  );
} finally {
  rmSync(repo, { recursive: true, force: true });
}
