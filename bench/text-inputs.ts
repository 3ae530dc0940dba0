/**
 * Issue #21's texts: what tokenising on the server costs. The bundled topics classifier (max_length 128),
 * fed in turns, 16 connections (BENCH_CONNECTIONS), BENCH_ROUNDS rounds of BENCH_SECONDS, /health sampled
 * every 20 ms from a process of its own through each run, the cache off:
 *   - /predict JSON `{"texts": [...]}`, BENCH_TEXTS distinct holdout texts a request (default 1);
 *   - the same texts tokenised beforehand by the server's own tokenizer, sent over OIP as binary int64
 *     input_ids and attention_mask: what a client that tokenises itself sends;
 *   - the same token tensors as OIP JSON, what such a client usually sends.
 * Prints rows/s, /health p50/p99, the ratios text / binary tokens and text / JSON tokens, and body sizes.
 * `npm run build && npx tsx bench/text-inputs.ts`
 */
import { readFileSync } from 'node:fs';
import { HfTokenizers } from '../src/adapters/hf-tokenizers.js';
import { textPreprocessSchema } from '../src/core/models/preprocess-config.js';
import { planText } from '../src/core/preprocess/text-plan.js';
import { MODELS } from './bundled-model.js';
import { sampleHealth } from './json-images.js';
import { load, machine, median, saveResults } from './lib.js';
import { ChildServer } from './servers.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PER_REQUEST = Number(process.env.BENCH_TEXTS ?? 1);
const LENGTH = 128;

const { texts } = JSON.parse(readFileSync(`${MODELS}topics/holdout.json`, 'utf8')) as { texts: string[] };
const plan = planText(
  'text',
  [
    { name: 'input_ids', dtype: 'int64', shape: ['batch', 'sequence'] },
    { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'sequence'] },
  ],
  textPreprocessSchema.parse({ max_length: LENGTH }),
);
const tokenizer = await new HfTokenizers().load(`${MODELS}topics/1/tokenizer.json`, plan);
const groups = Array.from({ length: Math.floor(texts.length / PER_REQUEST) }, (_, i) =>
  texts.slice(i * PER_REQUEST, (i + 1) * PER_REQUEST),
);

const textBodies = groups.map((group) => Buffer.from(JSON.stringify({ model: 'topics', texts: group })));
const binaryBodies: Buffer[] = [];
const jsonTokenBodies: Buffer[] = [];
for (const group of groups) {
  const encoded = await tokenizer.encode(group);
  const ids = BigInt64Array.from(encoded.flatMap((e) => e.ids.map(BigInt)));
  const mask = BigInt64Array.from(encoded.flatMap((e) => e.mask.map(BigInt)));
  const shape = [group.length, LENGTH];
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'input_ids', datatype: 'INT64', shape, parameters: { binary_data_size: ids.byteLength } },
        { name: 'attention_mask', datatype: 'INT64', shape, parameters: { binary_data_size: mask.byteLength } },
      ],
    }),
  );
  binaryBodies.push(Buffer.concat([header, Buffer.from(ids.buffer), Buffer.from(mask.buffer)]));
  jsonTokenBodies.push(
    Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'input_ids', datatype: 'INT64', shape, data: encoded.flatMap((e) => e.ids) },
          { name: 'attention_mask', datatype: 'INT64', shape, data: encoded.flatMap((e) => e.mask) },
        ],
      }),
    ),
  );
}
const mean = (bodies: Buffer[]) => Math.round(bodies.reduce((a, b) => a + b.length, 0) / bodies.length);
console.log(
  `${groups.length} distinct requests of ${PER_REQUEST} text(s); mean body: text JSON ${mean(textBodies)} B, ` +
    `OIP binary tokens ${mean(binaryBodies)} B, OIP JSON tokens ${mean(jsonTokenBodies)} B`,
);

const service = await ChildServer.start(
  'dist/server.js',
  { MODEL_DIR: MODELS, CACHE_ENABLED: 'false', LOG_LEVEL: 'warn' },
  '/ready',
);
try {
  const rounds: Record<string, number | undefined>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const run = async (name: string, url: string, bodies: Buffer[], headers: Record<string, string>) => {
      const health = sampleHealth(service.url, SECONDS + 1);
      const result = await load(name, url, bodies, CONNECTIONS, SECONDS, {
        pid: service.pid,
        warmupSeconds: 1,
        headers,
      });
      if (result.errors + result.non2xx > 0)
        throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx`);
      return { rows: result.rowsPerSec * PER_REQUEST, health: await health, p99: result.p99Ms };
    };
    const json = { 'content-type': 'application/json' };
    const text = await run('texts', `${service.url}/predict`, textBodies, json);
    const headerLength = binaryBodies[0]!.indexOf('}]}') + 3;
    const binary = await run('binary tokens', `${service.url}/v2/models/topics/infer`, binaryBodies, {
      'inference-header-content-length': String(headerLength),
    });
    const tokens = await run('JSON tokens', `${service.url}/v2/models/topics/infer`, jsonTokenBodies, json);
    rounds.push({
      text: text.rows,
      binary: binary.rows,
      json: tokens.rows,
      textHealthP99: text.health.p99Ms,
      binaryHealthP99: binary.health.p99Ms,
      jsonHealthP99: tokens.health.p99Ms,
    });
    const line = (name: string, r: typeof text) =>
      `${name} ${Math.round(r.rows)} rows/s (p99 ${r.p99} ms, /health p50 ${r.health.p50Ms} p99 ${r.health.p99Ms} ms)`;
    console.log(
      `round ${round + 1}: ${line('texts', text)}, ${line('binary tokens', binary)}, ${line('JSON tokens', tokens)}: ` +
        `${(text.rows / binary.rows).toFixed(2)}x binary, ${(text.rows / tokens.rows).toFixed(2)}x JSON`,
    );
  }
  const ratio = (key: 'binary' | 'json') => {
    const all = rounds.map((r) => r.text! / r[key]!);
    return `${median(all).toFixed(2)}x (range ${Math.min(...all).toFixed(2)}-${Math.max(...all).toFixed(2)})`;
  };
  console.log(
    `${CONNECTIONS} connections, median rows/s of texts: ${ratio('binary')} of binary token tensors, ${ratio('json')} of JSON token tensors`,
  );
  console.log(
    'saved',
    saveResults('text-inputs.json', { machine: machine(), connections: CONNECTIONS, perRequest: PER_REQUEST, rounds }),
  );
} finally {
  await service.stop();
}
