/**
 * This build against another, side by side in one run: did a change slow the paths clients use?
 * Both builds serve the bundled models (the cache off, so every request runs the model, except the
 * cache-hit path), started as their own processes and loaded in turns for BENCH_ROUNDS rounds, so
 * the machine's drift falls on both alike. Prints req/s, p99 and the server's CPU per request per
 * build, and this build's medians over the baseline's; writes bench/results/builds.json.
 *   git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run build)
 *   npm run build && BENCH_BASELINE=/tmp/base/dist/server.js npx tsx bench/builds.ts
 *   (BENCH_SECONDS=5 BENCH_CONNECTIONS=1,16 BENCH_ROUNDS=3 to change)
 */
import { holdoutRow, MODELS } from './bundled-model.js';
import { load, machine, median, saveResults, table, type LoadResult } from './lib.js';
import { ChildServer } from './servers.js';

const baseline = process.env.BENCH_BASELINE;
if (!baseline) throw new Error('set BENCH_BASELINE to the dist/server.js of the build to compare with');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connectionSets = (process.env.BENCH_CONNECTIONS ?? '1,16').split(',').map(Number);

const iris = holdoutRow('iris');
const paths: Record<string, { url: string; body: string | Buffer; cache: boolean }> = {
  'iris /predict JSON, cache hit': {
    url: '/predict',
    body: JSON.stringify({ model: 'iris', instances: [iris] }),
    cache: true,
  },
  'breast_cancer /predict JSON, miss': {
    url: '/predict',
    body: JSON.stringify({ model: 'breast_cancer', instances: [holdoutRow('breast_cancer')] }),
    cache: false,
  },
  'digits_large /predict binary, miss': {
    url: '/predict?model=digits_large&dtype=float32&shape=1,1,32,32',
    body: Buffer.from(new Float32Array(holdoutRow('digits_large')).buffer),
    cache: false,
  },
};
const builds = { 'this build': 'dist/server.js', baseline };

const servers = new Map<string, ChildServer>();
for (const [build, script] of Object.entries(builds)) {
  for (const cache of [true, false])
    servers.set(
      `${build}:${cache}`,
      await ChildServer.start(script, { MODEL_DIR: MODELS, CACHE_ENABLED: String(cache) }, '/ready'),
    );
}

interface Run extends LoadResult {
  path: string;
  build: string;
  cpuMicrosPerRequest?: number;
}
const runs: Run[] = [];
for (let round = 1; round <= rounds; round++) {
  for (const [path, { url, body, cache }] of Object.entries(paths)) {
    for (const connections of connectionSets) {
      for (const build of Object.keys(builds)) {
        const server = servers.get(`${build}:${cache}`)!;
        const result = await load(`${path}, ${build}`, `${server.url}${url}`, body, connections, seconds, {
          pid: server.pid,
        });
        const cpuMicrosPerRequest = result.serverCores
          ? Math.round((result.serverCores.total * 1e6) / result.requestsPerSec)
          : undefined;
        runs.push({ ...result, path, build, cpuMicrosPerRequest });
      }
    }
  }
}
for (const server of servers.values()) await server.stop();

const ratios = Object.keys(paths).flatMap((path) =>
  connectionSets.map((connections) => {
    const of = (build: string, field: 'requestsPerSec' | 'p99Ms' | 'cpuMicrosPerRequest') =>
      median(
        runs
          .filter((r) => r.path === path && r.connections === connections && r.build === build)
          .map((r) => r[field] ?? Number.NaN),
      );
    const ratio = (field: 'requestsPerSec' | 'p99Ms' | 'cpuMicrosPerRequest') =>
      +(of('this build', field) / of('baseline', field)).toFixed(2);
    return {
      path,
      connections,
      'req/s': ratio('requestsPerSec'),
      p99: ratio('p99Ms'),
      'CPU/request': ratio('cpuMicrosPerRequest'),
    };
  }),
);

console.log(table(runs));
console.log('\nthis build / baseline, medians over the rounds (req/s above 1 and p99, CPU below 1 are better)');
console.log('| path | connections | req/s | p99 | CPU per request |\n| --- | --- | --- | --- | --- |');
for (const r of ratios)
  console.log(`| ${r.path} | ${r.connections} | ${r['req/s']}x | ${r.p99}x | ${r['CPU/request']}x |`);
console.log(`saved ${saveResults('builds.json', { machine: machine(), baseline, seconds, rounds, runs, ratios })}`);
