/**
 * npm run bench: the service against the limits of this machine, side by side in one run.
 *   1. tabular JSON (breast_cancer, cache off): service (/predict, and OIP JSON) vs a bare Fastify
 *      route with the same body and a same-size response (the HTTP ceiling);
 *   2. the heavy model (digits_large) over binary input, cache off: service vs onnxruntime
 *      in-process at its best batch size with the same thread budget (the compute ceiling), and vs
 *      the naive server (one session.run per request on the main thread); and the same image over
 *      the Open Inference Protocol as Triton's client sends it (binary in and out, no Content-Type)
 *      against /predict's binary path, and as OIP JSON;
 *   3. cache hits vs the HTTP ceiling, and the floor route (bench/floor-server.ts: only the checks
 *      and the session.run any server must do) vs the same ceiling;
 *   4. /health latency and the service's event-loop delay while the heavy model saturates the CPU;
 *   5. large JSON tensors: an image CNN fed 4 images per request as nested JSON (~800 KB) against the
 *      same images in binary, 16 connections, with /health sampled every 20 ms from a process of its
 *      own through each run (bench/json-images.ts); JSON also with the decode workers off
 *      (JSON_OFFLOAD_BYTES=0), which shows what parsing on the event loop costs the probes.
 * Every server runs in its own process (the service as built, dist/server.js, as in production);
 * autocannon (as a library) drives them from this one. Each measured run follows an unmeasured
 * warm-up at the same concurrency (BENCH_WARMUP_SECONDS, default 1), and records the CPU the server
 * (its main thread, and all its threads) and the load generator used, from which the table says
 * what limited the figure (bench/cpu.ts, bench/lib.ts limitOf).
 * The machine is shared and its speed drifts over minutes, so every comparison is measured in
 * BENCH_ROUNDS (default 3) rounds, each round running the pair back to back; a ratio is the median
 * of its rounds' ratios, with their range. The table shows each run's median round.
 * Two references come from onnxruntime alone: its cost per tabular row by batch size (what even a
 * zero-overhead service adds to the HTTP ceiling) and the naive server's in-process best (batch 1,
 * all threads), which bounds what batching can gain over it.
 * BENCH_SECONDS (default 3) per run, BENCH_CONNECTIONS (default 1,16,64).
 */
import { availableParallelism } from 'node:os';
import { holdoutRow, MODELS as models } from './bundled-model.js';
import { computeCeiling } from './compute-ceiling.js';
import { load, machine, saveResults, table, type LoadResult } from './lib.js';
import { imageRepository, jsonAgainstBinary, type ImageRun } from './json-images.js';
import { oipBinaryRequest } from './oip-body.js';
import { ChildServer } from './servers.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connectionSets = (process.env.BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);
const cpus = availableParallelism();
const serviceEnv = { MODEL_DIR: models, CACHE_ENABLED: 'false' };
const workers = Number(process.env.INFERENCE_WORKERS ?? cpus);

const tabularBody = JSON.stringify({ model: 'breast_cancer', instances: [holdoutRow('breast_cancer')] });
const tabularOip = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: holdoutRow('breast_cancer') }],
  outputs: [{ name: 'probabilities' }],
});
const heavyModel = `${models}digits_large/1/model.onnx`;
const heavyBody = Buffer.from(new Float32Array(holdoutRow('digits_large')).buffer);
const heavyQuery = '/predict?model=digits_large&dtype=float32&shape=1,1,32,32';
const heavyOip = oipBinaryRequest({ name: 'input', datatype: 'FP32', shape: [1, 1, 32, 32], bytes: heavyBody }, [
  'probabilities',
]);
const heavyOipJson = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 32, 32], data: holdoutRow('digits_large') }],
});
const heavyOipUrl = '/v2/models/digits_large/infer';

async function answerOf(url: string, body: string | Buffer): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': typeof body === 'string' ? 'application/json' : 'application/octet-stream' },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.text();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const round3 = (x: number) => +x.toFixed(3);
/** The round with the median req/s of one run, for the table. */
const medianRun = (runs: LoadResult[]) =>
  [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec)[Math.floor((runs.length - 1) / 2)]!;

const runs = new Map<string, LoadResult[]>(); // `${name}@${connections}` -> one result per round
const record = (result: LoadResult) => {
  const key = `${result.name}@${result.connections}`;
  runs.set(key, [...(runs.get(key) ?? []), result]);
  return result;
};
const perRound = new Map<string, { throughput: number[]; p99: number[] }>();
const compare = (name: string, ceiling: number, service: number, p99?: [number, number]) => {
  const entry = perRound.get(name) ?? { throughput: [], p99: [] };
  entry.throughput.push(service / ceiling);
  if (p99) entry.p99.push(p99[0] / Math.max(p99[1], 0.01));
  perRound.set(name, entry);
};

const service = await ChildServer.start('dist/server.js', serviceEnv, '/ready');
const cached = await ChildServer.start('dist/server.js', { MODEL_DIR: models }, '/ready');
const images = imageRepository();
const imageService = await ChildServer.start('dist/server.js', { MODEL_DIR: images, CACHE_ENABLED: 'false' }, '/ready');
const imageOnMain = await ChildServer.start(
  'dist/server.js',
  { MODEL_DIR: images, CACHE_ENABLED: 'false', JSON_OFFLOAD_BYTES: '0' },
  '/ready',
);
const imageRuns: { json: ImageRun; binary: ImageRun; jsonOnMain: ImageRun }[] = [];
const tabularAnswer = await answerOf(`${service.url}/predict`, tabularBody);
const bare = await ChildServer.start('bench/bare-server.ts', { BARE_RESPONSE: tabularAnswer });
const floor = await ChildServer.start('bench/floor-server.ts', {});
await answerOf(`${floor.url}/predict`, tabularBody);
const naive = await ChildServer.start('bench/naive-server.ts', {
  NAIVE_MODEL: heavyModel,
  NAIVE_THREADS: String(cpus),
});
await answerOf(`${cached.url}/predict`, tabularBody); // fills the cache

const ceilings: Awaited<ReturnType<typeof computeCeiling>>[] = [];
const naiveInProcess: number[] = [];
const tabularInference: { batch: number; rowsPerSec: number }[][] = [];
for (let round = 1; round <= rounds; round++) {
  console.log(`round ${round} of ${rounds}`);
  // 1 and 3: JSON against the HTTP ceiling (cache off, then cache on)
  for (const c of connectionSets) {
    const ceiling = record(
      await load('bare Fastify, JSON (HTTP ceiling)', `${bare.url}/predict`, tabularBody, c, seconds, {
        pid: bare.pid,
      }),
    );
    const svc = record(
      await load('service, tabular JSON', `${service.url}/predict`, tabularBody, c, seconds, { pid: service.pid }),
    );
    const oip = record(
      await load('service, tabular OIP JSON', `${service.url}/v2/models/breast_cancer/infer`, tabularOip, c, seconds, {
        pid: service.pid,
      }),
    );
    const hit = record(
      await load('service, cache hit', `${cached.url}/predict`, tabularBody, c, seconds, { pid: cached.pid }),
    );
    const least = record(
      await load('floor route: zod checks + session.run only', `${floor.url}/predict`, tabularBody, c, seconds, {
        pid: floor.pid,
      }),
    );
    compare(`tabular JSON / HTTP ceiling @${c}`, ceiling.requestsPerSec, svc.requestsPerSec, [
      svc.p99Ms,
      ceiling.p99Ms,
    ]);
    compare(`tabular OIP JSON / HTTP ceiling @${c}`, ceiling.requestsPerSec, oip.requestsPerSec, [
      oip.p99Ms,
      ceiling.p99Ms,
    ]);
    compare(`cache hit / HTTP ceiling @${c}`, ceiling.requestsPerSec, hit.requestsPerSec, [hit.p99Ms, ceiling.p99Ms]);
    compare(`floor route / HTTP ceiling @${c}`, ceiling.requestsPerSec, least.requestsPerSec, [
      least.p99Ms,
      ceiling.p99Ms,
    ]);
  }
  // onnxruntime alone on the tabular model, one thread (as on the event loop): one row per run, and batched
  tabularInference.push((await computeCeiling(`${models}breast_cancer/1/model.onnx`, 1, 1, 1, [1, 16, 64])).results);

  // 2: the heavy model over binary input, and its two references
  const heavy: LoadResult[] = [];
  const naiveRuns: LoadResult[] = [];
  for (const c of connectionSets) {
    const predictBinary = record(
      await load('service, digits_large binary', `${service.url}${heavyQuery}`, heavyBody, c, seconds, {
        pid: service.pid,
      }),
    );
    heavy.push(predictBinary);
    const oip = record(
      await load('service, digits_large OIP binary', `${service.url}${heavyOipUrl}`, heavyOip.body, c, seconds, {
        pid: service.pid,
        headers: heavyOip.headers,
      }),
    );
    record(
      await load('service, digits_large OIP JSON', `${service.url}${heavyOipUrl}`, heavyOipJson, c, seconds, {
        pid: service.pid,
      }),
    );
    compare(`OIP binary / predict binary (digits_large) @${c}`, predictBinary.requestsPerSec, oip.requestsPerSec, [
      oip.p99Ms,
      predictBinary.p99Ms,
    ]);
    naiveRuns.push(
      record(
        await load('naive server, digits_large binary', `${naive.url}/predict`, heavyBody, c, seconds, {
          pid: naive.pid,
        }),
      ),
    );
  }
  const ceiling = await computeCeiling(
    heavyModel,
    workers,
    Math.max(1, Math.floor(cpus / workers)),
    Math.min(seconds, 2),
  );
  ceilings.push(ceiling);
  naiveInProcess.push((await computeCeiling(heavyModel, 1, cpus, Math.min(seconds, 2), [1])).best.rowsPerSec);
  const best = (xs: LoadResult[]) => Math.max(...xs.map((r) => r.rowsPerSec));
  compare('heavy binary / compute ceiling (best of each)', ceiling.best.rowsPerSec, best(heavy));
  compare('heavy binary / naive server (best of each)', best(naiveRuns), best(heavy));
  compare(
    'bound: compute ceiling / naive in-process (batch 1, all threads)',
    naiveInProcess.at(-1)!,
    ceiling.best.rowsPerSec,
  );

  // 5: large JSON tensors against binary, /health sampled through each run
  const { json, binary } = await jsonAgainstBinary(imageService, 16, seconds);
  const { json: jsonOnMain } = await jsonAgainstBinary(imageOnMain, 16, seconds, {
    jsonOnly: true,
    label: ' (decode workers off)',
  });
  for (const run of [json, binary, jsonOnMain]) record(run.load);
  imageRuns.push({ json, binary, jsonOnMain });
  compare('image CNN: nested JSON / binary rows/s', binary.load.rowsPerSec, json.load.rowsPerSec);
}
await Promise.all([cached.stop(), bare.stop(), floor.stop(), naive.stop(), imageService.stop(), imageOnMain.stop()]);

// 4: /health while the heavy model saturates the service
const saturate = load(
  'service, digits_large binary (saturating)',
  `${service.url}${heavyQuery}`,
  heavyBody,
  64,
  seconds + 1,
  { pid: service.pid, warmupSeconds: 0 },
);
await new Promise((r) => setTimeout(r, 500));
const health = record(
  await load('/health during saturation', `${service.url}/health`, undefined, 1, seconds, {
    pid: service.pid,
    warmupSeconds: 0,
  }),
);
record(await saturate);
const metrics = await (await fetch(`${service.url}/metrics`)).text();
const lag = (name: string) =>
  Number(/^(\S+) (\S+)$/m.exec(metrics.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2]);
const eventLoop = {
  p50Ms: +(lag('nodejs_eventloop_lag_p50_seconds') * 1000).toFixed(2),
  p99Ms: +(lag('nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(2),
};
await service.stop();

const ratios = [...perRound].map(([comparison, r]) => ({
  comparison,
  throughput: round3(median(r.throughput)),
  throughputRange: [round3(Math.min(...r.throughput)), round3(Math.max(...r.throughput))],
  ...(r.p99.length > 0
    ? { p99: round3(median(r.p99)), p99Range: [round3(Math.min(...r.p99)), round3(Math.max(...r.p99))] }
    : {}),
}));
// onnxruntime's own cost per tabular row, by batch size: what even a zero-overhead service adds to the bare route.
const inferenceMicros = [1, 16, 64].map((batch) => ({
  batch,
  microsPerRow: +(1e6 / median(tabularInference.map((r) => r.find((x) => x.batch === batch)!.rowsPerSec))).toFixed(2),
}));
const batchRows = (model: string) => {
  const value = (name: string) =>
    Number(new RegExp(`^${name}\\{model="${model}",version="1"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
  return +(value('ml_batch_size_rows_sum') / value('ml_batch_size_rows_count')).toFixed(2);
};
const meanBatchRows = { breast_cancer: batchRows('breast_cancer'), digits_large: batchRows('digits_large') };
const rows = [...runs.values()].map(medianRun);

console.log(`\n${table(rows)}\n`);
console.log(
  'compute ceiling (onnxruntime in-process, digits_large), per round:',
  JSON.stringify(ceilings.map((c) => c.results)),
);
console.log('naive in-process (digits_large, batch 1, all threads), rows/s per round:', JSON.stringify(naiveInProcess));
console.log(
  'onnxruntime alone on breast_cancer, one thread, µs per row by batch size (median of rounds):',
  JSON.stringify(inferenceMicros),
);
console.log('mean rows per batch the service ran over the whole bench:', JSON.stringify(meanBatchRows));
console.log('service event-loop delay over the run:', JSON.stringify(eventLoop));
console.log('/health during saturation: p50', health.p50Ms, 'ms, p99', health.p99Ms, 'ms');
for (const [name, pick] of [
  ['image CNN JSON', (r: (typeof imageRuns)[number]) => r.json],
  ['image CNN binary', (r: (typeof imageRuns)[number]) => r.binary],
  ['image CNN JSON, decode workers off', (r: (typeof imageRuns)[number]) => r.jsonOnMain],
] as const) {
  console.log(
    `/health every 20 ms through ${name}, per round:`,
    JSON.stringify(imageRuns.map((r) => ({ rowsPerSec: pick(r).load.rowsPerSec, ...pick(r).health }))),
  );
}
console.log(`\nratios (median of ${rounds} rounds, [range]):`);
for (const r of ratios) console.log(' ', JSON.stringify(r));
console.log(
  '\nwritten to',
  saveResults('bench.json', {
    machine: machine(),
    seconds,
    rounds,
    rows,
    runs: Object.fromEntries(runs),
    ceilings,
    naiveInProcess,
    tabularInference,
    inferenceMicros,
    meanBatchRows,
    eventLoop,
    imageRuns,
    ratios,
  }),
);
