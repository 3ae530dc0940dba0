/**
 * npm run chaos: every fault of the reliability issue (#12) under load, on loopback, bounded in
 * time, one after another, and one table at the end. Each fault is its own script, runnable
 * alone; this runs them with short settings and reads what they saved in bench/results/:
 *   - fuzz: the seeded fast-check suite (test/reliability/fuzz.test.ts), CHAOS_FUZZ_RUNS cases per property;
 *   - shutdown: SIGTERM under 16 keep-alive connections, a client stalled mid-body, a half-sent
 *     body (bench/shutdown.ts);
 *   - Redis frozen (SIGSTOP) and killed under 16 connections of cache misses (bench/redis-faults.ts);
 *   - 32 concurrent maximum-size requests, JSON and binary, RSS against the pod limit (bench/memory.ts);
 *   - hostile clients (issue #19): pipelining without reading, pipelining after errors, and disconnects,
 *     inside a memory cgroup of the pod's limit where one can be made (bench/hostile-clients.ts).
 * Needs `npm run build` first (npm run chaos does it). Writes bench/results/chaos.json.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { HostileRow } from './hostile-clients.js';
import { machine, saveResults } from './lib.js';

const RESULTS = new URL('./results/', import.meta.url).pathname;
const ROOT = new URL('../', import.meta.url).pathname;

interface Row {
  fault: string;
  requests: number | string;
  failures: number | string;
  resets: number | string;
  'p99 ms': number | string;
  'RSS peak / after MiB': string;
  breaker: string;
  exit: string;
  s: number | string;
  target: string;
}

const blank = {
  requests: '-',
  failures: '-',
  resets: '-',
  'p99 ms': '-',
  'RSS peak / after MiB': '-',
  breaker: '-',
  exit: '-',
  s: '-',
};

/** Runs one step's command to its end (or its time limit), passing its output through. */
async function step(
  name: string,
  command: string[],
  env: Record<string, string>,
  limitS: number,
): Promise<{ code: number | null; seconds: number }> {
  console.log(
    `\n=== ${name}: ${command.join(' ')} ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}\n`,
  );
  const started = performance.now();
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'inherit' });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitS * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

const results = <T>(file: string): T => JSON.parse(readFileSync(`${RESULTS}${file}`, 'utf8')) as T;

const rows: Row[] = [];

// 1. Fuzz: the suite's own assertions are the target (no 5xx, our error shape, alive after).
const fuzzRuns = process.env.CHAOS_FUZZ_RUNS ?? '1000';
const fuzz = await step(
  'fuzz',
  ['npx', 'vitest', 'run', 'test/reliability/fuzz.test.ts'],
  { FUZZ_RUNS: fuzzRuns },
  600,
);
rows.push({
  fault: `fuzzed bodies, headers, methods, raw HTTP (${fuzzRuns} per property)`,
  ...blank,
  exit: `vitest ${fuzz.code}`,
  s: fuzz.seconds,
  target: fuzz.code === 0 ? 'met: 0 5xx, our error shape' : 'MISSED (see the output above)',
});

// 2. Shutdown.
interface ShutdownRow {
  scenario: string;
  requests: number | string;
  failures: number | string;
  resets: number | string;
  'exit ms': number | string;
  exit: number | null | string;
  note: string;
}
const shutdown = await step('shutdown', ['npx', 'tsx', 'bench/shutdown.ts'], {}, 300);
if (shutdown.code === 0) {
  for (const r of results<{ rows: ShutdownRow[] }>('shutdown.json').rows) {
    const drained = r.exit === 0 && (r.failures === '-' || r.failures === 0);
    const pinned = r.scenario.includes('pinned');
    rows.push({
      fault: r.scenario,
      ...blank,
      requests: r.requests,
      failures: r.failures,
      resets: r.resets,
      exit: String(r.exit),
      s: typeof r['exit ms'] === 'number' ? r['exit ms'] / 1000 : r['exit ms'],
      target: r.scenario.startsWith('half-sent')
        ? r.note
        : drained && (pinned || r.resets === 0 || r.resets === '-')
          ? 'met'
          : 'MISSED',
    });
  }
} else rows.push({ fault: 'shutdown', ...blank, exit: `script ${shutdown.code}`, target: 'did not run to its end' });

// 3. Redis faults.
interface RedisWindow {
  window: string;
  requests: number;
  p99Ms: number;
  failed: number;
}
interface RedisRun {
  run: string;
  errors: number;
  windows: RedisWindow[];
  secondsToOpen?: number | null;
  secondsToCloseAfterRepair?: number | null;
}
const redisSeconds = process.env.CHAOS_REDIS_FAULT_SECONDS ?? '10';
const redis = await step(
  'Redis faults',
  ['npx', 'tsx', 'bench/redis-faults.ts'],
  { BENCH_FREEZE_SECONDS: redisSeconds, BENCH_LEAD_SECONDS: '3' },
  300,
);
if (redis.code === 0) {
  const saved = results<{
    runs: RedisRun[];
    frozen: { throughput: number } | null;
    killed: { throughput: number } | null;
  }>('redis-faults.json');
  for (const run of saved.runs) {
    const open = run.secondsToOpen;
    const ratio = run.run.includes('frozen') ? saved.frozen : run.run.includes('killed') ? saved.killed : undefined;
    rows.push({
      fault: run.run,
      ...blank,
      requests: run.windows.reduce((n, w) => n + w.requests, 0),
      failures: run.windows.reduce((n, w) => n + w.failed, 0) + run.errors,
      'p99 ms': Math.max(...run.windows.map((w) => w.p99Ms)),
      breaker:
        open === undefined
          ? '-'
          : `open after ${open ?? 'never'} s, closed ${run.secondsToCloseAfterRepair ?? 'never'} s after repair`,
      target:
        ratio === undefined
          ? ''
          : ratio === null
            ? 'MISSED: never opened'
            : `${ratio.throughput}x no-Redis req/s after open (target >= 0.8x): ${ratio.throughput >= 0.8 ? 'met' : 'MISSED'}`,
    });
  }
} else rows.push({ fault: 'Redis faults', ...blank, exit: `script ${redis.code}`, target: 'did not run to its end' });

// 4. Memory under maximum-size requests.
interface MemoryResult {
  name: string;
  model: string;
  peakMiB: number;
  afterMiB: number;
  beforeMiB: number;
  peakOfLimit: number;
  afterOverBefore: number;
  meetsTargets: boolean;
  phases: { rows: number; statuses: Record<string, number> }[];
}
const settle = process.env.CHAOS_MEMORY_SETTLE_S ?? '60';
const memory = await step('memory', ['npx', 'tsx', 'bench/memory.ts'], { MEMORY_SETTLE_S: settle }, 900);
if (memory.code === 0) {
  for (const r of results<{ results: MemoryResult[] }>('memory.json').results) {
    const statuses = r.phases.map((p) =>
      Object.entries(p.statuses)
        .map(([s, n]) => `${n}x${s}`)
        .join(' '),
    );
    rows.push({
      fault: `32 concurrent max-size requests, JSON then binary (${r.model}, ${r.name}): ${statuses.join(' / ')}`,
      ...blank,
      requests: r.phases.reduce((n, p) => n + Object.values(p.statuses).reduce((a, b) => a + b, 0), 0),
      failures: r.phases.reduce(
        (n, p) =>
          n +
          Object.entries(p.statuses)
            .filter(([s]) => Number(s) >= 500 && s !== '503')
            .reduce((a, [, c]) => a + c, 0),
        0,
      ),
      'RSS peak / after MiB': `${r.peakMiB} / ${r.afterMiB} (before ${r.beforeMiB})`,
      target: `peak ${r.peakOfLimit}x the pod limit (<= 0.75), after ${r.afterOverBefore}x before (<= 1.2): ${r.meetsTargets ? 'met' : 'MISSED'}`,
    });
  }
} else rows.push({ fault: 'memory', ...blank, exit: `script ${memory.code}`, target: 'did not run to its end' });

// 5. Hostile clients: the script's own targets (alive, RSS <= 75% of the limit, /health p99 < 100 ms,
//    budgets back, a 200 after).
const hostile = await step('hostile clients', ['npx', 'tsx', 'bench/hostile-clients.ts'], {}, 300);
if (hostile.code !== null) {
  const saved = results<{ rows: HostileRow[]; cgroup: boolean; limit: string }>('hostile-clients.json');
  for (const r of saved.rows) {
    rows.push({
      fault: `hostile clients: ${r.scenario}${saved.cgroup ? ` (in a ${saved.limit} memory cgroup)` : ' (no memory cgroup here)'}`,
      ...blank,
      failures: r['health failures'],
      'p99 ms': r['health p50 / p99 / max ms'].split(' / ')[1]!,
      'RSS peak / after MiB': `${r['RSS before / peak MiB'].split(' / ')[1]} (before ${r['RSS before / peak MiB'].split(' / ')[0]}), gauges after ${r['gauges 1 s after (requests, bytes, rows)']}`,
      exit: r.alive ? 'alive' : 'DIED',
      target: `peak ${r['peak / limit']}x the limit (<= 0.75), /health p99 < 100 ms, budgets back, next request ${r['next request']}: ${r.target}`,
    });
  }
} else
  rows.push({ fault: 'hostile clients', ...blank, exit: 'killed at its time limit', target: 'did not run to its end' });

console.log('\n=== npm run chaos: summary\n');
console.log(
  `| ${Object.keys(rows[0]!).join(' | ')} |\n| ${Object.keys(rows[0]!)
    .map(() => '---')
    .join(' | ')} |`,
);
for (const row of rows) console.log(`| ${Object.values(row).join(' | ')} |`);
console.log('\nwritten to', saveResults('chaos.json', { machine: machine(), rows }));
