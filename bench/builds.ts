/**
 * This build against others, side by side in one run: did a change slow the paths clients use, and
 * how far is it from the HTTP ceiling? Every build serves the bundled models (the cache off, so every
 * request runs the model, except the cache-hit paths), started as its own process; the ceiling is
 * bench/bare-server.ts answering each path's bytes as this build answers them. All are loaded in
 * turns for BENCH_ROUNDS rounds, so the machine's drift falls on each alike. Prints req/s, p99 and the
 * server's CPU per request per build, and this build's medians over each other's; writes
 * bench/results/builds.json.
 *   git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run build)
 *   npm run build && BENCH_BASELINE=/tmp/base/dist/server.js npx tsx bench/builds.ts
 *   BENCH_BASELINE=a475eaf=/tmp/a/dist/server.js,b327a4a=/tmp/b/dist/server.js names several
 *   (BENCH_SECONDS=5 BENCH_CONNECTIONS=1,32 BENCH_ROUNDS=3 BENCH_PATHS=iris to change; BENCH_CEILING=0
 *   leaves the bare route out; BENCH_RESTART=1 starts every build afresh each round; BENCH_MODEL_DIR
 *   serves another repository than models/)
 */
import { holdoutRow, holdoutRows, MODELS } from './bundled-model.js';
import { load, machine, median, saveResults, table, type LoadResult } from './lib.js';
import { ChildServer, freePort } from './servers.js';

if (!process.env.BENCH_BASELINE)
  throw new Error('set BENCH_BASELINE to the dist/server.js of the build to compare with');
const baselines = Object.fromEntries(
  process.env.BENCH_BASELINE.split(',').map((entry, i, all) => {
    const [name, script] = entry.includes('=')
      ? entry.split('=')
      : [all.length > 1 ? `baseline ${i + 1}` : 'baseline', entry];
    return [name!, script!];
  }),
);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const restart = process.env.BENCH_RESTART === '1';
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connectionSets = (process.env.BENCH_CONNECTIONS ?? '1,16').split(',').map(Number);
const ceiling = process.env.BENCH_CEILING !== '0';
const pathFilter = process.env.BENCH_PATHS;
const modelDir = process.env.BENCH_MODEL_DIR ?? MODELS;

const iris = holdoutRow('iris');
/** OIP binary: a JSON header, then the tensor's bytes (binary tensor data extension). */
function oipBinary(name: string, input: string, shape: number[], values: number[]) {
  const data = Buffer.from(new Float32Array(values).buffer);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: input, shape, datatype: 'FP32', parameters: { binary_data_size: data.length } }],
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
    }),
  );
  return {
    url: `/v2/models/${name}/infer`,
    body: Buffer.concat([header, data]),
    headers: { 'inference-header-content-length': String(header.length) },
    cache: false,
  };
}
const allPaths: Record<
  string,
  { url: string; body: string | Buffer; cache: boolean; headers?: Record<string, string> }
> = {
  'iris /predict JSON, miss': {
    url: '/predict',
    body: JSON.stringify({ model: 'iris', instances: [iris] }),
    cache: false,
  },
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
  'iris OIP JSON, miss': {
    url: '/v2/models/iris/infer',
    body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: iris }] }),
    cache: false,
  },
  'digits_large OIP binary, miss': oipBinary('digits_large', 'input', [1, 1, 32, 32], holdoutRow('digits_large')),
  // Past JSON_OFFLOAD_BYTES (64 KiB by default): parsed and decoded on a decode worker
  'digits_large /predict JSON 32 rows (75 KB, decode worker), miss': {
    url: '/predict',
    body: JSON.stringify({ model: 'digits_large', instances: holdoutRows('digits_large').slice(0, 32) }),
    cache: false,
  },
};
const paths = Object.fromEntries(
  Object.entries(allPaths).filter(([path]) => !pathFilter || pathFilter.split(',').some((p) => path.startsWith(p))),
);
const builds: Record<string, string> = { 'this build': 'dist/server.js', ...baselines };
const BARE = 'bare route';

const servers = new Map<string, ChildServer>();
/**
 * Every build's servers, (re)started. A process start decides things that hold for its life (tiny
 * models' placement from their first timed runs, JIT, memory layout): with BENCH_RESTART=1 every round
 * gets fresh processes, so that one start's luck is not every round's. Back to back, c6a41fb against
 * cbd4fce gave 0.80x then 1.03x on iris at 32 connections over 8 rounds in one process each.
 */
async function startBuilds(): Promise<void> {
  for (const [build, script] of Object.entries(builds)) {
    for (const cache of [true, false]) {
      await servers.get(`${build}:${cache}`)?.stop();
      // gRPC listening, as in production (builds before it ignore GRPC_PORT), on a port of its own.
      const env = { MODEL_DIR: modelDir, CACHE_ENABLED: String(cache), GRPC_PORT: String(await freePort()) };
      servers.set(`${build}:${cache}`, await ChildServer.start(script, env, '/ready'));
    }
  }
}
await startBuilds();
// The ceiling answers each path with the bytes this build answers it with, from a process of its own.
if (ceiling) {
  for (const [path, { url, body, cache, headers }] of Object.entries(paths)) {
    const answer = await fetch(`${servers.get(`this build:${cache}`)!.url}${url}`, {
      method: 'POST',
      body: typeof body === 'string' ? body : new Uint8Array(body),
      headers: {
        'content-type': Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json',
        ...headers,
      },
    }).then((r) => r.text());
    servers.set(`${BARE}:${path}`, await ChildServer.start('bench/bare-server.ts', { BARE_RESPONSE: answer }));
  }
}
const serverOf = (build: string, path: string) =>
  build === BARE ? servers.get(`${BARE}:${path}`)! : servers.get(`${build}:${paths[path]!.cache}`)!;
const compared = [...Object.keys(builds), ...(ceiling ? [BARE] : [])];

interface Run extends LoadResult {
  path: string;
  build: string;
  cpuMicrosPerRequest?: number;
}
const runs: Run[] = [];
for (let round = 1; round <= rounds; round++) {
  if (restart && round > 1) await startBuilds();
  // Builds take turns first: the first of a pair ran 0.95x of the same build second (8 rounds, iris, 32 conn.)
  const order = round % 2 === 1 ? compared : [...compared].reverse();
  for (const [path, { url, body, headers }] of Object.entries(paths)) {
    for (const connections of connectionSets) {
      for (const build of order) {
        const server = serverOf(build, path);
        const result = await load(`${path}, ${build}`, `${server.url}${url}`, body, connections, seconds, {
          pid: server.pid,
          ...(headers ? { headers } : {}),
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

const others = compared.filter((build) => build !== 'this build');
const ratios = Object.keys(paths).flatMap((path) =>
  connectionSets.flatMap((connections) => {
    const of = (build: string, field: 'requestsPerSec' | 'p99Ms' | 'cpuMicrosPerRequest') =>
      median(
        runs
          .filter((r) => r.path === path && r.connections === connections && r.build === build)
          .map((r) => r[field] ?? Number.NaN),
      );
    return others.map((other) => {
      const ratio = (field: 'requestsPerSec' | 'p99Ms' | 'cpuMicrosPerRequest') =>
        +(of('this build', field) / of(other, field)).toFixed(2);
      const range = runs
        .filter((r) => r.path === path && r.connections === connections && r.build === 'this build')
        .map((r, i) => {
          const theirs = runs.filter((t) => t.path === path && t.connections === connections && t.build === other)[i];
          return theirs ? r.requestsPerSec / theirs.requestsPerSec : Number.NaN;
        });
      return {
        path,
        connections,
        against: other,
        'req/s': ratio('requestsPerSec'),
        rounds: `${Math.min(...range).toFixed(2)}-${Math.max(...range).toFixed(2)}`,
        p99: ratio('p99Ms'),
        'CPU/request': ratio('cpuMicrosPerRequest'),
      };
    });
  }),
);

console.log(table(runs));
console.log('\nthis build / each other, medians over the rounds (req/s above 1 and p99, CPU below 1 are better)');
console.log(
  '| path | connections | against | req/s (rounds) | p99 | CPU per request |\n| --- | --- | --- | --- | --- | --- |',
);
for (const r of ratios)
  console.log(
    `| ${r.path} | ${r.connections} | ${r.against} | ${r['req/s']}x (${r.rounds}) | ${r.p99}x | ${r['CPU/request']}x |`,
  );
console.log(
  `saved ${saveResults('builds.json', { machine: machine(), baselines, ceiling, seconds, rounds, runs, ratios })}`,
);
