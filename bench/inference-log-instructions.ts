/**
 * The inference log's cost per request in instructions, counted by valgrind's callgrind: the same
 * for the same build, settings and requests whatever else the machine is doing, where req/s and
 * CPU time on a shared machine swing by half (issue #24). For each setting (the log off, and on at
 * 100% to JSONL files, a Redis stream, CloudEvents in batch and binary mode),
 * bench/log-instructions-driver.mjs runs this build's app under callgrind twice, with FEW and MANY
 * iris /predict misses through app.inject; the difference over MANY - FEW requests is the
 * per-request count, startup left out. Counted on the main thread (the event loop the clients wait
 * on: at saturation req/s goes as its cost) and in all threads (the sink's thread, libuv's file
 * writes); redis-server and the receiver run outside. Two runs at a time; ~15 minutes.
 * `npm run build && npx tsx bench/inference-log-instructions.ts`
 * (needs valgrind; LOG_INSTR_FEW=200, LOG_INSTR_MANY=1200)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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
  [
    'cloudevents binary, 100%',
    { INFERENCE_LOG: 'cloudevents', INFERENCE_LOG_URL: `http://127.0.0.1:${receiver.port}/` },
  ],
];
type Count = { main: number; all: number };

/**
 * Instructions the process executed: on its main thread (the event loop, which the clients wait on)
 * and in all its threads (the sink's, libuv's), from callgrind's per-thread totals.
 */
async function instructions(env: Record<string, string>, requests: number): Promise<Count> {
  const out = join(dir, `callgrind-${Math.random().toString(36).slice(2)}.out`);
  await promisify(execFile)(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
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
  // One file per thread, out-01 the main thread's
  const threads = readdirSync(dir)
    .filter((f) => f.startsWith(`${basename(out)}-`))
    .map((f) => {
      const text = readFileSync(join(dir, f), 'utf8');
      const totals = /^totals: (\d+)/m.exec(text)?.[1];
      if (!totals) throw new Error(`no callgrind totals in ${f}`);
      return { main: f.endsWith('-01'), count: Number(totals) };
    });
  if (!threads.some((t) => t.main)) throw new Error('no callgrind file for the main thread');
  return { main: threads.find((t) => t.main)!.count, all: threads.reduce((sum, t) => sum + t.count, 0) };
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

const perRequest = variants.map(([name], i) => {
  const [few, many] = [counts[2 * i]!, counts[2 * i + 1]!];
  return { name, main: (many.main - few.main) / (MANY - FEW), all: (many.all - few.all) / (MANY - FEW) };
});
const off = perRequest[0]!;
const n = (x: number) => Math.round(x).toLocaleString('en');
console.log(
  `| log | main thread: instructions per request (${MANY} - ${FEW} requests) | / off | added | all threads | / off | added |`,
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const { name, main, all } of perRequest)
  console.log(
    `| ${name} | ${n(main)} | ${(main / off.main).toFixed(3)}x | ${name === 'off' ? '-' : n(main - off.main)} | ` +
      `${n(all)} | ${(all / off.all).toFixed(3)}x | ${name === 'off' ? '-' : n(all - off.all)} |`,
  );
