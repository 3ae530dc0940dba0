/**
 * What a shadow costs the clients, side by side in one run: the service with no shadow, and with a
 * shadow at fraction 1.0 (every request that names no version is mirrored to a copy of the served
 * version, so the shadow's inference costs what the client's does). Two paths, the cache off:
 * tabular /predict JSON (breast_cancer, a row in ~10 µs) and the heavy model over binary
 * (digits_large, ~1 ms a row). At 1 connection nothing waits, so every request is mirrored: the
 * shadow's full price. At 16 connections clients keep the workers busy and shadows are shed first.
 * Each variant is a server process of its own (the built service, its default workers), loaded one
 * at a time in turns for BENCH_ROUNDS rounds, so the machine's drift falls on both alike. Prints
 * req/s, p50 and p99, the server's CPU per request, the ratios of their medians over the rounds to
 * "no shadow", and what became of the mirrored rows (compared, shed, failed), from the server's own
 * ml_shadow_requests_total; writes bench/results/shadow.json. BENCH_BASELINE=<another build's
 * dist/server.js> adds that build with the shadow as a third variant (an earlier design, say).
 *   npm run build && npx tsx bench/shadow.ts
 *   (BENCH_SECONDS=5 BENCH_CONNECTIONS=1,16 BENCH_ROUNDS=3 BENCH_PATHS=tabular,digits to change)
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdoutRow, MODELS as models } from './bundled-model.js';
import { load, machine, median, saveResults, table, type LoadResult } from './lib.js';
import { ChildServer } from './servers.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connectionSets = (process.env.BENCH_CONNECTIONS ?? '1,16').split(',').map(Number);

/** Each model's version 1, and version 2 the same file; with `shadow`, version 2 shadows version 1 at fraction 1. */
function repository(shadow: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'shadow-bench-'));
  for (const name of ['breast_cancer', 'digits_large']) {
    const config = JSON.parse(readFileSync(`${models}${name}/model.json`, 'utf8')) as Record<string, unknown>;
    delete config.card; // its sha256 names version 1 only
    config.traffic = {
      variants: [{ name: 'stable', version: 1, weight: 1 }],
      ...(shadow ? { shadows: [{ name: 'copy', version: 2, fraction: 1 }] } : {}),
    };
    for (const version of ['1', '2']) {
      mkdirSync(join(dir, name, version), { recursive: true });
      copyFileSync(`${models}${name}/1/model.onnx`, join(dir, name, version, 'model.onnx'));
    }
    writeFileSync(join(dir, name, 'model.json'), JSON.stringify(config));
  }
  return dir;
}

const allPaths = {
  'tabular /predict JSON': {
    model: 'breast_cancer',
    url: '/predict',
    body: JSON.stringify({ model: 'breast_cancer', instances: [holdoutRow('breast_cancer')] }),
  },
  'digits_large /predict binary': {
    model: 'digits_large',
    url: '/predict?model=digits_large&dtype=float32&shape=1,1,32,32',
    body: Buffer.from(new Float32Array(holdoutRow('digits_large')).buffer),
  },
};
/** BENCH_PATHS=tabular (a part of a path's name) runs only the paths it names. */
const paths = Object.fromEntries(
  Object.entries(allPaths).filter(([name]) =>
    (process.env.BENCH_PATHS ?? '').split(',').some((part) => name.includes(part)),
  ),
);
const baseline = process.env.BENCH_BASELINE;
/** Each variant: whether it shadows, and the server it runs. */
const variants: Record<string, { shadow: boolean; script: string }> = {
  'no shadow': { shadow: false, script: 'dist/server.js' },
  'shadow at 1.0': { shadow: true, script: 'dist/server.js' },
  ...(baseline ? { 'shadow at 1.0 (baseline build)': { shadow: true, script: baseline } } : {}),
};

const repos = { plain: repository(false), shadowed: repository(true) };
const servers = new Map<string, ChildServer>();
for (const [variant, { shadow, script }] of Object.entries(variants)) {
  servers.set(
    variant,
    await ChildServer.start(
      script,
      { MODEL_DIR: shadow ? repos.shadowed : repos.plain, CACHE_ENABLED: 'false' },
      '/ready',
    ),
  );
}

/** The server's ml_shadow_requests_total for the model, by outcome. */
async function shadowCounts(server: ChildServer, model: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^ml_shadow_requests_total\{model="([^"]+)",shadow="copy",outcome="([a-z]+)"\} (\S+)$/.exec(line);
    if (match && match[1] === model) counts[match[2]!] = Number(match[3]);
  }
  return counts;
}

interface Run extends LoadResult {
  path: string;
  variant: string;
  round: number;
  cpuMicrosPerRequest?: number;
  /** Mirrored rows by outcome during the run and its warm-up. */
  shadows?: Record<string, number>;
}

const runs: Run[] = [];
for (let round = 1; round <= rounds; round++) {
  for (const [path, { model, url, body }] of Object.entries(paths)) {
    for (const connections of connectionSets) {
      for (const variant of Object.keys(variants)) {
        const server = servers.get(variant)!;
        const before = await shadowCounts(server, model);
        const result = await load(`${path}, ${variant}`, `${server.url}${url}`, body, connections, seconds, {
          pid: server.pid,
        });
        await new Promise((resolve) => setTimeout(resolve, 200)); // the last shadows settle
        const after = await shadowCounts(server, model);
        const shadows = variants[variant]!.shadow
          ? Object.fromEntries(Object.entries(after).map(([o, n]) => [o, n - (before[o] ?? 0)]))
          : undefined;
        const cpuMicrosPerRequest = result.serverCores
          ? Math.round((result.serverCores.total * 1e6) / result.requestsPerSec)
          : undefined;
        runs.push({ ...result, path, variant, round, cpuMicrosPerRequest, ...(shadows ? { shadows } : {}) });
      }
    }
  }
}
for (const server of servers.values()) await server.stop();
for (const dir of Object.values(repos)) rmSync(dir, { recursive: true, force: true });

const ratios = Object.keys(paths).flatMap((path) =>
  connectionSets.flatMap((connections) => {
    const of = (variant: string) =>
      runs.filter((r) => r.path === path && r.connections === connections && r.variant === variant);
    const none = of('no shadow');
    const med = (rs: Run[], field: 'requestsPerSec' | 'p50Ms' | 'p99Ms' | 'cpuMicrosPerRequest') =>
      median(rs.map((r) => r[field] ?? Number.NaN));
    return Object.keys(variants)
      .filter((variant) => variants[variant]!.shadow)
      .map((variant) => {
        const shadow = of(variant);
        const totals: Record<string, number> = {};
        for (const r of shadow) for (const [o, n] of Object.entries(r.shadows ?? {})) totals[o] = (totals[o] ?? 0) + n;
        const mirrored = Object.values(totals).reduce((a, b) => a + b, 0);
        return {
          path,
          connections,
          variant,
          requestsPerSec: [med(none, 'requestsPerSec'), med(shadow, 'requestsPerSec')],
          p50Ms: [med(none, 'p50Ms'), med(shadow, 'p50Ms')],
          p99Ms: [med(none, 'p99Ms'), med(shadow, 'p99Ms')],
          cpuMicrosPerRequest: [med(none, 'cpuMicrosPerRequest'), med(shadow, 'cpuMicrosPerRequest')],
          requestsPerSecRatio: +(med(shadow, 'requestsPerSec') / med(none, 'requestsPerSec')).toFixed(3),
          p99Ratio: +(med(shadow, 'p99Ms') / med(none, 'p99Ms')).toFixed(3),
          cpuPerRequestRatio: +(med(shadow, 'cpuMicrosPerRequest') / med(none, 'cpuMicrosPerRequest')).toFixed(3),
          shadowOutcomes: totals,
          shedShare: mirrored > 0 ? +((totals.shed ?? 0) / mirrored).toFixed(3) : Number.NaN,
        };
      });
  }),
);

console.log(`\n${table(runs)}\n`);
console.log('against no shadow (medians over the rounds):');
for (const r of ratios) {
  console.log(
    `  ${r.path} @${r.connections}, ${r.variant}: ${r.requestsPerSec[1]} vs ${r.requestsPerSec[0]} req/s (${r.requestsPerSecRatio}x), ` +
      `p50 ${r.p50Ms[1]} vs ${r.p50Ms[0]} ms, p99 ${r.p99Ms[1]} vs ${r.p99Ms[0]} ms (${r.p99Ratio}x), ` +
      `${r.cpuMicrosPerRequest[1]} vs ${r.cpuMicrosPerRequest[0]} µs CPU per request (${r.cpuPerRequestRatio}x); ` +
      `mirrored rows ${JSON.stringify(r.shadowOutcomes)}, shed ${(r.shedShare * 100).toFixed(1)}%`,
  );
}
console.log(
  'written to',
  saveResults('shadow.json', { machine: machine(), seconds, rounds, connectionSets, baseline, runs, ratios }),
);
