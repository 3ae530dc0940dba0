/**
 * The inference log's cost per request in instructions, counted by valgrind's callgrind: the same
 * for the same build, settings and requests whatever else the machine is doing, where req/s and
 * CPU time on a shared machine swing by half (issue #24). For each setting (the log off, and on at
 * 100% to JSONL files, a Redis stream, CloudEvents in batch mode), bench/log-instructions-driver.mjs
 * runs this build's app under callgrind twice, with FEW and MANY iris /predict misses through
 * app.inject; the difference over MANY - FEW requests is the per-request count, startup left out.
 * Every thread of the process counts (the libuv pool's file writes too); redis-server and the
 * receiver run outside. Two runs at a time; ~10 minutes.
 * `npm run build && npx tsx bench/inference-log-instructions.ts`
 * (needs valgrind; LOG_INSTR_FEW=200, LOG_INSTR_MANY=1200)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EventReceiver } from './servers.js';
import { RedisServer } from '../test/helpers/redis-server.js';

const FEW = Number(process.env.LOG_INSTR_FEW ?? 200);
const MANY = Number(process.env.LOG_INSTR_MANY ?? 1200);

const redis = await RedisServer.start();
const receiver = await EventReceiver.start();
const dir = mkdtempSync(join(tmpdir(), 'bench-log-instr-'));
const variants: [string, Record<string, string>][] = [
  ['off', {}],
  ['jsonl, 100%', { INFERENCE_LOG: 'jsonl', INFERENCE_LOG_DIR: dir }],
  ['redis stream, 100%', { INFERENCE_LOG: 'redis', INFERENCE_LOG_REDIS_URL: redis.url }],
  [
    'cloudevents batch, 100%',
    {
      INFERENCE_LOG: 'cloudevents',
      INFERENCE_LOG_URL: `http://127.0.0.1:${receiver.port}/`,
      INFERENCE_LOG_CE_MODE: 'batch',
    },
  ],
];

/** Instructions the whole process executed: callgrind's "Collected" total. */
async function instructions(env: Record<string, string>, requests: number): Promise<number> {
  const out = join(dir, `callgrind-${Math.random().toString(36).slice(2)}.out`);
  const { stderr } = await promisify(execFile)(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${out}`,
      'node',
      '--single-threaded',
      'bench/log-instructions-driver.mjs',
    ],
    {
      env: { ...process.env, LOG_DRIVER_ENV: JSON.stringify(env), LOG_DRIVER_REQUESTS: String(requests) },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const collected = /Collected : (\d+)/.exec(stderr)?.[1];
  if (!collected) throw new Error(`no callgrind total:\n${stderr.slice(-2000)}`);
  return Number(collected);
}

/** Runs the jobs two at a time (the machine's two cores). */
async function twoAtATime<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

const counts = await twoAtATime(
  variants.flatMap(([, env]) => [() => instructions(env, FEW), () => instructions(env, MANY)]),
);
await redis.stop();
await receiver.kill();
rmSync(dir, { recursive: true, force: true });

const perRequest = variants.map(([name], i) => [name, (counts[2 * i + 1]! - counts[2 * i]!) / (MANY - FEW)] as const);
const off = perRequest[0]![1];
console.log(`| log | instructions per request (${MANY} - ${FEW} requests) | / off | added by the log |`);
console.log('| --- | --- | --- | --- |');
for (const [name, n] of perRequest)
  console.log(
    `| ${name} | ${Math.round(n).toLocaleString('en')} | ${(n / off).toFixed(3)}x | ${
      name === 'off' ? '-' : Math.round(n - off).toLocaleString('en')
    } |`,
  );
