/**
 * What a Redis fault costs, side by side in one run: the built service (dist/server.js) under
 * BENCH_CONNECTIONS (16) connections of /predict requests that all miss (every request has its own
 * feature value), without Redis, with a healthy Redis, with Redis frozen (SIGSTOP) for
 * BENCH_FREEZE_SECONDS (10) mid-run, and with Redis killed mid-run and started again. Prints req/s
 * and p99 (the cache always asked: CACHE_MIN_HIT_RATE=0) before the fault, during it until the
 * breaker opened, with the breaker open, and after, the time to open and to close again, and
 * "frozen, after open / no Redis" (target >= 0.8x).
 * Writes bench/results/redis-faults.json.
 *   npm run build && npx tsx bench/redis-faults.ts
 */
import { availableParallelism, loadavg } from 'node:os';
import { RedisServer } from '../test/helpers/redis-server.js';
import { sampleCpu } from './cpu.js';
import { machine, saveResults, startLoad } from './lib.js';
import { ChildServer } from './servers.js';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const faultSeconds = Number(process.env.BENCH_FREEZE_SECONDS ?? 10);
const leadSeconds = Number(process.env.BENCH_LEAD_SECONDS ?? 5);
const models = new URL('../models/', import.meta.url).pathname;

let sent = 0;
/**
 * An iris row no request has sent before: sepal_length steps by 1e-6 cm (distinct in float32), the
 * width carries over.
 */
function uniqueBody(): string {
  const n = sent++;
  const features = {
    sepal_length: 4.3 + (n % 3_000_000) * 1e-6,
    sepal_width: 2 + Math.floor(n / 3_000_000) * 0.01,
    petal_length: 1.4,
    petal_width: 0.2,
  };
  return JSON.stringify({ model: 'iris', features });
}

interface Response {
  /** ms since the run started. */
  at: number;
  latencyMs: number;
  status: number;
}
type Circuit = 'closed' | 'half_open' | 'open' | 'absent';
/** Every 50 ms: the breaker's state, and the CPU time the server process has used (ms). */
interface Sample {
  at: number;
  state: Circuit;
  cpuMs: number;
}

/** The breaker's state as /metrics says it. */
async function circuitOf(url: string): Promise<Circuit> {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const open = /^ml_cache_redis_circuit\{state="(\w+)"\} 1$/m.exec(text);
  return (open?.[1] as Circuit | undefined) ?? 'absent';
}

/** Unique-row load for `seconds`, with `events` at their second; every response, and a Sample every 50 ms. */
async function drive(service: ChildServer, seconds: number, events: { at: number; run: () => unknown }[] = []) {
  const url = service.url;
  const responses: Response[] = [];
  const samples: Sample[] = [];
  const started = performance.now();
  const now = () => performance.now() - started;
  const { instance, done } = startLoad({
    url: `${url}/predict`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: uniqueBody() }),
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, latencyMs: number) =>
    responses.push({ at: now(), latencyMs, status }),
  );
  const timers = events.map(({ at, run }) => setTimeout(run, at * 1000));
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const state = await circuitOf(url);
      samples.push({ at: now(), state, cpuMs: sampleCpu(service.pid)?.totalMs ?? Number.NaN });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const result = await done;
  sampling = false;
  timers.forEach(clearTimeout);
  await sampler;
  return { responses, samples, errors: result.errors + result.timeouts };
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
  /**
   * Server CPU (all threads) per answered request, between the samples nearest the window's ends.
   * Other processes on a shared machine lower req/s far more than they raise this.
   */
  cpuUsPerRequest: number;
  failed: number;
}

function windowOf(
  name: string,
  { responses, samples }: { responses: Response[]; samples: Sample[] },
  fromMs: number,
  toMs: number,
): Window {
  const inside = responses.filter((r) => r.at >= fromMs && r.at < toMs);
  const first = samples.find((s) => s.at >= fromMs);
  const last = samples.filter((s) => s.at <= toMs).at(-1);
  const sampled =
    first && last && last.at > first.at ? responses.filter((r) => r.at >= first.at && r.at < last.at).length : 0;
  const latencies = inside.map((r) => r.latencyMs).sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length
      ? +latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!.toFixed(1)
      : Number.NaN;
  const seconds = (toMs - fromMs) / 1000;
  return {
    window: name,
    fromS: +(fromMs / 1000).toFixed(2),
    toS: +(toMs / 1000).toFixed(2),
    requests: inside.length,
    reqPerSec: seconds > 0 ? Math.round(inside.length / seconds) : Number.NaN,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    cpuUsPerRequest: sampled > 0 ? Math.round(((last!.cpuMs - first!.cpuMs) * 1000) / sampled) : Number.NaN,
    failed: inside.filter((r) => r.status >= 400).length,
  };
}

/** The first sample at or after `fromMs` whose state is `state`. */
const firstState = (samples: Sample[], fromMs: number, state: Circuit) =>
  samples.find((c) => c.at >= fromMs && c.state === state)?.at;

async function withService<T>(env: Record<string, string>, use: (service: ChildServer) => Promise<T>): Promise<T> {
  // CACHE_MIN_HIT_RATE=0: every request misses, and the default policy would stop looking rows up
  // (and so calling Redis) after ~512 of them; the faults are measured with the cache always asked.
  const service = await ChildServer.start(
    'dist/server.js',
    { MODEL_DIR: models, MALLOC_ARENA_MAX: '2', CACHE_MIN_HIT_RATE: '0', ...env },
    '/ready',
  );
  try {
    await drive(service, 2); // warm-up: JIT, connections, the first Redis round trips
    return await use(service);
  } finally {
    await service.stop();
  }
}

const steady = async (name: string, env: Record<string, string>): Promise<Run> =>
  withService(env, async (service) => {
    const measured = await drive(service, 2 * leadSeconds);
    return {
      run: name,
      errors: measured.errors,
      windows: [windowOf('whole run', measured, 0, 2 * leadSeconds * 1000)],
    };
  });

/** Redis faulted at leadSeconds, repaired faultSeconds later, then leadSeconds more. */
async function faulted(name: string, redis: RedisServer, fault: () => unknown, repair: () => unknown): Promise<Run> {
  return withService({ REDIS_URL: redis.url }, async (service) => {
    const faultAt = leadSeconds * 1000;
    const repairAt = faultAt + faultSeconds * 1000;
    const end = repairAt + leadSeconds * 1000;
    const measured = await drive(service, end / 1000, [
      { at: faultAt / 1000, run: fault },
      { at: repairAt / 1000, run: repair },
    ]);
    const openAt = firstState(measured.samples, faultAt, 'open');
    const closedAt = firstState(measured.samples, repairAt, 'closed');
    const windows = [
      windowOf('before the fault', measured, 0, faultAt),
      ...(openAt !== undefined && openAt < repairAt
        ? [
            windowOf('fault, breaker closed', measured, faultAt, openAt),
            windowOf('fault, after open', measured, openAt, repairAt),
          ]
        : [windowOf('fault, breaker never opened', measured, faultAt, repairAt)]),
      windowOf('after repair', measured, repairAt, end),
    ];
    return {
      run: name,
      errors: measured.errors,
      secondsToOpen: openAt === undefined ? null : +((openAt - faultAt) / 1000).toFixed(2),
      secondsToCloseAfterRepair: closedAt === undefined ? null : +((closedAt - repairAt) / 1000).toFixed(2),
      windows,
    };
  });
}

// The no-Redis run before and after the others: the machine's other load drifts, and the two show how much.
const redis = await RedisServer.start();
const runs: Run[] = [];
try {
  runs.push(await steady('no Redis', {}));
  runs.push(await steady('healthy Redis', { REDIS_URL: redis.url }));
  runs.push(
    await faulted(
      `Redis frozen ${faultSeconds} s`,
      redis,
      () => redis.pause(),
      () => redis.resume(),
    ),
  );
  runs.push(
    await faulted(
      `Redis killed, restarted ${faultSeconds} s later`,
      redis,
      () => redis.stop(),
      () => redis.start(),
    ),
  );
  runs.push(await steady('no Redis, again', {}));
} finally {
  redis.resume();
  await redis.stop();
}

console.log(
  `\n${connections} connections, every request a cache miss; ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}\n`,
);
console.log(
  '| run | window | s | requests | req/s | p50 ms | p99 ms | server CPU µs per request | failed |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
);
for (const run of runs) {
  for (const w of run.windows)
    console.log(
      `| ${run.run} | ${w.window} | ${w.fromS}-${w.toS} | ${w.requests} | ${w.reqPerSec} | ${w.p50Ms} | ${w.p99Ms} | ${w.cpuUsPerRequest} | ${w.failed} |`,
    );
}
for (const run of runs) {
  if (run.secondsToOpen !== undefined)
    console.log(
      `${run.run}: breaker open after ${run.secondsToOpen ?? 'never'} s, closed ${run.secondsToCloseAfterRepair ?? 'never'} s after the repair; socket errors ${run.errors}`,
    );
}
const noRedis = runs.filter((r) => r.run.startsWith('no Redis')).map((r) => r.windows[0]!);
const mean = (f: (w: Window) => number) => noRedis.reduce((sum, w) => sum + f(w), 0) / noRedis.length;
/** Throughput against the mean of the two no-Redis runs, and CPU per request against theirs (lower is better). */
const ratios = (run: Run) => {
  const open = run.windows.find((w) => w.window === 'fault, after open');
  if (!open) return null;
  return {
    throughput: +(open.reqPerSec / mean((w) => w.reqPerSec)).toFixed(2),
    cpuPerRequest: +(open.cpuUsPerRequest / mean((w) => w.cpuUsPerRequest)).toFixed(2),
  };
};
const frozen = ratios(runs[2]!);
const killed = ratios(runs[3]!);
const shown = (r: ReturnType<typeof ratios>) =>
  r === null ? 'never opened' : `${r.throughput}x req/s, ${r.cpuPerRequest}x CPU per request`;
console.log(
  `\nfrozen, after open / no Redis: ${shown(frozen)} (target >= 0.8x req/s); killed, after open / no Redis: ${shown(killed)}`,
);
console.log(
  'written to',
  saveResults('redis-faults.json', {
    machine: machine(),
    loadAverage: loadavg(),
    connections,
    faultSeconds,
    runs,
    frozen,
    killed,
  }),
);
