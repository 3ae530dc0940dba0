/**
 * npm run soak: drives a mix of models through the service for SOAK_MINUTES (default 10) and
 * samples its resident memory every SOAK_SAMPLE_SECONDS (default 10). After the warm-up
 * (SOAK_WARMUP_MINUTES, default 1) RSS should stay flat: the report gives the growth from the first
 * post-warm-up sample to the last, against the 5% target. Bounded in time; loopback only.
 * Distinct rows keep the cache, drift windows and feedback store turning over, as in production.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { machine, saveResults } from './lib.js';
import { ChildServer } from './servers.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 10);
const sampleSeconds = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const warmupMinutes = Number(process.env.SOAK_WARMUP_MINUTES ?? Math.min(1, minutes / 5));
const models = new URL('../models/', import.meta.url).pathname;
const holdout = (name: string) => (JSON.parse(readFileSync(`${models}${name}/holdout.json`, 'utf8')) as { rows: number[][] }).rows;

const rows = ['iris', 'breast_cancer', 'diabetes', 'digits'].flatMap((model) => holdout(model).map((row) => ({ model, row })));
/** A holdout row with a small shift (clamped to the feature range): most requests are new to the cache. */
function nextBody(n: number): string {
  const { model, row } = rows[n % rows.length]!;
  const shift = ((n % 997) - 498) * 1e-5;
  return JSON.stringify({ model, instances: [row.map((v) => v + shift)], validation: 'permissive' });
}
const heavy = holdout('digits_large').slice(0, 50).map((row) => Buffer.from(new Float32Array(row).buffer));

const service = await ChildServer.start('src/server.ts', { MODEL_DIR: models, CACHE_MAX_ENTRIES: '2000' }, '/ready');
const rss = async () => {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1]);
};

let counter = 0;
const jsonLoad = autocannon({
  url: `${service.url}/predict`,
  connections: 8,
  duration: minutes * 60,
  requests: [
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => ({ ...request, body: nextBody(counter++) }),
    },
  ],
});
const heavyLoad = autocannon({
  url: `${service.url}/predict?model=digits_large&dtype=float32&shape=1,1,32,32`,
  connections: 2,
  duration: minutes * 60,
  requests: [
    {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      setupRequest: (request) => ({ ...request, body: heavy[counter++ % heavy.length]! }),
    },
  ],
});

const samples: { minute: number; rssMiB: number }[] = [];
const started = Date.now();
while (Date.now() - started < minutes * 60_000) {
  await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
  const sample = { minute: +((Date.now() - started) / 60_000).toFixed(2), rssMiB: +((await rss()) / 2 ** 20).toFixed(1) };
  samples.push(sample);
  console.log(`t=${sample.minute.toFixed(2)} min  rss=${sample.rssMiB} MiB`);
}
const [json, bin] = await Promise.all([jsonLoad, heavyLoad]);
await service.stop();

const afterWarmup = samples.filter((s) => s.minute >= warmupMinutes);
const first = afterWarmup[0]!;
const last = afterWarmup.at(-1)!;
const growth = (last.rssMiB - first.rssMiB) / first.rssMiB;
const requests = json.requests.total + bin.requests.total;
const errors = json.errors + json.non2xx + bin.errors + bin.non2xx;
console.log(`\n${requests} requests (${errors} errors) over ${minutes} min`);
console.log(`RSS after warm-up: ${first.rssMiB} MiB at ${first.minute} min -> ${last.rssMiB} MiB at ${last.minute} min: ${(growth * 100).toFixed(2)}% (target < 5%)`);
console.log('written to', saveResults('soak.json', { machine: machine(), minutes, warmupMinutes, requests, errors, samples, growth }));
