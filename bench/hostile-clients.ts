/**
 * Hostile clients (issue #19): what a few sockets can make the server hold. dist/server.js runs with
 * the k8s ConfigMap's settings inside a memory cgroup of the pod's limit (k8s/deployment.yaml, 2 Gi;
 * where one can be made here: root, cgroup v1 or v2), and faces in turn:
 *   1. 10 connections, each pipelining 20,000 GET /openapi.json (125 KB answers) and never reading;
 *      then the same for /metrics;
 *   2. pipelining after errors: 200 connections of a body that is not JSON, with a POST declaring
 *      4 MiB pipelined behind it, hung up after the first answer;
 *   3. disconnects: 5 connections of 200 pipelined /predict requests each, hung up at once.
 * Each prints: whether the process lived, its peak RSS against the limit, /health p50/p99/max from
 * a process of its own throughout, the in-flight gauges at their peak and a second after the sockets
 * closed, and the status of a normal request then. Targets: alive, RSS <= 75% of the limit, /health
 * p99 < 100 ms, every gauge 0 and a 200 after. Writes bench/results/hostile-clients.json.
 *   npm run build && npx tsx bench/hostile-clients.ts   (HOSTILE_SECONDS=10 per flood)
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { holdoutRow, MODELS } from './bundled-model.js';
import { podMemoryLimit, podSettings } from './k8s-settings.js';
import { machine, saveResults, type HealthSamples } from './lib.js';
import { memoryCgroup } from './memory-cgroup.js';
import { ChildServer } from './servers.js';

const SECONDS = Number(process.env.HOSTILE_SECONDS ?? 10);
const MiB = 1024 ** 2;
const repo = new URL('../', import.meta.url).pathname;
const podLimit = Number(/^(\d+)Gi$/.exec(podMemoryLimit)?.[1] ?? NaN) * 1024 ** 3;
if (!Number.isFinite(podLimit)) throw new Error(`the pod limit ${podMemoryLimit} is not in Gi`);

const cgroup = memoryCgroup('onnx-serve-hostile-clients', podLimit);
const { PORT: _port, HOST: _host, ...settings } = podSettings;
const env = { ...settings, MODEL_DIR: MODELS, LOG_LEVEL: 'warn', MALLOC_ARENA_MAX: '2' };
const server = await ChildServer.start('dist/server.js', env, '/ready', cgroup?.prefix ?? []);
const port = Number(new URL(server.url).port);
const pid = server.pid!;

const rssBytes = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
};

/** What the server holds for requests in flight, from its own gauges. */
async function gauges(): Promise<{ requests: number; bytes: number; rows: number } | undefined> {
  const text = await fetch(`${server.url}/metrics`).then(
    (r) => r.text(),
    () => undefined,
  );
  if (text === undefined) return undefined;
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
  // The scrape itself is one request in flight.
  return {
    requests: value(/^http_requests_in_flight (\S+)$/m) - 1,
    bytes: value(/^ml_inflight_held\{resource="bytes"\} (\S+)$/m),
    rows: value(/^ml_inflight_held\{resource="rows"\} (\S+)$/m),
  };
}

/** /health every 20 ms from a process of its own (bench/health-sampler.mjs) while `run` goes on. */
async function withHealth<T>(seconds: number, run: () => Promise<T>): Promise<{ result: T; health: HealthSamples }> {
  const sampler = promisify(execFile)(process.execPath, [
    join(repo, 'bench/health-sampler.mjs'),
    `${server.url}/health`,
    String(seconds),
    '20',
  ]);
  const result = await run();
  const health = JSON.parse((await sampler).stdout) as HealthSamples;
  return { result, health };
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

export interface HostileRow {
  scenario: string;
  alive: boolean;
  'RSS before / peak MiB': string;
  'peak / limit': number;
  'health p50 / p99 / max ms': string;
  'health failures': number;
  'in flight at peak': number;
  'gauges 1 s after (requests, bytes, rows)': string;
  'next request': number;
  target: string;
}

const rows: HostileRow[] = [];

/** Runs one scenario with RSS sampled every 50 ms and the gauges every 250 ms, then checks the aftermath. */
async function scenario(name: string, seconds: number, attack: () => Promise<() => void>): Promise<void> {
  const before = rssBytes();
  let peak = before;
  let inFlightPeak = 0;
  const rss = setInterval(() => (peak = Math.max(peak, rssBytes())), 50);
  const gauge = setInterval(
    () => void gauges().then((g) => g && (inFlightPeak = Math.max(inFlightPeak, g.requests))),
    250,
  );
  const { result: hangUp, health } = await withHealth(seconds, async () => {
    const hangUp = await attack();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return hangUp;
  });
  hangUp();
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(rss);
  clearInterval(gauge);
  const after = await gauges();
  const next = await fetch(`${server.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'iris', instances: [holdoutRow('iris')] }),
  }).then(
    (r) => r.status,
    () => 0,
  );
  const alive = server.alive;
  const ofLimit = +(peak / podLimit).toFixed(2);
  const drained = after !== undefined && after.requests === 0 && after.bytes === 0 && after.rows === 0;
  const met = alive && ofLimit <= 0.75 && health.p99Ms < 100 && health.failures === 0 && drained && next === 200;
  rows.push({
    scenario: name,
    alive,
    'RSS before / peak MiB': `${Math.round(before / MiB)} / ${Math.round(peak / MiB)}`,
    'peak / limit': ofLimit,
    'health p50 / p99 / max ms': `${health.p50Ms} / ${health.p99Ms} / ${health.maxMs}`,
    'health failures': health.failures,
    'in flight at peak': inFlightPeak,
    'gauges 1 s after (requests, bytes, rows)': after
      ? `${after.requests}, ${after.bytes}, ${after.rows}`
      : 'no answer',
    'next request': next,
    target: met ? 'met' : 'MISSED',
  });
  console.log(rows.at(-1));
}

/** Writes `count` copies of a request on each of `connections` sockets and never reads an answer. */
async function pipelineWithoutReading(connections: number, request: string, count: number): Promise<() => void> {
  const sockets = await Promise.all(Array.from({ length: connections }, connect));
  const burst = Buffer.from(request.repeat(count));
  for (const socket of sockets) {
    socket.pause(); // never read: the kernel's buffers fill, then the server's
    socket.on('error', () => {});
    socket.write(burst);
  }
  return () => sockets.forEach((s) => s.destroy());
}

for (const path of ['/openapi.json', '/metrics']) {
  await scenario(`10 connections pipelining 20,000 GET ${path} without reading`, SECONDS, () =>
    pipelineWithoutReading(10, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, 20_000),
  );
}

await scenario(
  'pipelining after errors: 200 connections of `{x}` then a POST declaring 4 MiB, hung up',
  3,
  async () => {
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const socket = await connect();
      sockets.push(socket);
      socket.on('error', () => {});
      socket.once('data', () => socket.destroy()); // the first answer (400), then hang up
      const post = (length: number, body: string) =>
        `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${body}`;
      socket.write(post(3, '{x}') + post(4 * MiB, '{'));
    }
    return () => sockets.forEach((s) => s.destroy());
  },
);

const predict = JSON.stringify({ model: 'iris', instances: [holdoutRow('iris')] });
await scenario('disconnects: 5 connections x 200 pipelined /predict, hung up at once', 3, async () => {
  const request = `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(predict)}\r\n\r\n${predict}`;
  const hangUp = await pipelineWithoutReading(5, request, 200);
  hangUp();
  return () => {};
});

const oomKills = cgroup?.oomKills() ?? 0;
const cgroupPeak = cgroup?.peakBytes();
await server.stop().catch(() => {});
cgroup?.remove();
const bound = cgroup
  ? `a memory cgroup of ${podMemoryLimit}`
  : `no memory cgroup could be made here: the process ran unbounded (RSS compared with ${podMemoryLimit})`;
console.log(
  `\nserver: k8s ConfigMap settings, ${bound}; ${oomKills} OOM kills${cgroupPeak ? `, cgroup peak ${Math.round(cgroupPeak / MiB)} MiB` : ''}\n`,
);
console.log(
  `| ${Object.keys(rows[0]!).join(' | ')} |\n| ${Object.keys(rows[0]!)
    .map(() => '---')
    .join(' | ')} |`,
);
for (const row of rows) console.log(`| ${Object.values(row).join(' | ')} |`);
console.log(
  '\nwritten to',
  saveResults('hostile-clients.json', {
    machine: machine(),
    limit: podMemoryLimit,
    cgroup: Boolean(cgroup),
    oomKills,
    cgroupPeakMiB: cgroupPeak && Math.round(cgroupPeak / MiB),
    rows,
  }),
);
if (rows.some((r) => r.target !== 'met')) process.exitCode = 1;
