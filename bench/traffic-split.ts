/**
 * npx tsx bench/traffic-split.ts: what choosing a split's variant costs per request (µs per call,
 * after a warm-up), and what the hash under it costs against the alternatives:
 *   - assign() with a key for 2, 3 and 4 variants, and without a key;
 *   - one 53-bit value from key+variant: xxhash-wasm's h64 (what the split uses), node:crypto's
 *     one-shot hash('sha256') and createHash('sha256').
 * Keys are 10,000 distinct user ids, walked in turn, so no call repeats its predecessor's input.
 * Then the same in the service: ModelRegistry.route(), and /predict with and without a split (below).
 */
import { createHash, hash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xxhash from 'xxhash-wasm';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { compileSplit } from '../src/core/models/traffic-split.js';

const calls = Number(process.env.SPLIT_CALLS ?? 500_000);
const keys = Array.from({ length: 10_000 }, (_, i) => `user-${(i * 7919).toString(36)}-${i}`);

/** µs per call of fn(key), after as many unmeasured calls to warm the JIT. */
function micros(fn: (key: string) => unknown): number {
  let sink = 0;
  const run = () => {
    for (let i = 0; i < calls; i++) if (fn(keys[i % keys.length]!)) sink++;
  };
  run();
  const started = performance.now();
  run();
  const elapsed = performance.now() - started;
  if (sink < 0) console.log(sink);
  return +((elapsed * 1000) / calls).toFixed(3);
}

const splits = {
  2: compileSplit(
    [
      { name: 'v1', weight: 90 },
      { name: 'v2', weight: 10 },
    ],
    { salt: 'fraud' },
  ),
  3: compileSplit(
    [
      { name: 'v1', weight: 80 },
      { name: 'v2', weight: 10 },
      { name: 'v3', weight: 10 },
    ],
    { salt: 'fraud' },
  ),
  4: compileSplit(
    [
      { name: 'v1', weight: 70 },
      { name: 'v2', weight: 10 },
      { name: 'v3', weight: 10 },
      { name: 'v4', weight: 10 },
    ],
    { salt: 'fraud' },
  ),
};

// eslint-disable-next-line @typescript-eslint/unbound-method -- typed as methods, but closures over the instance
const { h64 } = await xxhash();
const seed = h64('fraud\u0000v2');
const hashes = {
  'xxhash-wasm h64(key, seed)': (key: string) => Number(h64(key, seed) >> 11n),
  "crypto.hash('sha256', key+name)": (key: string) => hash('sha256', `${key}\u0000v2`, 'buffer').readUIntBE(0, 6),
  "crypto.createHash('sha256')": (key: string) =>
    createHash('sha256').update(`${key}\u0000v2`).digest().readUIntBE(0, 6),
};

const rows: [string, number][] = [];
for (const [n, split] of Object.entries(splits))
  rows.push([`assign(key), ${n} variants`, micros((k) => split.assign(k))]);
rows.push(['assign() without a key, 4 variants', micros(() => splits[4].assign())]);
for (const [name, fn] of Object.entries(hashes)) rows.push([`one hash: ${name}`, micros(fn)]);

const xx = rows.find(([name]) => name.startsWith('one hash: xxhash'))![1];
console.log(`node ${process.version}, ${calls} calls each\n`);
console.log('what'.padEnd(44), 'µs/call', '  × xxhash-wasm');
for (const [name, us] of rows)
  console.log(name.padEnd(44), String(us).padStart(7), `  ${(us / xx).toFixed(1).padStart(6)}`);

/*
 * The same cost in the service, side by side in one run, in one process (app.inject, no sockets):
 *   - ModelRegistry.route() for a model with a 50/50 split (with a routing key, and without) and for
 *     one without a split (what every request that names no version pays);
 *   - /predict end to end, prediction cache off, three models that are the same iris file as
 *     versions 1 and 2 and differ only by model.json's `traffic`: `plain` (none: version 2 serves),
 *     `aa` (an A/A split, both variants on version 2: the routing alone) and `split` (50/50 over
 *     versions 1 and 2: routing, and two sessions and queues in use). Rounds rotate the order, and
 *     the medians of the rounds are compared.
 */
const repo = mkdtempSync(join(tmpdir(), 'traffic-bench-'));
const iris = new URL('../models/iris/', import.meta.url).pathname;
const irisJson = JSON.parse(readFileSync(join(iris, 'model.json'), 'utf8')) as Record<string, unknown>;
delete irisJson.card; // its sha256s name version 1 only
const MODELS = {
  plain: undefined,
  aa: {
    variants: [
      { name: 'a', version: 2, weight: 50 },
      { name: 'b', version: 2, weight: 50 },
    ],
  },
  split: {
    variants: [
      { name: 'stable', version: 1, weight: 50 },
      { name: 'canary', version: 2, weight: 50 },
    ],
  },
};
type Model = keyof typeof MODELS;
for (const [model, traffic] of Object.entries(MODELS)) {
  for (const version of ['1', '2']) {
    mkdirSync(join(repo, model, version), { recursive: true });
    copyFileSync(join(iris, '1', 'model.onnx'), join(repo, model, version, 'model.onnx'));
  }
  writeFileSync(join(repo, model, 'model.json'), JSON.stringify({ ...irisJson, ...(traffic ? { traffic } : {}) }));
}
const app = await buildApp(loadConfig({ ...process.env, LOG_LEVEL: 'warn', MODEL_DIR: repo, CACHE_ENABLED: 'false' }));
await app.modelsLoaded;
const routeRows: [string, number][] = [
  ['route(): split, by key', micros((k) => app.router.route('split', undefined, k).variant)],
  ['route(): split, no key (weighted draw)', micros(() => app.router.route('split').variant)],
  ['route(): no split', micros(() => app.router.route('plain').entry)],
  // what a large body adds on the main thread before a decode worker parses it: the router's state, to route by
  ['snapshot(): the router for a decode worker', micros(() => app.router.snapshot((r) => r.spec.key))],
];

const requests = Number(process.env.SPLIT_PREDICTS ?? 2000);
const rounds = Number(process.env.SPLIT_ROUNDS ?? 9);
const predictOnce = (model: Model, i: number) =>
  app.inject({
    method: 'POST',
    url: '/predict',
    payload: `{"model":"${model}","features":{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}}`,
    headers: { 'content-type': 'application/json', 'x-routing-key': keys[i % keys.length]! },
  });
async function predictRound(model: Model): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < requests; i++)
    if ((await predictOnce(model, i)).statusCode !== 200) throw new Error(`/predict ${model} failed`);
  return ((performance.now() - started) * 1000) / requests;
}
const names = Object.keys(MODELS) as Model[];
for (const model of names) await predictRound(model); // warm-up, unmeasured
const perRound = Object.fromEntries(names.map((m) => [m, [] as number[]])) as Record<Model, number[]>;
for (let r = 0; r < rounds; r++)
  for (let j = 0; j < names.length; j++) {
    const model = names[(r + j) % names.length]!;
    perRound[model].push(await predictRound(model));
  }
const placement = names
  .map(
    (m) =>
      `${m}: ${app.router
        .entries(m)
        .map((e) => `v${e.version} ${app.placement(e.runner!.spec.key)}`)
        .join(', ')}`,
  )
  .join('; ');
await app.close();
rmSync(repo, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `\nin the service (${calls} route() calls; /predict: ${rounds} rotating rounds of ${requests} requests, cache off, app.inject)\n`,
);
for (const [name, us] of routeRows) console.log(name.padEnd(50), String(us).padStart(7));
for (const model of names)
  console.log(
    `/predict, ${model}`.padEnd(50),
    median(perRound[model]).toFixed(1).padStart(7),
    `  ${(median(perRound[model]) / median(perRound.plain)).toFixed(3)}x plain   rounds ${perRound[model].map((x) => x.toFixed(0)).join(' ')}`,
  );
console.log(`runs on: ${placement}`);
