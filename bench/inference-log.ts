/**
 * The inference log's cost (issue #24): iris /predict JSON (distinct rows, cache off) at 32
 * connections, against one build with the log off, with it on at 100% sampling to JSONL files,
 * and to a Redis stream (a redis-server started here), each in its own process, in turns, 3 rounds.
 * Prints req/s per round, the medians and the ratios to "off", and the records each run counted.
 * `npm run build && npx tsx bench/inference-log.ts` (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './lib.js';
import { ChildServer } from './servers.js';
import { RedisServer } from '../test/helpers/redis-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

/** 500 distinct iris rows inside model.json's feature ranges. */
const bodies = Array.from({ length: 500 }, (_, i) =>
  JSON.stringify({
    model: 'iris',
    instances: [[4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 24) / 10]],
  }),
);
const redis = await RedisServer.start();
const dir = mkdtempSync(join(tmpdir(), 'bench-inference-log-'));
const base = { CACHE_ENABLED: 'false', LOG_LEVEL: 'warn' };
const variants: [string, Record<string, string>][] = [
  ['off', base],
  ['jsonl, 100%', { ...base, INFERENCE_LOG: 'jsonl', INFERENCE_LOG_DIR: dir }],
  ['redis stream, 100%', { ...base, INFERENCE_LOG: 'redis', INFERENCE_LOG_REDIS_URL: redis.url }],
];
const results = new Map<string, number[]>(variants.map(([name]) => [name, []]));
const counted = new Map<string, string>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, env] of variants) {
    const server = await ChildServer.start('dist/server.js', env, '/ready');
    const result = await load(name, `${server.url}/predict`, bodies, CONNECTIONS, SECONDS, {
      pid: server.pid,
      warmupSeconds: 1,
    });
    if (result.errors + result.non2xx > 0) {
      await server.stop();
      await redis.stop();
      throw new Error(`${name}: ${result.errors + result.non2xx} failed requests`);
    }
    results.get(name)!.push(result.requestsPerSec);
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
rmSync(dir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const off = median(results.get('off')!);
console.log(`| log | req/s median (range) | / off | records (last round) |`);
console.log('| --- | --- | --- | --- |');
for (const [name] of variants) {
  const xs = results.get(name)!;
  const m = median(xs);
  console.log(
    `| ${name} | ${m} (${Math.min(...xs)}-${Math.max(...xs)}) | ${(m / off).toFixed(2)}x | ${counted.get(name) || '-'} |`,
  );
}
