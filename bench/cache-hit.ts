/**
 * Cache-hit throughput against the HTTP ceiling, side by side in one run: the service answering
 * a repeated /predict from its L1 cache, and a bare Fastify route that takes the same body and
 * returns a response of the same size. Prints a table and the ratio; writes bench/results/cache-hit.json.
 *   npm run bench:cache            (BENCH_SECONDS=10 BENCH_CONNECTIONS=10,50 to change)
 */
import Fastify from 'fastify';
import { buildApp } from '../src/app.js';
import { OnnxServeClient } from '../src/client/index.js';
import { loadConfig } from '../src/config.js';
import { load, machine, saveResults, table, type LoadResult } from './lib.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number);
const features = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const body = JSON.stringify({ model: 'iris', features });

const app = await buildApp(
  loadConfig({ ...process.env, LOG_LEVEL: 'warn', MODEL_DIR: new URL('../models/', import.meta.url).pathname }),
);
await app.modelsLoaded;
const serviceUrl = `${await app.listen({ host: '127.0.0.1', port: 0 })}/predict`;
const sampleAnswer = await new OnnxServeClient(serviceUrl.replace(/\/predict$/, '')).predict('iris', features);

// The ceiling: JSON body parsed, a same-size JSON answer serialised, nothing else.
const bare = Fastify({ logger: false });
bare.post('/predict', async (request) => ({
  ...sampleAnswer,
  echo: (request.body as { model: string }).model === 'iris',
}));
const bareUrl = `${await bare.listen({ host: '127.0.0.1', port: 0 })}/predict`;
const bareSize = (
  await (await fetch(bareUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text()
).length;
const serviceSize = JSON.stringify(sampleAnswer).length;

const rows: LoadResult[] = [];
for (const connections of connectionCounts) {
  rows.push(await load('bare fastify (HTTP ceiling)', bareUrl, body, connections, seconds));
  rows.push(await load('service, cache hit', serviceUrl, body, connections, seconds));
}
await app.close();
await bare.close();

const ratios = connectionCounts.map((c) => {
  const [ceiling, service] = rows.filter((r) => r.connections === c);
  return {
    connections: c,
    throughputRatio: +(service!.requestsPerSec / ceiling!.requestsPerSec).toFixed(3),
    p99Ratio: +(service!.p99Ms / Math.max(ceiling!.p99Ms, 1)).toFixed(3),
  };
});
console.log(`\nresponse bytes: service ${serviceSize}, bare ${bareSize}\n`);
console.log(table(rows));
console.log(
  '\ncache hit / HTTP ceiling:',
  ratios.map((r) => `${r.connections} conns: ${r.throughputRatio}x req/s, p99 ${r.p99Ratio}x`).join('; '),
);
console.log('written to', saveResults('cache-hit.json', { machine: machine(), seconds, rows, ratios }));
