/**
 * The inference log's cost (issue #24): iris /predict JSON (distinct rows, cache off) at 32
 * connections, against one build with the log off, with it on at 100% sampling to JSONL files,
 * to a Redis stream (a redis-server started here) and as CloudEvents to an HTTP receiver in a
 * process of its own (batch and binary mode), each in its own process, in turns, 3 rounds.
 * Prints req/s per round, the medians and the ratios to "off" (of the medians, and the median of each
 * round's ratio to the "off" run just before it), the server's CPU per request (its
 * main thread, and all its threads: on a shared machine a steadier figure than req/s), the
 * redis-server's share of a core, and the records each run counted.
 * `npm run build && npx tsx bench/inference-log.ts` (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS,
 * BENCH_SINKS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coresBetween, sampleCpu } from './cpu.js';
import { irisDistinctBodies, load } from './lib.js';
import { ChildServer, EventReceiver } from './servers.js';
import { RedisServer } from '../test/helpers/redis-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** BENCH_SINKS=jsonl,redis: only these (by the start of their name) beside "off". */
const SINKS = process.env.BENCH_SINKS?.split(',');

const bodies = irisDistinctBodies();
const redis = await RedisServer.start();
const receiver = await EventReceiver.start();
const events = { INFERENCE_LOG: 'cloudevents', INFERENCE_LOG_URL: `http://127.0.0.1:${receiver.port}/` };
const dir = mkdtempSync(join(tmpdir(), 'bench-inference-log-'));
const base = { CACHE_ENABLED: 'false', LOG_LEVEL: 'warn' };
const allVariants: [string, Record<string, string>][] = [
  ['off', base],
  ['jsonl, 100%', { ...base, INFERENCE_LOG: 'jsonl', INFERENCE_LOG_DIR: dir }],
  ['redis stream, 100%', { ...base, INFERENCE_LOG: 'redis', INFERENCE_LOG_REDIS_URL: redis.url }],
  ['cloudevents batch, 100%', { ...base, ...events, INFERENCE_LOG_CE_MODE: 'batch' }],
  ['cloudevents binary, 100%', { ...base, ...events }],
];
const variants = allVariants.filter(
  ([name]) => name === 'off' || !SINKS || SINKS.some((sink) => name.startsWith(sink)),
);
type Round = { reqs: number; mainUs: number; totalUs: number; redisCores: number };
const results = new Map<string, Round[]>(variants.map(([name]) => [name, []]));
const counted = new Map<string, string>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, env] of variants) {
    const server = await ChildServer.start('dist/server.js', env, '/ready');
    const redisBefore = sampleCpu(redis.pid);
    const started = performance.now();
    const result = await load(name, `${server.url}/predict`, bodies, CONNECTIONS, SECONDS, {
      pid: server.pid,
      warmupSeconds: 1,
    });
    const redisCores = coresBetween(redisBefore, sampleCpu(redis.pid), performance.now() - started)?.total ?? 0;
    if (result.errors + result.non2xx > 0) {
      await server.stop();
      await redis.stop();
      throw new Error(`${name}: ${result.errors + result.non2xx} failed requests`);
    }
    const perRequest = (cores = 0) => Math.round((cores * 1e6) / result.requestsPerSec);
    results.get(name)!.push({
      reqs: result.requestsPerSec,
      mainUs: perRequest(result.serverCores?.main),
      totalUs: perRequest(result.serverCores?.total),
      redisCores,
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    counted.set(
      name,
      metrics
        .split('\n')
        .filter((l) => l.startsWith('ml_inference_log_records_total'))
        .join(', '),
    );
    await server.stop();
    console.log(`round ${round + 1} ${name}: ${result.requestsPerSec} req/s`);
  }
}
await redis.stop();
await receiver.kill();
rmSync(dir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const of = (name: string, field: keyof Round) => results.get(name)!.map((r) => r[field]);
const off = { reqs: median(of('off', 'reqs')), mainUs: median(of('off', 'mainUs')) };
console.log(
  '| log | req/s median (range) | / off | / off, round by round: median (range) | server main thread µs/request (/ off) | all threads µs/request | redis-server cores | records (last round) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
const offRounds = of('off', 'reqs');
for (const [name] of variants) {
  const reqs = of(name, 'reqs');
  const m = median(reqs);
  const mainUs = median(of(name, 'mainUs'));
  // Each round's ratio to the "off" run just before it: the machine's slow drifts fall on both
  const ratios = reqs.map((r, i) => r / offRounds[i]!);
  console.log(
    `| ${name} | ${m} (${Math.min(...reqs)}-${Math.max(...reqs)}) | ${(m / off.reqs).toFixed(2)}x | ` +
      `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) | ` +
      `${mainUs} (${(mainUs / off.mainUs).toFixed(2)}x) | ${median(of(name, 'totalUs'))} | ` +
      `${median(of(name, 'redisCores')).toFixed(2)} | ${counted.get(name)?.replaceAll('ml_inference_log_records_total', '') || '-'} |`,
  );
}
