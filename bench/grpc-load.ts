import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { coresBetween, sampleCpu } from './cpu.js';
import { limitOf, percentile, type LoadResult } from './lib.js';

/**
 * A closed-loop gRPC load, as autocannon is for HTTP/1.1 (bench/lib.ts): `concurrency` calls in
 * flight on one channel (one HTTP/2 connection, as a gRPC client keeps), each sending the next of
 * `bodies` (ModelInferRequest bytes, encoded beforehand as autocannon's bodies are) as soon as the
 * last is answered. Answers are not decoded; a status other than OK counts as an error.
 */
export async function grpcLoad(
  name: string,
  address: string,
  bodies: Uint8Array[],
  concurrency: number,
  seconds: number,
  options: { pid?: number; rowsPerRequest?: number; warmupSeconds?: number; stream?: boolean } = {},
): Promise<LoadResult> {
  const client = new Client(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
  try {
    const run = options.stream ? streamRun : unaryRun;
    if ((options.warmupSeconds ?? 1) > 0) await run(client, bodies, concurrency, options.warmupSeconds ?? 1);
    const serverBefore = sampleCpu(options.pid);
    const ownBefore = process.cpuUsage();
    const started = performance.now();
    const { calls, errors, latencies } = await run(client, bodies, concurrency, seconds);
    const wallMs = performance.now() - started;
    const own = process.cpuUsage(ownBefore);
    const serverCores = coresBetween(serverBefore, sampleCpu(options.pid), wallMs);
    const loadGeneratorCores = +((own.user + own.system) / 1000 / wallMs).toFixed(2);
    latencies.sort((a, b) => a - b);
    const perSec = calls / (wallMs / 1000);
    return {
      name,
      connections: concurrency,
      requestsPerSec: Math.round(perSec),
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      errors,
      non2xx: 0,
      rowsPerSec: Math.round(perSec * (options.rowsPerRequest ?? 1)),
      serverCores,
      loadGeneratorCores,
      limitedBy: limitOf(serverCores, loadGeneratorCores, Math.min(concurrency, availableParallelism())),
    };
  } finally {
    client.close();
  }
}

interface Run {
  calls: number;
  errors: number;
  /** Per call, in ms; empty for a stream (its answers are not matched to their requests here). */
  latencies: number[];
}

const INFER = '/inference.GRPCInferenceService/ModelInfer';
const STREAM = '/inference.GRPCInferenceService/ModelStreamInfer';
const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const passThrough = (b: Buffer) => b;

async function unaryRun(client: Client, bodies: Uint8Array[], concurrency: number, seconds: number): Promise<Run> {
  const end = performance.now() + seconds * 1000;
  const run: Run = { calls: 0, errors: 0, latencies: [] };
  let next = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const body = bodies[next++ % bodies.length]!;
      const started = performance.now();
      const error = await new Promise<ServiceError | null>((resolve) =>
        client.makeUnaryRequest(INFER, asBuffer, passThrough, body, new Metadata(), {}, (err) => resolve(err)),
      );
      if (error && error.code !== status.OK) run.errors++;
      else {
        run.calls++;
        run.latencies.push(performance.now() - started);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return run;
}

/**
 * One ModelStreamInfer call with `concurrency` requests in flight: each answer lets the next request
 * go. An answer whose first field is error_message (tag 0x0a) counts as an error; infer_response is 0x12.
 */
async function streamRun(client: Client, bodies: Uint8Array[], concurrency: number, seconds: number): Promise<Run> {
  const call = client.makeBidiStreamRequest(STREAM, asBuffer, passThrough, new Metadata(), {});
  const run: Run = { calls: 0, errors: 0, latencies: [] };
  const end = performance.now() + seconds * 1000;
  let next = 0;
  let inFlight = 0;
  const send = () => {
    inFlight++;
    call.write(bodies[next++ % bodies.length]!);
  };
  await new Promise<void>((resolve, reject) => {
    call.on('data', (answer: Buffer) => {
      inFlight--;
      if (answer[0] === 0x12) run.calls++;
      else run.errors++;
      if (performance.now() < end) send();
      else if (inFlight === 0) call.end();
    });
    call.on('error', reject);
    call.on('end', resolve);
    for (let i = 0; i < concurrency; i++) send();
  });
  return run;
}

/** Whether h2load is on the PATH (Debian: apt-get install -y nghttp2-client). */
export function hasH2load(): boolean {
  return !spawnSync('h2load', ['--version']).error;
}

/**
 * The same unary load from h2load (Debian's nghttp2-client: C, one thread), `concurrency` streams on
 * one HTTP/2 connection, one request body: the server's figure without grpc-js's client cost in this
 * process. h2load sees HTTP statuses only, so every call's gRPC status is read off the server's own
 * grpc_server_handled_total: calls not counted OK are errors. Latency: h2load's mean, as p50.
 */
export async function h2loadRun(
  name: string,
  service: { url?: string; pid?: number },
  address: string,
  body: Uint8Array,
  concurrency: number,
  seconds: number,
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-grpc-'));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1); // uncompressed, then the length: gRPC's message framing
  frame.set(body, 5);
  writeFileSync(join(dir, 'request'), frame);
  const okBefore = service.url ? await handledOk(service.url) : 0;
  const serverBefore = sampleCpu(service.pid);
  const started = performance.now();
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('h2load', [
      ...['-c', '1', '-m', String(concurrency), '-D', String(seconds), '--warm-up-time=1'],
      ...['-d', join(dir, 'request'), '-H', 'content-type: application/grpc', '-H', 'te: trailers'],
      `http://${address}${INFER}`,
    ]);
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(text));
  });
  const wallMs = performance.now() - started;
  const serverCores = coresBetween(serverBefore, sampleCpu(service.pid), wallMs);
  rmSync(dir, { recursive: true, force: true });
  const perSec = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1]);
  const done = Number(/requests: \d+ total, \d+ started, (\d+) done/.exec(out)?.[1]);
  const mean = /time for request:\s+\S+\s+\S+\s+([\d.]+)(ms|us|s)/.exec(out);
  const meanMs = mean ? Number(mean[1]) * ({ us: 0.001, ms: 1, s: 1000 }[mean[2]!] ?? 1) : NaN;
  // The warm-up's calls are counted by the server but not in h2load's "done". A bare server (no
  // url) has no metrics: h2load's own failures, then.
  const errors = service.url
    ? Math.max(0, done - Math.min((await handledOk(service.url)) - okBefore, done))
    : Number(/(\d+) failed/.exec(out)?.[1] ?? NaN);
  return {
    name,
    connections: concurrency,
    requestsPerSec: Math.round(perSec),
    p50Ms: +meanMs.toFixed(2),
    p95Ms: NaN,
    p99Ms: NaN,
    errors,
    non2xx: 0,
    rowsPerSec: Math.round(perSec),
    serverCores,
    loadGeneratorCores: NaN,
    limitedBy: limitOf(serverCores, 0, concurrency),
  };
}

async function handledOk(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('grpc_server_handled_total{') &&
        l.includes('grpc_method="ModelInfer"') &&
        l.includes('grpc_code="OK"'),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}
