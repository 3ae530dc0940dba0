/**
 * npm run bench: the service against the limits of this machine, side by side in one run.
 *   1. tabular JSON (breast_cancer, cache off): service vs a bare Fastify route with the same body
 *      and a same-size response (the HTTP ceiling);
 *   2. the heavy model (digits_large) over binary input, cache off: service vs onnxruntime
 *      in-process at its best batch size with the same thread budget (the compute ceiling), and vs
 *      the naive server (one session.run per request on the main thread);
 *   3. cache hits vs the HTTP ceiling;
 *   4. /health latency and the service's event-loop delay while the heavy model saturates the CPU.
 * Every server runs in its own process (the service as built, dist/server.js, as in production);
 * autocannon (as a library) drives them from this one. Each measured run follows an unmeasured
 * warm-up at the same concurrency (BENCH_WARMUP_SECONDS, default 1), and records the CPU the server
 * (its main thread, and all its threads) and the load generator used, from which the table says
 * what limited the figure (bench/cpu.ts, bench/lib.ts limitOf).
 * BENCH_SECONDS (default 5) per run, BENCH_CONNECTIONS (default 1,16,64).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { computeCeiling } from './compute-ceiling.js';
import { load, machine, saveResults, table, type LoadResult } from './lib.js';
import { ChildServer } from './servers.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connectionSets = (process.env.BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);
const cpus = availableParallelism();
const models = new URL('../models/', import.meta.url).pathname;
const serviceEnv = { MODEL_DIR: models, CACHE_ENABLED: 'false' };

const tabularRow = (JSON.parse(readFileSync(`${models}breast_cancer/holdout.json`, 'utf8')) as { rows: number[][] }).rows[0]!;
const tabularBody = JSON.stringify({ model: 'breast_cancer', instances: [tabularRow] });
const heavyRows = (JSON.parse(readFileSync(`${models}digits_large/holdout.json`, 'utf8')) as { rows: number[][] }).rows;
const heavyBody = Buffer.from(new Float32Array(heavyRows[0]!).buffer);
const heavyQuery = '/predict?model=digits_large&dtype=float32&shape=1,1,32,32';

async function answerOf(url: string, body: string | Buffer): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': typeof body === 'string' ? 'application/json' : 'application/octet-stream' }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.text();
}

const rows: LoadResult[] = [];
const ratios: Record<string, unknown>[] = [];
const pair = (name: string, ceiling: LoadResult, service: LoadResult) =>
  ratios.push({
    comparison: name,
    connections: service.connections,
    throughput: +(service.requestsPerSec / ceiling.requestsPerSec).toFixed(3),
    p99: +(service.p99Ms / Math.max(ceiling.p99Ms, 1)).toFixed(3),
  });

// 1 and 3: JSON against the HTTP ceiling (cache off, then cache on)
const service = await ChildServer.start('dist/server.js', serviceEnv, '/ready');
const cached = await ChildServer.start('dist/server.js', { MODEL_DIR: models }, '/ready');
const tabularAnswer = await answerOf(`${service.url}/predict`, tabularBody);
const bare = await ChildServer.start('bench/bare-server.ts', { BARE_RESPONSE: tabularAnswer });
await answerOf(`${cached.url}/predict`, tabularBody); // fills the cache
for (const c of connectionSets) {
  const ceiling = await load('bare Fastify, JSON (HTTP ceiling)', `${bare.url}/predict`, tabularBody, c, seconds, { pid: bare.pid });
  const svc = await load('service, tabular JSON', `${service.url}/predict`, tabularBody, c, seconds, { pid: service.pid });
  const hit = await load('service, cache hit', `${cached.url}/predict`, tabularBody, c, seconds, { pid: cached.pid });
  rows.push(ceiling, svc, hit);
  pair('tabular JSON / HTTP ceiling', ceiling, svc);
  pair('cache hit / HTTP ceiling', ceiling, hit);
}
await cached.stop();
await bare.stop();

// 2: the heavy model over binary input
const naive = await ChildServer.start('bench/naive-server.ts', { NAIVE_MODEL: `${models}digits_large/1/model.onnx`, NAIVE_THREADS: String(cpus) });
const heavyConnections = connectionSets.map((c) => Math.max(c, 1));
const heavyRuns: LoadResult[] = [];
for (const c of heavyConnections) {
  heavyRuns.push(await load('service, digits_large binary', `${service.url}${heavyQuery}`, heavyBody, c, seconds, { pid: service.pid }));
  heavyRuns.push(await load('naive server, digits_large binary', `${naive.url}/predict`, heavyBody, c, seconds, { pid: naive.pid }));
}
rows.push(...heavyRuns);
await naive.stop();
const workers = Number(process.env.INFERENCE_WORKERS ?? cpus);
const ceiling = await computeCeiling(`${models}digits_large/1/model.onnx`, workers, Math.max(1, Math.floor(cpus / workers)), Math.min(seconds, 3));
const bestService = heavyRuns.filter((r) => r.name.startsWith('service')).reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a));
const bestNaive = heavyRuns.filter((r) => r.name.startsWith('naive')).reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a));
ratios.push({ comparison: 'heavy binary / compute ceiling (best of each)', throughput: +(bestService.rowsPerSec / ceiling.best.rowsPerSec).toFixed(3) });
ratios.push({ comparison: 'heavy binary / naive server (best of each)', throughput: +(bestService.rowsPerSec / bestNaive.rowsPerSec).toFixed(3) });

// 4: /health while the heavy model saturates the service
const saturate = load('service, digits_large binary (saturating)', `${service.url}${heavyQuery}`, heavyBody, 64, seconds, { pid: service.pid, warmupSeconds: 0 });
await new Promise((r) => setTimeout(r, 500));
const health = await load('/health during saturation', `${service.url}/health`, undefined, 1, Math.max(1, seconds - 1), { warmupSeconds: 0 });
rows.push(await saturate, health);
const metrics = await (await fetch(`${service.url}/metrics`)).text();
const lag = (name: string) => Number(/^(\S+) (\S+)$/m.exec(metrics.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2]);
const eventLoop = { p50Ms: +(lag('nodejs_eventloop_lag_p50_seconds') * 1000).toFixed(2), p99Ms: +(lag('nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(2) };
await service.stop();

console.log(`\n${table(rows)}\n`);
console.log('compute ceiling (onnxruntime in-process, digits_large):', JSON.stringify(ceiling));
console.log('service event-loop delay over the run:', JSON.stringify(eventLoop));
console.log('/health during saturation: p50', health.p50Ms, 'ms, p99', health.p99Ms, 'ms');
console.log('\nratios:');
for (const r of ratios) console.log(' ', JSON.stringify(r));
console.log('\nwritten to', saveResults('bench.json', { machine: machine(), seconds, rows, ceiling, eventLoop, ratios }));
