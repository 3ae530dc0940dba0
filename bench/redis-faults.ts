/**
 * What a Redis fault costs, side by side in one run: the built service (dist/server.js) under
 * BENCH_CONNECTIONS (16) connections of /predict requests that all miss (every request has its own
 * feature value), without Redis, with a healthy Redis, with Redis frozen (SIGSTOP) for
 * BENCH_FREEZE_SECONDS (10) mid-run, and with Redis killed mid-run and started again. Prints req/s
 * and p99 before the fault, during it until the breaker opened, with the breaker open, and after,
 * the time to open and to close again, and "frozen, after open / no Redis" (target >= 0.8x).
 * Writes bench/results/redis-faults.json.
 *   npm run build && npx tsx bench/redis-faults.ts
 */
import { availableParallelism, loadavg } from 'node:os';
import { RedisServer } from '../test/helpers/redis-server.js';
import { machine, saveResults, startLoad } from './lib.js';
import { ChildServer } from './servers.js';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const faultSeconds = Number(process.env.BENCH_FREEZE_SECONDS ?? 10);
const leadSeconds = Number(process.env.BENCH_LEAD_SECONDS ?? 5);
const models = new URL('../models/', import.meta.url).pathname;

let sent = 0;
/** An iris row no request has sent before: sepal_length steps by 1e-6 cm (distinct in float32), the width carries over. */
function uniqueBody(): string {
  const n = sent++;
  const features = { sepal_length: 4.3 + (n % 3_000_000) * 1e-6, sepal_width: 2 + Math.floor(n / 3_000_000) * 0.01, petal_length: 1.4, petal_width: 0.2 };
  return JSON.stringify({ model: 'iris', features });
}

interface Response {
  /** ms since the run started. */
  at: number;
  latencyMs: number;
  status: number;
}
type Circuit = 'closed' | 'half_open' | 'open' | 'absent';

/** The breaker's state as /metrics says it. */
async function circuitOf(url: string): Promise<Circuit> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => '');
  const open = /^ml_cache_redis_circuit\{state="(\w+)"\} 1$/m.exec(text);
  return (open?.[1] as Circuit | undefined) ?? 'absent';
}

/** Unique-row load for `seconds`, with `events` at their second; every response, and the circuit every 50 ms. */
async function drive(url: string, seconds: number, events: { at: number; run: () => unknown }[] = []) {
  const responses: Response[] = [];
  const circuit: { at: number; state: Circuit }[] = [];
  const started = performance.now();
  const now = () => performance.now() - started;
  const { instance, done } = startLoad({
    url: `${url}/predict`,
    connections,
    duration: seconds,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: uniqueBody() }) }],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, latencyMs: number) => responses.push({ at: now(), latencyMs, status }));
  const timers = events.map(({ at, run }) => setTimeout(run, at * 1000));
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      circuit.push({ at: now(), state: await circuitOf(url) });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const result = await done;
  sampling = false;
  timers.forEach(clearTimeout);
  await sampler;
  return { responses, circuit, errors: result.errors + result.timeouts };
}

interface Run {
  run: string;
  errors: number;
  windows: Window[];
  secondsToOpen?: number | null;
  secondsToCloseAfterRepair?: number | null;
}

interface Window {
  window: string;
  fromS: number;
  toS: number;
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

function windowOf(name: string, responses: Response[], fromMs: number, toMs: number): Window {
  const inside = responses.filter((r) => r.at >= fromMs && r.at < toMs);
  const latencies = inside.map((r) => r.latencyMs).sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? +latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!.toFixed(1) : Number.NaN);
  const seconds = (toMs - fromMs) / 1000;
  return {
    window: name,
    fromS: +(fromMs / 1000).toFixed(2),
    toS: +(toMs / 1000).toFixed(2),
    requests: inside.length,
    reqPerSec: seconds > 0 ? Math.round(inside.length / seconds) : Number.NaN,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    failed: inside.filter((r) => r.status >= 400).length,
  };
}

/** The first sample at or after `fromMs` whose state is `state`. */
const firstState = (circuit: { at: number; state: Circuit }[], fromMs: number, state: Circuit) => circuit.find((c) => c.at >= fromMs && c.state === state)?.at;

async function withService<T>(env: Record<string, string>, use: (url: string) => Promise<T>): Promise<T> {
  const service = await ChildServer.start('dist/server.js', { MODEL_DIR: models, MALLOC_ARENA_MAX: '2', ...env }, '/ready');
  try {
    await drive(service.url, 2); // warm-up: JIT, connections, the first Redis round trips
    return await use(service.url);
  } finally {
    await service.stop();
  }
}

const steady = async (name: string, env: Record<string, string>): Promise<Run> =>
  withService(env, async (url) => {
    const { responses, errors } = await drive(url, 2 * leadSeconds);
    return { run: name, errors, windows: [windowOf('whole run', responses, 0, 2 * leadSeconds * 1000)] };
  });

/** Redis faulted at leadSeconds, repaired faultSeconds later, then leadSeconds more. */
async function faulted(name: string, redis: RedisServer, fault: () => unknown, repair: () => unknown): Promise<Run> {
  return withService({ REDIS_URL: redis.url }, async (url) => {
    const faultAt = leadSeconds * 1000;
    const repairAt = faultAt + faultSeconds * 1000;
    const end = repairAt + leadSeconds * 1000;
    const { responses, circuit, errors } = await drive(url, end / 1000, [
      { at: faultAt / 1000, run: fault },
      { at: repairAt / 1000, run: repair },
    ]);
    const openAt = firstState(circuit, faultAt, 'open');
    const closedAt = firstState(circuit, repairAt, 'closed');
    const windows = [
      windowOf('before the fault', responses, 0, faultAt),
      ...(openAt !== undefined && openAt < repairAt
        ? [windowOf('fault, breaker closed', responses, faultAt, openAt), windowOf('fault, after open', responses, openAt, repairAt)]
        : [windowOf('fault, breaker never opened', responses, faultAt, repairAt)]),
      windowOf('after repair', responses, repairAt, end),
    ];
    return {
      run: name,
      errors,
      secondsToOpen: openAt === undefined ? null : +((openAt - faultAt) / 1000).toFixed(2),
      secondsToCloseAfterRepair: closedAt === undefined ? null : +((closedAt - repairAt) / 1000).toFixed(2),
      windows,
    };
  });
}

const redis = await RedisServer.start();
const runs: Run[] = [];
try {
  runs.push(await steady('no Redis', {}));
  runs.push(await steady('healthy Redis', { REDIS_URL: redis.url }));
  runs.push(await faulted(`Redis frozen ${faultSeconds} s`, redis, () => redis.pause(), () => redis.resume()));
  runs.push(await faulted(`Redis killed, restarted ${faultSeconds} s later`, redis, () => redis.stop(), () => redis.start()));
} finally {
  redis.resume();
  await redis.stop();
}

console.log(`\n${connections} connections, every request a cache miss; ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}\n`);
console.log('| run | window | s | requests | req/s | p50 ms | p99 ms | failed |\n| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const run of runs) {
  for (const w of run.windows) console.log(`| ${run.run} | ${w.window} | ${w.fromS}-${w.toS} | ${w.requests} | ${w.reqPerSec} | ${w.p50Ms} | ${w.p99Ms} | ${w.failed} |`);
}
for (const run of runs) {
  if (run.secondsToOpen !== undefined) console.log(`${run.run}: breaker open after ${run.secondsToOpen ?? 'never'} s, closed ${run.secondsToCloseAfterRepair ?? 'never'} s after the repair; socket errors ${run.errors}`);
}
const noRedis = runs[0]!.windows[0]!.reqPerSec;
const ratio = (run: Run) => {
  const open = run.windows.find((w) => w.window === 'fault, after open');
  return open ? +(open.reqPerSec / noRedis).toFixed(2) : null;
};
const frozenRatio = ratio(runs[2]!);
const killedRatio = ratio(runs[3]!);
const shown = (r: number | null) => (r === null ? 'never opened' : `${r}x`);
console.log(`\nfrozen, after open / no Redis: ${shown(frozenRatio)} (target >= 0.8x); killed, after open / no Redis: ${shown(killedRatio)}`);
console.log('written to', saveResults('redis-faults.json', { machine: machine(), connections, faultSeconds, runs, frozenRatio, killedRatio }));
