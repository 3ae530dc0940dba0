/**
 * Memory under the largest requests the server accepts (issue #12, "memory is bounded by
 * configuration, not by traffic"). Starts dist/server.js (run `npm run build` first) with the
 * defaults and with the k8s ConfigMap's settings, each with the in-flight caps the pod's memory
 * limit (k8s/deployment.yaml) derives, sends 32 concurrent maximum-size requests for
 * digits_large (JSON /predict, then binary OIP), samples the server's VmRSS every 50 ms, and
 * prints the pre-load RSS, the peak, the RSS MEMORY_SETTLE_S (60) seconds later and the answers'
 * statuses, against the targets: peak <= 75% of the pod's limit, and back within 20% of the
 * pre-load RSS. MEMORY_ARENA=1 also runs the k8s settings with onnxruntime's arena and memory
 * pattern on and off, for digits_large and the image CNN (test/fixtures/onnx/image_cnn.onnx).
 * MEMORY_DIAG=1 prints where the RSS is before and after (bench/rss-breakdown.ts: glibc's heaps,
 * libraries, other anonymous mappings) and the main thread's V8 heap and external memory.
 *
 *   npm run build && npx tsx bench/memory.ts
 */
import { cpSync, mkdtempSync, mkdirSync, readFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { ChildServer } from './servers.js';
import { oipBinaryRequest } from './oip-body.js';
import { podMemoryLimit, podSettings } from './k8s-settings.js';
import { machine, saveResults } from './lib.js';
import { rssBreakdown } from './rss-breakdown.js';

const SETTLE_S = Number(process.env.MEMORY_SETTLE_S ?? 60);
const CONCURRENCY = 32;
/** Settings to try on every run, as JSON: MEMORY_ENV='{"CACHE_ENABLED":"false"}'. */
const EXTRA_ENV = JSON.parse(process.env.MEMORY_ENV ?? '{}') as Record<string, string>;
const MiB = 1024 ** 2;
const repo = new URL('../', import.meta.url).pathname;

const podLimit = quantity(podMemoryLimit);

function quantity(text: string): number {
  const units: Record<string, number> = { Ki: 1024, Mi: MiB, Gi: 1024 ** 3 };
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(text);
  if (!match) throw new Error(`unreadable memory quantity ${text}`);
  return Number(match[1]) * (units[match[2] ?? ''] ?? 1);
}

/** The bundled models and the image CNN, in one throw-away repository. */
function repository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bench-memory-'));
  cpSync(join(repo, 'models'), dir, {
    recursive: true,
    filter: (src) => !src.endsWith('.py') && !src.endsWith('.cjs') && !src.endsWith('.md'),
  });
  mkdirSync(join(dir, 'image_cnn', '1'), { recursive: true });
  copyFileSync(join(repo, 'test/fixtures/onnx/image_cnn.onnx'), join(dir, 'image_cnn', '1', 'model.onnx'));
  return dir;
}

interface ModelLoad {
  model: string;
  /** Values per row, its shape after the batch dim, and the value range. */
  rowShape: number[];
  value: (i: number, j: number) => number;
  /** The OIP input name. */
  input: string;
  output: string;
}

const DIGITS: ModelLoad = {
  model: 'digits_large',
  rowShape: [1, 32, 32],
  value: (i, j) => ((Math.imul(i + 1, 2654435761) ^ Math.imul(j + 1, 40503)) >>> 0) % 17,
  input: 'input',
  output: 'probabilities',
};
const CNN: ModelLoad = {
  model: 'image_cnn',
  rowShape: [3, 48, 192],
  value: (i, j) => Math.round(Math.sin((i + 1) * 0.37 * (j + 1)) * 1e4) / 1e4,
  input: 'x',
  output: 'probabilities',
};

/** The largest request the limits accept: rows up to the body limit, MAX_REQUEST_ROWS and the queue. */
function maxRows(bytesPerRow: number, env: Record<string, string>): number {
  const config = loadConfig(env, 1, podLimit);
  return Math.min(
    Math.floor((config.BODY_LIMIT_BYTES - 4096) / bytesPerRow),
    config.MAX_REQUEST_ROWS,
    config.BATCH_MAX_QUEUE_ROWS,
  );
}

/** 32 distinct bodies (distinct rows, so the cache holds nothing back), JSON /predict or binary OIP. */
function bodies(load: ModelLoad, kind: 'json' | 'binary', env: Record<string, string>) {
  const size = load.rowShape.reduce((a, b) => a * b, 1);
  const rowText = (i: number) =>
    JSON.stringify(
      nest(
        Array.from({ length: size }, (_, j) => load.value(i, j)),
        load.rowShape,
      ),
    ).length + 1;
  const jsonRowBytes = Math.ceil(Math.max(...[0, 1, 2, 3].map(rowText)) * 1.05); // rows differ in length: a margin
  const rows = maxRows(kind === 'json' ? jsonRowBytes : size * 4, env);
  return {
    rows,
    requests: Array.from({ length: CONCURRENCY }, (_, r) => {
      // As a client holds them: doubles in JSON (float32 values would print 17 digits each), float32 in binary.
      const values = Float64Array.from({ length: rows * size }, (_, k) =>
        load.value(r * rows + Math.floor(k / size), k % size),
      );
      if (kind === 'binary') {
        const bytes = Buffer.from(Float32Array.from(values).buffer);
        const { body, headers } = oipBinaryRequest(
          { name: load.input, datatype: 'FP32', shape: [rows, ...load.rowShape], bytes },
          [load.output],
        );
        return { path: `/v2/models/${load.model}/infer`, body, headers };
      }
      const instances = Array.from({ length: rows }, (_, i) =>
        nest(Array.from(values.subarray(i * size, (i + 1) * size)), load.rowShape),
      );
      return {
        path: '/predict',
        body: Buffer.from(JSON.stringify({ model: load.model, instances })),
        headers: { 'content-type': 'application/json' },
      };
    }),
  };
}

function nest(values: number[], shape: number[]): unknown {
  if (shape.length <= 1) return values;
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) => nest(values.slice(i * inner, (i + 1) * inner), shape.slice(1)));
}

/** VmRSS of a process, in bytes, sampled every 50 ms while sampling. */
class RssSampler {
  peak = 0;
  private timer?: NodeJS.Timeout;
  constructor(private readonly pid: number) {}
  now(): number {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return Number(match![1]) * 1024;
  }
  start(): void {
    this.peak = this.now();
    this.timer = setInterval(() => (this.peak = Math.max(this.peak, this.now())), 50);
  }
  stop(): number {
    clearInterval(this.timer);
    return (this.peak = Math.max(this.peak, this.now()));
  }
}

async function burst(
  url: string,
  requests: { path: string; body: Buffer; headers: Record<string, string> }[],
  rows: number,
) {
  const started = performance.now();
  const answer = async (res: Response) =>
    res.status === 200
      ? (await res.arrayBuffer(), '200')
      : `${res.status} ${((await res.json()) as { code: string }).code}`;
  const statuses = await Promise.all(
    requests.map((r) =>
      fetch(url + r.path, { method: 'POST', body: new Uint8Array(r.body), headers: r.headers }).then(
        answer,
        () => 'failed',
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  const ok = counts['200'] ?? 0;
  return { seconds: round(seconds, 2), statuses: counts, rowsPerSec: Math.round((ok * rows) / seconds) };
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;
const mib = (bytes: number) => Math.round(bytes / MiB);

async function scenario(name: string, env: Record<string, string>, load: ModelLoad, modelDir: string) {
  const limits = loadConfig(env, 1, podLimit); // the in-flight caps the pod's memory limit derives
  const serverEnv = {
    MALLOC_ARENA_MAX: '2',
    MODEL_DIR: modelDir,
    MAX_INFLIGHT_BYTES: String(limits.MAX_INFLIGHT_BYTES),
    MAX_INFLIGHT_ROWS: String(limits.MAX_INFLIGHT_ROWS),
    ...env,
    ...EXTRA_ENV,
  };
  const server = await ChildServer.start(join(repo, 'dist/server.js'), serverEnv, '/ready');
  const rss = new RssSampler(server.pid!);
  try {
    await new Promise((r) => setTimeout(r, 2000)); // past start-up allocations
    const before = rss.now();
    if (process.env.MEMORY_DIAG === '1')
      console.log(
        `<!-- ${name} ${load.model}: where the RSS is before, MiB: ${JSON.stringify(rssBreakdown(server.pid!))} -->`,
      );
    const phases = [];
    for (const kind of ['json', 'binary'] as const) {
      const { rows, requests } = bodies(load, kind, env);
      rss.start();
      const result = await burst(server.url, requests, rows);
      phases.push({
        kind,
        rows,
        bodyMiB: round(requests[0]!.body.length / MiB, 2),
        peakMiB: mib(rss.stop()),
        ...result,
      });
    }
    const settleCurve: number[] = []; // every 10 s, to see whether it is still falling
    for (let t = 0; t < SETTLE_S; t += 10) {
      await new Promise((r) => setTimeout(r, Math.min(10, SETTLE_S - t) * 1000));
      settleCurve.push(mib(rss.now()));
    }
    const after = rss.now();
    if (process.env.MEMORY_DIAG === '1') {
      const metrics = await (await fetch(server.url + '/metrics')).text();
      const heap = metrics.split('\n').filter((l) => /^nodejs_(heap_size_used|external_memory)_bytes /.test(l));
      console.log(
        `<!-- ${name} ${load.model}: where the RSS is after, MiB: ${JSON.stringify(rssBreakdown(server.pid!))}; main thread ${heap.join(', ')} -->`,
      );
    }
    const peak = Math.max(...phases.map((p) => p.peakMiB)) * MiB;
    return {
      name,
      model: load.model,
      beforeMiB: mib(before),
      peakMiB: mib(peak),
      afterMiB: mib(after),
      peakOfLimit: round(peak / podLimit, 2),
      afterOverBefore: round(after / before, 2),
      meetsTargets: peak <= 0.75 * podLimit && after <= 1.2 * before,
      settleCurve,
      phases,
    };
  } finally {
    await server.stop();
  }
}

async function main() {
  const modelDir = repository();
  const k8s = Object.fromEntries(
    Object.entries(podSettings).filter(([key]) => !['HOST', 'PORT', 'MODEL_DIR', 'LOG_LEVEL'].includes(key)),
  );
  const runs: { name: string; env: Record<string, string>; load: ModelLoad }[] = [
    { name: 'defaults', env: {}, load: DIGITS },
    { name: 'k8s ConfigMap', env: k8s, load: DIGITS },
  ];
  if (process.env.MEMORY_ARENA === '1') {
    for (const load of [DIGITS, CNN]) {
      for (const [arena, pattern] of [
        ['true', 'true'],
        ['false', 'true'],
        ['true', 'false'],
        ['false', 'false'],
      ] as const) {
        runs.push({
          name: `k8s, arena ${arena === 'true' ? 'on' : 'off'}, pattern ${pattern === 'true' ? 'on' : 'off'}`,
          env: { ...k8s, ORT_CPU_MEM_ARENA: arena, ORT_MEM_PATTERN: pattern },
          load,
        });
      }
    }
  }
  // A pattern of run names, while developing
  const only = process.env.MEMORY_ONLY ? new RegExp(process.env.MEMORY_ONLY) : undefined;
  const results = [];
  console.log(
    `pod memory limit ${mib(podLimit)} MiB (k8s/deployment.yaml): targets peak <= ${mib(0.75 * podLimit)} MiB, after ${SETTLE_S} s within 20% of the pre-load RSS`,
  );
  console.log(
    '| run | model | before MiB | JSON: rows x 32, MiB/body, peak MiB, statuses, rows/s | binary: rows x 32, MiB/body, peak MiB, statuses, rows/s | peak / limit | after MiB | after / before | targets |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const run of runs.filter((r) => !only || only.test(`${r.name} ${r.load.model}`))) {
    const r = await scenario(run.name, run.env, run.load, modelDir);
    results.push(r);
    const phase = (p: (typeof r.phases)[number]) =>
      `${p.rows}, ${p.bodyMiB}, ${p.peakMiB}, ${JSON.stringify(p.statuses)}, ${p.rowsPerSec}`;
    console.log(`<!-- ${r.name} ${r.model}: RSS every 10 s after the load, MiB: ${r.settleCurve.join(', ')} -->`);
    console.log(
      `| ${r.name} | ${r.model} | ${r.beforeMiB} | ${phase(r.phases[0]!)} | ${phase(r.phases[1]!)} | ${r.peakOfLimit} | ${r.afterMiB} | ${r.afterOverBefore} | ${r.meetsTargets ? 'met' : 'MISSED'} |`,
    );
  }
  console.log(
    `saved ${saveResults('memory.json', { machine: machine(), podLimitMiB: mib(podLimit), settleSeconds: SETTLE_S, results })}`,
  );
}

await main();
