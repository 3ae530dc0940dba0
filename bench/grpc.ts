/**
 * Issue #22's targets: the Open Inference Protocol over gRPC against the same service's REST paths,
 * side by side in one run, in turns, one server process (dist/server.js, cache off, the bundled models),
 * BENCH_ROUNDS rounds (2) of BENCH_SECONDS (6) a run after a 1 s warm-up at the same concurrency:
 *   1. digits_large, 64 rows a request (distinct holdout rows), raw tensors: OIP REST binary tensor data
 *      (autocannon, N connections) against gRPC ModelInfer with raw_input_contents (N calls in flight
 *      on one channel), N = 1, 16, 64 (BENCH_HEAVY_CONCURRENCY); target gRPC >= 1.0x at each, in rows
 *      the server counts in the steady middle of each run (see steady()).
 *   2. iris, one row a request (distinct rows): /predict JSON at 32 HTTP/1.1 connections against 32
 *      unary ModelInfer calls in flight on one channel (target >= 1.2x) and against ModelStreamInfer
 *      with 32 requests in flight on one stream (target >= 1.0x the unary figure).
 * Through every run, GET /health and grpc.health.v1.Health/Check are sampled every 20 ms from processes
 * of their own: target p99 < 10 ms for both while either protocol saturates the CPUs.
 * Requests are encoded beforehand on both sides (autocannon's bodies; ModelInferRequest bytes) and
 * answers not decoded, so each side's load generator does the same work.
 * `npm run build && npx tsx bench/grpc.ts`
 */
import type { InferInput } from '../src/client/index.js';
import { inferRequestBytes } from '../src/client/grpc.js';
import { holdoutRows } from './bundled-model.js';
import { grpcLoad, h2loadRun, hasH2load } from './grpc-load.js';
import { load, machine, median, runSampler, saveResults, table, type HealthSamples, type LoadResult } from './lib.js';
import { oipBinaryRequest } from './oip-body.js';
import { ChildServer, freePort } from './servers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const HEAVY = (process.env.BENCH_HEAVY_CONCURRENCY ?? '1,16,64').split(',').map(Number);
const LIGHT = 32;

const digits = holdoutRows('digits_large');
/** 8 requests of 64 distinct rows each (the holdout set, rotated). */
const heavyBatches = Array.from({ length: 8 }, (_, b) =>
  Float32Array.from(Array.from({ length: 64 }, (_, r) => digits[(b * 64 + r) % digits.length]!).flat()),
);
const heavyInput = (data: Float32Array): InferInput => ({
  name: 'input',
  tensor: { dtype: 'float32', shape: [64, 1, 32, 32], data },
});
const heavyRest = heavyBatches.map((data) =>
  oipBinaryRequest({ name: 'input', datatype: 'FP32', shape: [64, 1, 32, 32], bytes: Buffer.from(data.buffer) }, [
    'probabilities',
  ]),
);
const heavyGrpc = heavyBatches.map((data) => inferRequestBytes('digits_large', [heavyInput(data)]));

const irisRows = holdoutRows('iris');
const irisJson = irisRows.map((row) => JSON.stringify({ model: 'iris', instances: [row] }));
const irisGrpc = irisRows.map((row) =>
  inferRequestBytes('iris', [
    { name: 'input', tensor: { dtype: 'float32', shape: [1, 4], data: Float32Array.from(row) } },
  ]),
);

const grpcPort = await freePort();
const service = await ChildServer.start(
  'dist/server.js',
  // 64 requests of 64 rows fill the default queue of 4,096 rows: a larger one, so that 64 in flight
  // measure throughput rather than 503 QUEUE_FULL (on both protocols alike).
  { MODEL_DIR: 'models', CACHE_ENABLED: 'false', GRPC_PORT: String(grpcPort), BATCH_MAX_QUEUE_ROWS: '16384' },
  '/ready',
);
const address = `127.0.0.1:${grpcPort}`;

interface Measured {
  load: LoadResult;
  health: HealthSamples;
  grpcHealth: HealthSamples;
  /** Rows the server answered per second in the steady middle of the run (heavy runs). */
  steadyRows?: number;
}

/** digits_large rows the server has predicted, from its own counter. */
async function rowsPredicted(): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('ml_prediction_rows_total{') && l.includes('"digits_large"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/**
 * A heavy run's rows/s as the server counts them between 2 s into it (past the 1 s warm-up and the
 * pipeline's fill) and 0.5 s before its end. At 64 requests of 64 rows in flight an answer takes 2-3 s,
 * so a 4 s window counts only the answers that came back in it: autocannon drops those still in flight
 * at the end, while grpcLoad waits for them, and the two would differ by that alone.
 */
async function steady(run: () => Promise<Measured>): Promise<Measured> {
  const sampled = (async () => {
    await new Promise((r) => setTimeout(r, 2000));
    const [from, started] = [await rowsPredicted(), performance.now()];
    await new Promise((r) => setTimeout(r, (SECONDS - 1.5) * 1000));
    return Math.round(((await rowsPredicted()) - from) / ((performance.now() - started) / 1000));
  })();
  const measured = await run();
  return { ...measured, steadyRows: await sampled };
}

/** A run with both probes sampled from processes of their own through it. */
async function probed(run: () => Promise<LoadResult>): Promise<Measured> {
  const seconds = SECONDS + 1.5; // the warm-up and the run
  const [health, grpcHealth, result] = await Promise.all([
    runSampler('health-sampler.mjs', `${service.url}/health`, seconds),
    runSampler('grpc-health-sampler.mjs', address, seconds),
    run(),
  ]);
  const failed = result.errors + result.non2xx + health.failures + grpcHealth.failures;
  if (failed > 0)
    throw new Error(`${result.name}: ${failed} failures (${JSON.stringify({ result, health, grpcHealth })})`);
  return { load: result, health, grpcHealth };
}

const pid = service.pid;
const rounds: Record<string, Measured>[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const runs: Record<string, Measured> = {};
    for (const n of HEAVY) {
      runs[`rest-${n}`] = await steady(() =>
        probed(() =>
          load(
            'digits_large x64 OIP REST binary',
            `${service.url}/v2/models/digits_large/infer`,
            heavyRest.map((r) => r.body),
            n,
            SECONDS,
            // Every body's header is the same length: one header value fits them all.
            { pid, rowsPerRequest: 64, warmupSeconds: 1, headers: heavyRest[0]!.headers },
          ),
        ),
      );
      runs[`grpc-${n}`] = await steady(() =>
        probed(() =>
          grpcLoad('digits_large x64 gRPC raw', address, heavyGrpc, n, SECONDS, { pid, rowsPerRequest: 64 }),
        ),
      );
    }
    runs.predict = await probed(() =>
      load('iris /predict JSON', `${service.url}/predict`, irisJson, LIGHT, SECONDS, { pid, warmupSeconds: 1 }),
    );
    runs.unary = await probed(() =>
      grpcLoad('iris gRPC unary, one channel', address, irisGrpc, LIGHT, SECONDS, { pid }),
    );
    if (hasH2load())
      runs.h2load = await probed(() =>
        h2loadRun('iris gRPC unary, h2load, one connection', service, address, irisGrpc[0]!, LIGHT, SECONDS),
      );
    else console.log('h2load not found (apt-get install -y nghttp2-client): its run is left out');
    runs.stream = await probed(() =>
      grpcLoad('iris gRPC ModelStreamInfer, one stream', address, irisGrpc, LIGHT, SECONDS, { pid, stream: true }),
    );
    rounds.push(runs);
    console.log(`\nround ${round + 1}\n${table(Object.values(runs).map((r) => r.load))}`);
    console.log(
      Object.entries(runs)
        .map(
          ([k, r]) =>
            `${k}: /health p99 ${r.health.p99Ms} ms, gRPC health p99 ${r.grpcHealth.p99Ms} ms` +
            (r.steadyRows !== undefined ? `, steady ${r.steadyRows} rows/s (server-counted)` : ''),
        )
        .join('\n'),
    );
  }
} finally {
  await service.stop();
}

const ratio = (a: string, b: string, unit: 'rowsPerSec' | 'requestsPerSec' | 'steadyRows') => {
  const figure = (m: Measured) => (unit === 'steadyRows' ? m.steadyRows! : m.load[unit]);
  const xs = rounds.map((r) => figure(r[a]!) / figure(r[b]!));
  return `${median(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
};
console.log('\nmedian over rounds (range):');
for (const n of HEAVY)
  console.log(
    `digits_large x64, ${n} in flight: gRPC / REST binary steady rows/s (server-counted) ${ratio(`grpc-${n}`, `rest-${n}`, 'steadyRows')}; target >= 1.0x` +
      ` (load generators' own counts: ${ratio(`grpc-${n}`, `rest-${n}`, 'rowsPerSec')})`,
  );
console.log(
  `iris, 32 in flight: gRPC unary / /predict JSON req/s ${ratio('unary', 'predict', 'requestsPerSec')}; target >= 1.2x`,
);
console.log(
  `iris, 32 in flight: ModelStreamInfer / unary req/s ${ratio('stream', 'unary', 'requestsPerSec')}; target >= 1.0x`,
);
if (rounds[0]?.h2load) {
  console.log(
    `  the same unary calls from h2load / /predict JSON req/s ${ratio('h2load', 'predict', 'requestsPerSec')}`,
  );
  console.log(`  ModelStreamInfer / h2load's unary req/s ${ratio('stream', 'h2load', 'requestsPerSec')}`);
}
const worst = (key: 'health' | 'grpcHealth') =>
  Math.max(...rounds.flatMap((r) => Object.values(r).map((m) => m[key].p99Ms)));
console.log(
  `worst p99 over every run: /health ${worst('health')} ms, gRPC health ${worst('grpcHealth')} ms; target < 10 ms`,
);
console.log('saved', saveResults('grpc.json', { machine: machine(), seconds: SECONDS, rounds }));
