/**
 * npm run bench:cache-policy: what the prediction cache costs when it cannot help, and what it
 * saves when it can, side by side in one run. breast_cancer rows over /predict JSON at 32
 * connections, as distinct rows (no hits possible) and as one repeated row (every request a hit),
 * against three servers: the cache off, the cache always used (CACHE_MIN_HIT_RATE=0), and the
 * default measured policy, which skips the cache for a model whose rows rarely hit.
 * Rounds alternate the servers (BENCH_ROUNDS, BENCH_SECONDS); each ratio is the median round's.
 */
import { readFileSync } from 'node:fs';
import { holdoutRows, MODELS } from './bundled-model.js';
import { load, machine, saveResults, table, type LoadResult } from './lib.js';
import { ChildServer } from './servers.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const connections = 32;
const script = new URL('../dist/server.js', import.meta.url).pathname;
const models = new URL('../models/', import.meta.url).pathname;

const rows = holdoutRows('breast_cancer');
const first = (
  JSON.parse(readFileSync(`${MODELS}breast_cancer/model.json`, 'utf8')) as {
    features: { min?: number; max?: number }[];
  }
).features[0]!;
// Distinct: the holdout rows, the first feature nudged per copy (within its model.json range) so no body repeats.
const distinct = Array.from({ length: 20_000 }, (_, i) => {
  const row = [...rows[i % rows.length]!];
  row[0] = Math.min(first.max ?? Infinity, Math.max(first.min ?? -Infinity, row[0]! + (i % 2 ? 1 : -1) * i * 1e-6));
  return JSON.stringify({ model: 'breast_cancer', instances: [row] });
});
const repeated = JSON.stringify({ model: 'breast_cancer', instances: [rows[0]] });

const variants = {
  'cache off': { CACHE_ENABLED: 'false' },
  'cache always': { CACHE_MIN_HIT_RATE: '0' },
  'cache, measured policy (default)': {},
};
const servers = new Map<string, ChildServer>();
for (const [name, env] of Object.entries(variants))
  servers.set(name, await ChildServer.start(script, { MODEL_DIR: models, ...env }, '/ready'));

const results: LoadResult[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const [traffic, body] of [
      ['distinct rows', distinct],
      ['one repeated row', repeated],
    ] as const) {
      for (const [name, server] of servers) {
        results.push({
          ...(await load(`${traffic}: ${name}`, `${server.url}/predict`, body, connections, seconds, {
            pid: server.pid,
          })),
          round,
        } as LoadResult);
      }
    }
  }
} finally {
  for (const server of servers.values()) await server.stop();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const byName = (name: string) => results.filter((r) => r.name === name);
console.log(table(results.filter((r) => (r as LoadResult & { round: number }).round === 0)));
const ratios: Record<string, number> = {};
for (const traffic of ['distinct rows', 'one repeated row']) {
  const off = byName(`${traffic}: cache off`);
  for (const name of ['cache always', 'cache, measured policy (default)']) {
    const runs = byName(`${traffic}: ${name}`);
    ratios[`${traffic}: ${name} / cache off`] = +median(
      runs.map((r, i) => r.requestsPerSec / off[i]!.requestsPerSec),
    ).toFixed(3);
  }
}
console.log('\nreq/s against the cache off, median of', rounds, 'rounds:');
for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${v}x`);
console.log(
  'written to',
  saveResults('cache-policy.json', { machine: machine(), rounds, seconds, connections, results, ratios }),
);
