/**
 * How far a small unary call can go in Node, for issue #22's iris target (gRPC unary >= 1.2x /predict
 * JSON): the service against the ceiling of each protocol, side by side in one run, in turns.
 *   - gRPC: the service's ModelInfer; a bare grpc-js server answering the same bytes; a bare
 *     node:http2 server answering the same frames by hand (bench/bare-grpc-server.ts). Load: h2load,
 *     one connection, 32 streams.
 *   - HTTP/1.1: the service's /predict JSON; the bare Fastify route answering the same bytes
 *     (bench/bare-server.ts). Load: autocannon, 32 connections.
 * iris, one row, cache off. Prints req/s and the ratios that say where the gap is: the service over
 * its protocol's ceiling, and the ceilings over each other.
 * `npm run build && npx tsx bench/grpc-ceiling.ts` (h2load: apt-get install -y nghttp2-client)
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { inferRequestBytes } from '../src/client/grpc.js';
import { holdoutRow } from './bundled-model.js';
import { h2loadRun, hasH2load } from './grpc-load.js';
import { load, machine, median, saveResults, table, type LoadResult } from './lib.js';
import { ChildServer, freePort } from './servers.js';

if (!hasH2load()) throw new Error('h2load not found: apt-get install -y nghttp2-client');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = 32;

const row = holdoutRow('iris');
const request = inferRequestBytes('iris', [
  { name: 'input', tensor: { dtype: 'float32', shape: [1, 4], data: Float32Array.from(row) } },
]);
const json = JSON.stringify({ model: 'iris', instances: [row] });

const ports = { service: await freePort(), http2: await freePort(), grpcJs: await freePort() };
const service = await ChildServer.start(
  'dist/server.js',
  { MODEL_DIR: 'models', CACHE_ENABLED: 'false', GRPC_PORT: String(ports.service) },
  '/ready',
);
const grpcAnswer = await new Promise<Buffer>((resolve, reject) => {
  const client = new Client(`127.0.0.1:${ports.service}`, credentials.createInsecure());
  client.makeUnaryRequest(
    '/inference.GRPCInferenceService/ModelInfer',
    (b: Uint8Array) => Buffer.from(b),
    (b: Buffer) => b,
    request,
    new Metadata(),
    {},
    (err, answer) => (client.close(), err ? reject(err) : resolve(answer!)),
  );
});
const restAnswer = await (
  await fetch(`${service.url}/predict`, { method: 'POST', body: json, headers: { 'content-type': 'application/json' } })
).text();
const bare = (kind: string, port: number) =>
  ChildServer.start('bench/bare-grpc-server.ts', {
    BARE_GRPC: kind,
    GRPC_PORT: String(port),
    BARE_GRPC_RESPONSE: grpcAnswer.toString('base64'),
  });
const bareHttp2 = await bare('http2', ports.http2);
const bareGrpcJs = await bare('grpc-js', ports.grpcJs);
const bareRoute = await ChildServer.start('bench/bare-server.ts', { BARE_RESPONSE: restAnswer });

const rounds: Record<string, LoadResult>[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const grpc = (name: string, server: ChildServer, port: number, url?: string) =>
      h2loadRun(name, { url, pid: server.pid }, `127.0.0.1:${port}`, request, CONCURRENCY, SECONDS);
    const http = (name: string, server: ChildServer) =>
      load(name, `${server.url}/predict`, json, CONCURRENCY, SECONDS, { pid: server.pid, warmupSeconds: 1 });
    const runs: Record<string, LoadResult> = {};
    runs.serviceGrpc = await grpc('service, gRPC ModelInfer', service, ports.service, service.url);
    runs.grpcJs = await grpc('bare grpc-js server', bareGrpcJs, ports.grpcJs);
    runs.http2 = await grpc('bare node:http2 server', bareHttp2, ports.http2);
    runs.servicePredict = await http('service, /predict JSON', service);
    runs.route = await http('bare Fastify route', bareRoute);
    rounds.push(runs);
    console.log(`\nround ${round + 1}\n${table(Object.values(runs))}`);
  }
} finally {
  await Promise.all([service, bareHttp2, bareGrpcJs, bareRoute].map((s) => s.stop()));
}

const ratio = (a: string, b: string) => {
  const xs = rounds.map((r) => r[a]!.requestsPerSec / r[b]!.requestsPerSec);
  return `${median(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
};
console.log('\nmedian over rounds (range), req/s:');
console.log(`service gRPC / service /predict JSON: ${ratio('serviceGrpc', 'servicePredict')} (target >= 1.2x)`);
console.log(`service gRPC / bare grpc-js: ${ratio('serviceGrpc', 'grpcJs')}`);
console.log(`service gRPC / bare node:http2: ${ratio('serviceGrpc', 'http2')}`);
console.log(`service /predict / bare Fastify route: ${ratio('servicePredict', 'route')}`);
console.log(`bare grpc-js / bare Fastify route: ${ratio('grpcJs', 'route')}`);
console.log(`bare node:http2 / bare Fastify route: ${ratio('http2', 'route')}`);
console.log('saved', saveResults('grpc-ceiling.json', { machine: machine(), seconds: SECONDS, rounds }));
