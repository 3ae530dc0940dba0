import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import autocannon from 'autocannon';
import { coresBetween, sampleCpu } from './cpu.js';

/** What bench/health-sampler.mjs prints: GET /health latencies from a process of its own, in ms. */
export interface HealthSamples {
  samples: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadResult {
  name: string;
  connections: number;
  requestsPerSec: number;
  /** Latency percentiles over every response of the measured run, in ms to 0.01. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  rowsPerSec: number;
  /** Cores the server used during the measured run: its main thread, and the whole process. */
  serverCores?: { main: number; total: number };
  /** Cores this process (autocannon, the load generator) used during the measured run. */
  loadGeneratorCores: number;
  /** What the figure is limited by, read off the CPU figures (see limitOf). */
  limitedBy: string;
}

export interface LoadOptions {
  /** The server's process id, to read its CPU time from /proc. */
  pid?: number;
  /** An unmeasured run first, at the same concurrency, so the JIT and the caches are warm. */
  warmupSeconds?: number;
  rowsPerRequest?: number;
  /** Request headers instead of the content type the body implies (an OIP client sends none). */
  headers?: Record<string, string>;
}

const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);

/** autocannon with its instance at hand (for its events, or to stop it early) and its result as a promise. */
export function startLoad(options: autocannon.Options): {
  instance: autocannon.Instance;
  done: Promise<autocannon.Result>;
} {
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
  return { instance, done };
}

/** A request body: JSON text, raw bytes, or several of one kind sent in turn (distinct inputs). */
export type Body = string | Buffer | (string | Buffer)[];

/** One autocannon run, with every response's latency (autocannon's own percentiles are whole ms). */
async function autocannonRun(
  url: string,
  body: Body | undefined,
  connections: number,
  seconds: number,
  headers?: Record<string, string>,
) {
  const latencies: number[] = [];
  const first = Array.isArray(body) ? body[0] : body;
  const { instance, done } = startLoad({
    url,
    method: body === undefined ? 'GET' : 'POST',
    headers:
      headers ??
      (first === undefined
        ? {}
        : { 'content-type': typeof first === 'string' ? 'application/json' : 'application/octet-stream' }),
    ...(Array.isArray(body) ? { requests: body.map((b) => ({ body: b })) } : { body }),
    connections,
    duration: seconds,
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
  return { result: await done, latencies };
}

/** The p-th percentile (0-100) of the latencies, in ms to 0.01. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return +sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!.toFixed(2);
}

/**
 * One autocannon run (as a library), after a warm-up. A string body is sent as JSON, a Buffer as
 * raw bytes, a list of them in turn; no body: GET. With the server's pid, the CPU it and the load generator used.
 */
export async function load(
  name: string,
  url: string,
  body: Body | undefined,
  connections: number,
  seconds: number,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const warmup = options.warmupSeconds ?? WARMUP_SECONDS;
  if (warmup > 0) await autocannonRun(url, body, connections, warmup, options.headers);
  const serverBefore = sampleCpu(options.pid);
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  const { result, latencies } = await autocannonRun(url, body, connections, seconds, options.headers);
  latencies.sort((a, b) => a - b);
  const wallMs = performance.now() - started;
  const own = process.cpuUsage(ownBefore);
  const serverCores = coresBetween(serverBefore, sampleCpu(options.pid), wallMs);
  const loadGeneratorCores = +((own.user + own.system) / 1000 / wallMs).toFixed(2);
  return {
    name,
    connections,
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    errors: result.errors,
    non2xx: result.non2xx,
    rowsPerSec: Math.round(result.requests.average * (options.rowsPerRequest ?? 1)),
    serverCores,
    loadGeneratorCores,
    limitedBy: limitOf(serverCores, loadGeneratorCores, connections),
  };
}

/**
 * The likeliest limit of a run on this machine: the server's event loop at a full core, every
 * core busy (server and load generator together), the load generator at a full core, or else
 * the round trips of too few connections (latency-bound).
 */
export function limitOf(
  server: { main: number; total: number } | undefined,
  loadGenerator: number,
  connections: number,
): string {
  if (!server) return 'not measured (no server process id, or no /proc)';
  const cores = availableParallelism();
  if (server.main >= 0.9) return 'server event loop (1 core)';
  if (server.total + loadGenerator >= 0.9 * cores) return `all ${cores} cores busy`;
  if (loadGenerator >= 0.9) return 'load generator (1 core)';
  return connections <= 1 ? 'round trips (1 connection)' : 'round trips';
}

/** µs per call of fn, after as many unmeasured calls to warm the JIT. */
export function microsPerCall(fn: () => unknown, calls: number): number {
  for (let i = 0; i < calls; i++) fn();
  const started = performance.now();
  for (let i = 0; i < calls; i++) fn();
  return +(((performance.now() - started) * 1000) / calls).toFixed(2);
}

/** The median of some figures (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function machine() {
  return { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, date: new Date().toISOString() };
}

export function saveResults(file: string, data: unknown): string {
  const dir = new URL('./results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const path = `${dir}${file}`;
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

export function table(rows: LoadResult[]): string {
  const head =
    '| run | connections | req/s | rows/s | p50 ms | p95 ms | p99 ms | errors | server cores (main / all) | load generator cores | limited by |\n' +
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |';
  const cores = (r: LoadResult) => (r.serverCores ? `${r.serverCores.main} / ${r.serverCores.total}` : '');
  return [
    head,
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.connections} | ${r.requestsPerSec} | ${r.rowsPerSec} | ${r.p50Ms} | ${r.p95Ms} | ${r.p99Ms} | ${r.errors + r.non2xx} | ${cores(r)} | ${r.loadGeneratorCores} | ${r.limitedBy} |`,
    ),
  ].join('\n');
}

/**
 * A probe sampler (bench/health-sampler.mjs, bench/grpc-health-sampler.mjs) run against `target` for
 * `seconds`, one sample every 20 ms, from a process of its own: the load generator's busy event loop
 * would delay the samples.
 */
export function runSampler(script: string, target: string, seconds: number): Promise<HealthSamples> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [new URL(`./${script}`, import.meta.url).pathname, target, String(seconds), '20'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', () =>
      out ? resolve(JSON.parse(out) as HealthSamples) : reject(new Error(`${script} printed nothing`)),
    );
  });
}

/** 500 distinct one-row iris /predict bodies inside model.json's feature ranges: cache misses. */
export function irisDistinctBodies(): string[] {
  return Array.from({ length: 500 }, (_, i) =>
    JSON.stringify({
      model: 'iris',
      instances: [[4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 24) / 10]],
    }),
  );
}
