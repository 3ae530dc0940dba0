/**
 * The inference log with its sink frozen or dead under load (issue #24): iris /predict JSON
 * (distinct rows, cache off) at 32 connections, every prediction logged, to a Redis stream (a
 * redis-server started here) and to CloudEvents in batch mode (CE_MODE=binary for the other; an
 * HTTP receiver in a process of its own). Each
 * sink's server goes through: healthy, frozen (SIGSTOP on the receiver) for FAULT_SECONDS, resumed,
 * dead (killed) for FAULT_SECONDS, restarted. Per phase: req/s against a server with the log off
 * (measured first), p99, failed client requests, the server's RSS peak, its JS heap's peak over
 * each half of the phase (from /metrics every second), and what the log counted
 * (records sent, dropped, failed; the queue's depth at the end).
 * `npm run build && npx tsx bench/inference-log-faults.ts` (FAULT_SECONDS=30, PHASE_SECONDS=10, BENCH_CONNECTIONS=32).
 */
import { readFileSync } from 'node:fs';
import { irisDistinctBodies, load } from './lib.js';
import { ChildServer, EventReceiver } from './servers.js';
import { RedisServer } from '../test/helpers/redis-server.js';

const FAULT_SECONDS = Number(process.env.FAULT_SECONDS ?? 30);
const PHASE_SECONDS = Number(process.env.PHASE_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

const bodies = irisDistinctBodies();
const base = { CACHE_ENABLED: 'false', LOG_LEVEL: 'warn' };

interface Phase {
  sink: string;
  phase: string;
  reqs: number;
  p99: number;
  failed: number;
  rssMb: number;
  sent: number;
  dropped: number;
  failedRecords: number;
  queue: number;
  heapMb: number;
  /** The JS heap's peak over the phase's first half, and over its second. */
  heapHalves: [number, number];
}

/** The log's counters and queue gauge, from /metrics. */
async function counters(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
  return {
    sent: value(/^ml_inference_log_records_total\{outcome="sent"\} (\S+)$/m),
    dropped: value(/^ml_inference_log_records_total\{outcome="dropped"\} (\S+)$/m),
    failed: value(/^ml_inference_log_records_total\{outcome="failed"\} (\S+)$/m),
    queue: value(/^ml_inference_log_queue_records (\S+)$/m),
    heapMb: Math.round(value(/^nodejs_heap_size_used_bytes (\S+)$/m) / 1024 ** 2),
  };
}

/** One phase of load, the RSS sampled every 100 ms, and the log's counters over it. */
async function phase(server: ChildServer, sink: string, name: string, seconds: number): Promise<Phase> {
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  let peak = rss();
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
  // The JS heap every second: bounded means its second half climbs no higher than its first
  const heap: number[] = [];
  const heapSampler = setInterval(
    () =>
      void counters(server.url).then(
        ({ heapMb }) => heap.push(heapMb),
        () => undefined,
      ),
    1000,
  );
  const before = await counters(server.url);
  const result = await load(`${sink} ${name}`, `${server.url}/predict`, bodies, CONNECTIONS, seconds, {
    warmupSeconds: 0,
  });
  clearInterval(sampler);
  clearInterval(heapSampler);
  const after = await counters(server.url);
  const half = Math.floor(heap.length / 2);
  const row = {
    sink,
    phase: name,
    reqs: result.requestsPerSec,
    p99: result.p99Ms,
    failed: result.errors + result.non2xx,
    rssMb: Math.round(peak),
    sent: after.sent - before.sent,
    dropped: after.dropped - before.dropped,
    failedRecords: after.failed - before.failed,
    queue: after.queue,
    heapMb: after.heapMb,
    heapHalves: [Math.max(...heap.slice(0, half)), Math.max(...heap.slice(half))] as [number, number],
  };
  console.log(JSON.stringify(row));
  return row;
}

const rows: Phase[] = [];
const off = await ChildServer.start('dist/server.js', base, '/ready');
await load('warm-up', `${off.url}/predict`, bodies, CONNECTIONS, 2, { warmupSeconds: 0 });
rows.push(await phase(off, 'log off', 'healthy', PHASE_SECONDS));
await off.stop();

const redis = await RedisServer.start();
const receiver = await EventReceiver.start();
const sinks: [
  string,
  Record<string, string>,
  { freeze(): void; thaw(): void; kill(): Promise<void>; revive(): Promise<void> },
][] = [
  [
    'redis stream',
    { INFERENCE_LOG: 'redis', INFERENCE_LOG_REDIS_URL: redis.url },
    { freeze: () => redis.pause(), thaw: () => redis.resume(), kill: () => redis.stop(), revive: () => redis.start() },
  ],
  [
    'cloudevents batch',
    {
      INFERENCE_LOG: 'cloudevents',
      INFERENCE_LOG_URL: `http://127.0.0.1:${receiver.port}/`,
      INFERENCE_LOG_CE_MODE: process.env.CE_MODE ?? 'batch',
    },
    {
      freeze: () => receiver.signal('SIGSTOP'),
      thaw: () => receiver.signal('SIGCONT'),
      kill: () => receiver.kill(),
      revive: () => receiver.restart(),
    },
  ],
];
for (const [sink, env, fault] of sinks) {
  const server = await ChildServer.start('dist/server.js', { ...base, ...env }, '/ready');
  await load('warm-up', `${server.url}/predict`, bodies, CONNECTIONS, 2, { warmupSeconds: 0 });
  rows.push(await phase(server, sink, 'healthy', PHASE_SECONDS));
  fault.freeze();
  rows.push(await phase(server, sink, `frozen ${FAULT_SECONDS} s`, FAULT_SECONDS));
  fault.thaw();
  rows.push(await phase(server, sink, 'resumed', PHASE_SECONDS));
  await fault.kill();
  rows.push(await phase(server, sink, `dead ${FAULT_SECONDS} s`, FAULT_SECONDS));
  await fault.revive();
  rows.push(await phase(server, sink, 'restarted', PHASE_SECONDS));
  await server.stop();
}
await redis.stop();
await receiver.kill();

const offReqs = rows[0]!.reqs;
console.log(
  '| sink | phase | req/s | / log off | p99 ms | failed requests | RSS peak MB | JS heap peak MB, 1st half / 2nd half | records sent | dropped | failed | queue after |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.sink} | ${r.phase} | ${r.reqs} | ${(r.reqs / offReqs).toFixed(2)}x | ${r.p99} | ${r.failed} | ${r.rssMb} | ${r.heapHalves.join(' / ')} | ` +
      `${r.sent} | ${r.dropped} | ${r.failedRecords} | ${r.queue} |`,
  );
