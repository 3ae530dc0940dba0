/**
 * npm run soak: drives a mix of models through the service for SOAK_MINUTES (default 10) and
 * samples its resident memory and V8 heap every SOAK_SAMPLE_SECONDS (default 10). After the warm-up
 * (SOAK_WARMUP_MINUTES, default 30% of the run, while caches and windows fill) RSS should stay flat.
 * RSS swings with garbage collection, so growth compares the median of the first half of the
 * post-warm-up samples with the median of the second half, against the 5% target. Bounded in time.
 * Distinct rows keep the cache, drift windows and feedback store turning over, as in production.
 * Bounded in count too: SOAK_MAX_REQUESTS (default 10 M, about 5x what this 2-core VM sends in 10 min).
 */
import { readFileSync } from 'node:fs';
import { machine, saveResults, startLoad } from './lib.js';
import { ChildServer } from './servers.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 10);
const sampleSeconds = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const warmupMinutes = Number(process.env.SOAK_WARMUP_MINUTES ?? minutes * 0.3);
/** The count bound: the run stops at SOAK_MAX_REQUESTS requests sent even if time is left (a fast machine). */
const maxRequests = Number(process.env.SOAK_MAX_REQUESTS ?? 10_000_000);
const models = new URL('../models/', import.meta.url).pathname;
const holdout = (name: string) =>
  (JSON.parse(readFileSync(`${models}${name}/holdout.json`, 'utf8')) as { rows: number[][] }).rows;

const rows = ['iris', 'breast_cancer', 'diabetes', 'digits'].flatMap((model) =>
  holdout(model).map((row) => ({ model, row })),
);
/** A holdout row with a small shift (clamped to the feature range): most requests are new to the cache. */
function nextBody(n: number): string {
  const { model, row } = rows[n % rows.length]!;
  const shift = ((n % 997) - 498) * 1e-5;
  return JSON.stringify({ model, instances: [row.map((v) => v + shift)], validation: 'permissive' });
}
const heavy = holdout('digits_large')
  .slice(0, 50)
  .map((row) => Buffer.from(new Float32Array(row).buffer));

// As the image runs it (Dockerfile): without MALLOC_ARENA_MAX the RSS grew 17% in 10 minutes.
const service = await ChildServer.start(
  'dist/server.js',
  { MODEL_DIR: models, CACHE_MAX_ENTRIES: '2000', MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
  '/ready',
);
const memory = async () => {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]) / 2 ** 20;
  return {
    rssMiB: +value('process_resident_memory_bytes').toFixed(1),
    heapUsedMiB: +value('nodejs_heap_size_used_bytes').toFixed(1),
  };
};

let counter = 0;
const jsonLoad = startLoad({
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
const heavyLoad = startLoad({
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

const samples: { minute: number; rssMiB: number; heapUsedMiB: number }[] = [];
const started = Date.now();
while (Date.now() - started < minutes * 60_000 && counter < maxRequests) {
  await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
  const sample = { minute: +((Date.now() - started) / 60_000).toFixed(2), ...(await memory()) };
  samples.push(sample);
  console.log(`t=${sample.minute.toFixed(2)} min  rss=${sample.rssMiB} MiB  heap used=${sample.heapUsedMiB} MiB`);
}
if (counter >= maxRequests) [jsonLoad, heavyLoad].forEach((load) => load.instance.stop());
const [json, bin] = await Promise.all([jsonLoad.done, heavyLoad.done]);
await service.stop();

const ranMinutes = +((Date.now() - started) / 60_000).toFixed(2);
const afterWarmup = samples.filter((s) => s.minute >= warmupMinutes);
if (afterWarmup.length < 2) {
  console.error(
    `only ${afterWarmup.length} sample(s) after ${warmupMinutes} min of warm-up: too few to judge growth (run longer, or raise SOAK_MAX_REQUESTS)`,
  );
  process.exit(1);
}
const half = Math.floor(afterWarmup.length / 2);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const early = {
  rssMiB: median(afterWarmup.slice(0, half).map((s) => s.rssMiB)),
  heapUsedMiB: median(afterWarmup.slice(0, half).map((s) => s.heapUsedMiB)),
};
const late = {
  rssMiB: median(afterWarmup.slice(half).map((s) => s.rssMiB)),
  heapUsedMiB: median(afterWarmup.slice(half).map((s) => s.heapUsedMiB)),
};
const growth = (late.rssMiB - early.rssMiB) / early.rssMiB;
const heapGrowth = (late.heapUsedMiB - early.heapUsedMiB) / early.heapUsedMiB;
// The heap's floor (its lowest sample, just after a major GC) is the live data: flat means no leak.
const heapFloor = {
  early: Math.min(...afterWarmup.slice(0, half).map((s) => s.heapUsedMiB)),
  late: Math.min(...afterWarmup.slice(half).map((s) => s.heapUsedMiB)),
};
const range = {
  minRssMiB: Math.min(...afterWarmup.map((s) => s.rssMiB)),
  maxRssMiB: Math.max(...afterWarmup.map((s) => s.rssMiB)),
};
const requests = json.requests.total + bin.requests.total;
const errors = json.errors + json.non2xx + bin.errors + bin.non2xx;
console.log(
  `\n${requests} requests (${errors} errors) over ${ranMinutes} min${counter >= maxRequests ? ` (stopped at SOAK_MAX_REQUESTS=${maxRequests})` : ''}`,
);
console.log(
  `after ${warmupMinutes} min of warm-up, median of each half: RSS ${early.rssMiB} -> ${late.rssMiB} MiB (${(growth * 100).toFixed(1)}%, target < 5%), heap used ${early.heapUsedMiB} -> ${late.heapUsedMiB} MiB (${(heapGrowth * 100).toFixed(1)}%), heap floor ${heapFloor.early} -> ${heapFloor.late} MiB; RSS range ${range.minRssMiB}-${range.maxRssMiB} MiB`,
);
console.log(
  'written to',
  saveResults('soak.json', {
    machine: machine(),
    minutes,
    ranMinutes,
    maxRequests,
    warmupMinutes,
    requests,
    errors,
    early,
    late,
    growth,
    heapGrowth,
    heapFloor,
    range,
    samples,
  }),
);
