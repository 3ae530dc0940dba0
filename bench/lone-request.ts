/**
 * What one lone request costs the event loop, this build against others, in one process: each build's
 * app (its dist/app.js) on the bundled models, driven by app.inject one request at a time, the builds
 * in turns of BLOCK requests for ROUNDS rounds. No sockets and no other process, so the figure is the
 * request path's own CPU (plus light-my-request's, the same for each build), with far less noise than
 * HTTP at 1 connection on a shared machine. Prints µs of the main thread's CPU per request and the medians'
 * ratios.
 *
 *   npm run build && LONE_BASELINE=9ba5dbe=/tmp/base/dist npx tsx bench/lone-request.ts
 *   (LONE_ROUNDS=8 LONE_BLOCK=3000 LONE_PATHS=iris,digits; LONE_ENV='{"INLINE_MAX_ROW_MICROS":"1000"}' adds settings)
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { holdoutRow } from './bundled-model.js';
import { median } from './lib.js';

interface Build {
  name: string;
  app: { inject(options: object): Promise<{ statusCode: number; body: string }>; close(): Promise<void> };
}

const rounds = Number(process.env.LONE_ROUNDS ?? 8);
const block = Number(process.env.LONE_BLOCK ?? 3000);
const extraEnv = JSON.parse(process.env.LONE_ENV ?? '{}') as Record<string, string>;
const baselines = (process.env.LONE_BASELINE ?? '').split(',').filter(Boolean);
if (baselines.length === 0) throw new Error('set LONE_BASELINE=name=<a build>/dist');

const silent = new Writable({ write: (_chunk, _enc, done) => done() });
const env = {
  MODEL_DIR: resolve('models'),
  LOG_LEVEL: 'info', // the access log line is part of a request's cost
  INFERENCE_WORKERS: '1',
  CACHE_ENABLED: 'false', // every request runs the model
  ...extraEnv,
};

async function load(name: string, dist: string): Promise<Build> {
  const { buildApp } = (await import(pathToFileURL(resolve(dist, 'app.js')).href)) as {
    buildApp: (config: unknown, deps: object) => Promise<Build['app'] & { modelsLoaded: Promise<void> }>;
  };
  const { loadConfig } = (await import(pathToFileURL(resolve(dist, 'config.js')).href)) as {
    loadConfig: (env: Record<string, string>) => unknown;
  };
  const app = await buildApp(loadConfig(env), { logStream: silent });
  await app.modelsLoaded;
  return { name, app };
}

const builds = [
  await load('this build', 'dist'),
  ...(await Promise.all(
    baselines.map((entry) => {
      const [name, dist] = entry.split('=') as [string, string];
      return load(name, dist);
    }),
  )),
];

const features = Object.fromEntries(
  ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((f, i) => [f, holdoutRow('iris')[i]]),
);
const digits = holdoutRow('digits_large');
const only = process.env.LONE_PATHS;
const paths: Record<string, (i: number) => object> = {
  'iris /predict JSON, miss': (i) => ({
    method: 'POST',
    url: '/predict',
    headers: { 'content-type': 'application/json' },
    // A distinct row each time: the cache is off anyway, and no layer can remember the answer.
    payload: JSON.stringify({ model: 'iris', features: { ...features, sepal_length: 5 + (i % 1000) / 1000 } }),
  }),
  'iris OIP JSON, miss': (i) => ({
    method: 'POST',
    url: '/v2/models/iris/infer',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5 + (i % 1000) / 1000, 3.5, 1.4, 0.2] }],
    }),
  }),
  'digits_large /predict binary, miss': (i) => ({
    method: 'POST',
    url: '/predict?model=digits_large&dtype=float32&shape=1,1,32,32',
    headers: { 'content-type': 'application/octet-stream' },
    payload: Buffer.from(new Float32Array(digits.map((v, j) => (j === 0 ? (i % 1000) / 1000 : v))).buffer),
  }),
  'GET /health': () => ({ method: 'GET', url: '/health' }),
};

/** The main thread's CPU time in µs (Linux's schedstat, ns resolution): the worker threads' is not the event loop's. */
const mainThread = `/proc/self/task/${process.pid}/schedstat`;
const cpuMicros = () => Number(readFileSync(mainThread, 'utf8').split(' ')[0]) / 1000;

console.log(`| path | build | main thread µs per request, median of ${rounds} rounds of ${block} (range) |`);
console.log('| --- | --- | --- |');
const summary: string[] = [];
for (const [path, request] of Object.entries(paths).filter(
  ([p]) => !only || only.split(',').some((o) => p.startsWith(o)),
)) {
  const samples = new Map(builds.map((b) => [b.name, [] as number[]]));
  for (let round = -1; round < rounds; round++) {
    for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
      const before = cpuMicros();
      for (let i = 0; i < block; i++) {
        const response = await build.app.inject(request(i));
        if (response.statusCode !== 200)
          throw new Error(`${build.name} ${path}: ${response.statusCode} ${response.body}`);
      }
      if (round >= 0) samples.get(build.name)!.push((cpuMicros() - before) / block); // round -1 warms up
    }
  }
  const mine = median(samples.get('this build')!);
  for (const [name, values] of samples)
    console.log(
      `| ${path} | ${name} | ${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)}) |`,
    );
  for (const [name, values] of samples)
    if (name !== 'this build') summary.push(`| ${path} | ${name} | ${(mine / median(values)).toFixed(2)}x |`);
}
console.log(
  "\nthis build's CPU per request over each other's (below 1 is cheaper)\n| path | against | ratio |\n| --- | --- | --- |",
);
for (const line of summary) console.log(line);
await Promise.all(builds.map((b) => b.app.close()));
