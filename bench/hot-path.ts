/**
 * npm run bench:hot-path: microbenchmarks of the per-request work on the event loop, without HTTP,
 * so a change to one piece can be measured on its own (µs per call, after a warm-up):
 *   - the /predict envelope (zod) and a breast_cancer row: the compiled row check alone, the rows
 *     codec, then the codec and the model's input checks together;
 *   - a prediction id; an iris answer through JSON.stringify and through /predict's compiled serializer;
 *   - a digits_large binary tensor's checks (1024 floats);
 *   - the connection guard (src/http-connections.ts) on a request and its close, beside the same
 *     request and close without it (a fake socket and response: only the guard's own work differs);
 *   - a round trip through the worker pool with a tiny model (iris): wall time and the event loop's CPU.
 * Imports the sources through tsx (the worker pool then starts its workers through dev-worker.mjs).
 */
import { predictRequestSchema } from '../src/protocols/v1/predict-request.js';
import { INSTANCES } from '../src/protocols/v1/rows-places.js';
import { newPredictionId } from '../src/core/monitoring/prediction-id.js';
import { describeOnlySerializer } from '../src/protocols/openapi/describe-only.js';
import { predictRouteSchema } from '../src/protocols/v1/route-schemas.js';
import { InferencePool } from '../src/runtime/inference-pool.js';
import { EventEmitter } from 'node:events';
import { guardConnections } from '../src/http-connections.js';
import { bundledModel, holdoutRow, MODELS } from './bundled-model.js';
import { sampleCpu } from './cpu.js';
import { machine, microsPerCall, saveResults } from './lib.js';

const calls = Number(process.env.HOT_PATH_CALLS ?? 50_000);

const micros = (fn: () => unknown) => microsPerCall(fn, calls);

const { codec: tabular, runner: tabularRunner } = await bundledModel('breast_cancer');
const row = holdoutRow('breast_cancer');
const body = { model: 'breast_cancer', instances: [row] };
const rowCheck = (
  tabular as unknown as { check(kind: string, level: string): (row: unknown, issues: unknown[]) => void }
).check('nested', 'strict');
const issues: unknown[] = [];
const image = (await bundledModel('digits_large')).runner;
const pixels = new Float32Array(holdoutRow('digits_large'));

// /predict's answer, through the serializer the route compiles from its 200 schema
// (src/protocols/openapi/describe-only.ts).
const irisAnswer = {
  id: newPredictionId(),
  model: 'iris',
  version: '1',
  cached: false,
  label: 'setosa',
  confidence: 0.9811480641365051,
  probabilities: { setosa: 0.9811480641365051, versicolor: 0.018851403146982193, virginica: 5.020048092774232e-7 },
};
const serializeAnswer = describeOnlySerializer({
  schema: predictRouteSchema.response[200],
  method: 'POST',
  url: '/predict',
  httpStatus: '200',
});

const fakeSocket = Object.assign(new EventEmitter(), { writableLength: 0, destroyed: false, pause() {}, resume() {} });
const handle = () => {};
const guarded = guardConnections(handle, { maxInProgress: 8, maxQueuedBytes: 1 << 20 });
const requestAndClose = (handler: (req: never, res: never) => void) => () => {
  const res = new EventEmitter();
  handler({ socket: fakeSocket } as never, res as never);
  res.emit('close');
};

const results: Record<string, number> = {
  'envelope (zod)': micros(() => predictRequestSchema.safeParse(body)),
  'breast_cancer row, compiled row check alone': micros(() => rowCheck(row, issues)),
  'breast_cancer row, rows codec (row check + typed array)': micros(() =>
    tabular.decode(body.instances, INSTANCES, 'strict'),
  ),
  'breast_cancer row, rows codec + input checks': micros(() => {
    const decoded = tabular.decode(body.instances, INSTANCES, 'strict');
    return tabularRunner.checks.check({ input: decoded.tensor }, 'strict', decoded.locator);
  }),
  'prediction id': micros(() => newPredictionId()),
  'an iris answer, JSON.stringify': micros(() => JSON.stringify(irisAnswer)),
  "an iris answer, the route's compiled serializer": micros(() => serializeAnswer(irisAnswer)),
  'a request and its close, without the connection guard': micros(requestAndClose(handle)),
  'a request and its close, through the connection guard': micros(requestAndClose(guarded)),
  'digits_large tensor checks (1024 floats)': micros(() =>
    image.checks.check({ input: { dtype: 'float32', shape: [1, 1, 32, 32], data: pixels } }, 'strict'),
  ),
};

// One task at a time through the pool: the hand-off's wall time and what it costs the event loop.
const pool = InferencePool.start({
  models: [{ key: 'iris', path: `${MODELS}iris/1/model.onnx` }],
  workers: 1,
  intraOpThreads: 1,
  interOpThreads: 1,
  nice: 0,
});
const task = () => ({
  key: 'iris',
  inputs: { input: { dtype: 'float32' as const, shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) } },
  fetch: ['probabilities'],
  rows: 1,
});
const trips = Math.min(calls, 20_000);
for (let i = 0; i < 2_000; i++) await pool.run(task());
const cpuBefore = sampleCpu(process.pid);
const started = performance.now();
for (let i = 0; i < trips; i++) await pool.run(task());
const wallMs = performance.now() - started;
const cpuAfter = sampleCpu(process.pid);
await pool.close();
results['worker pool round trip, iris (wall)'] = +((wallMs * 1000) / trips).toFixed(2);
if (cpuBefore && cpuAfter)
  results['worker pool round trip, iris (event-loop CPU)'] = +(
    ((cpuAfter.mainMs - cpuBefore.mainMs) * 1000) /
    trips
  ).toFixed(2);

console.log('| piece | µs per call |\n| --- | --- |');
for (const [piece, value] of Object.entries(results)) console.log(`| ${piece} | ${value} |`);
console.log('\nwritten to', saveResults('hot-path.json', { machine: machine(), calls, results }));
