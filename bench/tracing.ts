/**
 * What tracing costs, side by side in one run: the service with tracing off (the default), on with
 * every request sampled (exporting OTLP/HTTP JSON to a local receiver that counts and discards), and
 * on with nothing sampled (OTEL_TRACES_SAMPLER=always_off: the hooks and the sampling decision
 * alone). Two paths: a cache hit (4 spans a request) and an inference with the cache off (6 spans).
 * Each variant is a server process of its own; they are loaded one at a time, in turns, for
 * BENCH_ROUNDS rounds, so drift on a shared machine falls on every variant alike. Prints req/s, p99
 * and the server's CPU per request, and the ratios of their medians over the rounds to tracing off
 * (a median, because a neighbour's burst can halve one run); writes bench/results/tracing.json.
 * BENCH_BASELINE=<another build's dist/server.js> adds that build as a variant: the service before
 * tracing existed, to show what "off" costs.
 *   npm run bench:tracing       (BENCH_SECONDS=5 BENCH_CONNECTIONS=10 BENCH_ROUNDS=3 to change)
 */
import { ChildServer } from './servers.js';
import { load, machine, median, saveResults, table, type LoadResult } from './lib.js';
import { OtlpReceiver } from '../test/helpers/otlp-receiver.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const models = new URL('../models/', import.meta.url).pathname;
const body = JSON.stringify({
  model: 'iris',
  features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
});

const receiver = await OtlpReceiver.start({ discard: true });
// A large queue and a short delay: the figures are the cost of making and sending every span, not of dropping them.
const exporting = {
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_BSP_MAX_QUEUE_SIZE: '65536',
  OTEL_BSP_SCHEDULE_DELAY: '200',
};
const baseline = process.env.BENCH_BASELINE;
const variants: Record<string, Record<string, string>> = {
  off: {},
  'on, every request sampled': exporting,
  'on, none sampled': { ...exporting, OTEL_TRACES_SAMPLER: 'always_off' },
  ...(baseline ? { 'absent (baseline build)': {} } : {}),
};
const paths = { 'cache hit': { CACHE_MIN_HIT_RATE: '0' }, inference: { CACHE_ENABLED: 'false' } };

interface Run extends LoadResult {
  path: string;
  variant: string;
  round: number;
  /** Server CPU (every thread) per request, µs. */
  cpuMicrosPerRequest?: number;
}

const servers = new Map<string, ChildServer>();
for (const [path, pathEnv] of Object.entries(paths)) {
  for (const [variant, env] of Object.entries(variants)) {
    const script = variant === 'absent (baseline build)' ? baseline! : 'dist/server.js';
    servers.set(
      `${path}/${variant}`,
      await ChildServer.start(script, { MODEL_DIR: models, INFERENCE_WORKERS: '1', ...pathEnv, ...env }, '/ready'),
    );
  }
}

/** /predict requests the server has answered, from its own histogram (warm-up runs included). */
async function answered(server: ChildServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('http_request_duration_seconds_count{') && l.includes('route="/predict"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const runs: Run[] = [];
const spans: Record<string, { requests: number; spans: number }> = {};
for (let round = 1; round <= rounds; round++) {
  for (const path of Object.keys(paths)) {
    for (const variant of Object.keys(variants)) {
      const server = servers.get(`${path}/${variant}`)!;
      const [requestsBefore, spansBefore] = [await answered(server), receiver.spanCount];
      const result = await load(`${path}, tracing ${variant}`, `${server.url}/predict`, body, connections, seconds, {
        pid: server.pid,
      });
      const cpuMicrosPerRequest = result.serverCores
        ? Math.round((result.serverCores.total * 1e6) / result.requestsPerSec)
        : undefined;
      runs.push({ ...result, path, variant, round, cpuMicrosPerRequest });
      if (variant === 'on, every request sampled') {
        const requests = (await answered(server)) - requestsBefore;
        await new Promise((resolve) => setTimeout(resolve, 1000)); // the last batch leaves within the schedule delay
        const sums = (spans[path] ??= { requests: 0, spans: 0 });
        sums.requests += requests;
        sums.spans += receiver.spanCount - spansBefore - 2; // less the two GET /metrics server spans
      }
    }
  }
}
for (const server of servers.values()) await server.stop();
await receiver.close();

const ratios = Object.keys(paths).flatMap((path) => {
  const of = (variant: string) => runs.filter((r) => r.path === path && r.variant === variant);
  const off = of('off');
  return Object.keys(variants)
    .filter((v) => v !== 'off')
    .map((variant) => ({
      path,
      variant,
      requestsPerSec: [median(off.map((r) => r.requestsPerSec)), median(of(variant).map((r) => r.requestsPerSec))],
      cpuMicrosPerRequest: [
        median(off.map((r) => r.cpuMicrosPerRequest ?? Number.NaN)),
        median(of(variant).map((r) => r.cpuMicrosPerRequest ?? Number.NaN)),
      ],
      requestsPerSecRatio: +(
        median(of(variant).map((r) => r.requestsPerSec)) / median(off.map((r) => r.requestsPerSec))
      ).toFixed(3),
      cpuPerRequestRatio: +(
        median(of(variant).map((r) => r.cpuMicrosPerRequest ?? Number.NaN)) /
        median(off.map((r) => r.cpuMicrosPerRequest ?? Number.NaN))
      ).toFixed(3),
    }));
});

console.log(`\n${table(runs)}\n`);
console.log('| path | run | server CPU µs / request |\n| --- | --- | --- |');
for (const r of runs)
  console.log(`| ${r.path} | round ${r.round}, tracing ${r.variant} | ${r.cpuMicrosPerRequest ?? ''} |`);
console.log('\nagainst tracing off (medians over the rounds):');
for (const r of ratios) {
  console.log(
    `  ${r.path}, tracing ${r.variant}: ${r.requestsPerSec[1]} vs ${r.requestsPerSec[0]} req/s (${r.requestsPerSecRatio}x), ` +
      `${r.cpuMicrosPerRequest[1]} vs ${r.cpuMicrosPerRequest[0]} µs CPU per request (${r.cpuPerRequestRatio}x)`,
  );
}
const spansPerRequest = Object.fromEntries(
  Object.entries(spans).map(([path, s]) => [path, +(s.spans / s.requests).toFixed(3)]),
);
console.log(
  'spans received per request (sampled runs; 0 dropped is 4 for a cache hit, 6 for an inference):',
  spansPerRequest,
);
console.log(
  'written to',
  saveResults('tracing.json', {
    machine: machine(),
    seconds,
    connections,
    rounds,
    baseline,
    runs,
    ratios,
    spansPerRequest,
  }),
);
