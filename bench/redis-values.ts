/**
 * npx tsx bench/redis-values.ts: what signing and verifying a value written to Redis costs, µs per
 * entry (src/core/cache/value-signer.ts, stored-outputs.ts): for a cache entry of iris (3 floats),
 * digits_large (10) and a 1,024-float output, the write (encode + sign) and the read (verify +
 * parse + check against the model), each beside its HMAC alone and JSON.parse alone; then what a
 * planted value of 4 KB and 4 MB costs before it is refused: a length check where a row's size is
 * fixed, else one HMAC over its text (never a parse). And a prediction record, signed, as every
 * prediction writes one before its answer when REDIS_URL is set.
 */
import { createHmac, createSecretKey } from 'node:crypto';
import { expectedOutputs } from '../src/core/cache/expected-outputs.js';
import { decodeStored, encodeStored } from '../src/core/cache/stored-outputs.js';
import { ValueSigner } from '../src/core/cache/value-signer.js';
import { modelConfigSchema } from '../src/core/models/model-config.js';
import { buildModelSpec } from '../src/core/models/model-spec.js';
import { planBatching } from '../src/core/models/batch-plan.js';
import type { NamedTensors } from '../src/core/tensors/tensor.js';
import { machine, microsPerCall, saveResults } from './lib.js';

const calls = Number(process.env.BENCH_CALLS ?? 20_000);
const secret = Buffer.from('a signing key of at least thirty-two characters');
const signer = new ValueSigner(secret);
const key = `pred:iris:1:abcdefghijklmnop:float32[4]=${Buffer.alloc(16).toString('base64')}|`;

/** A model with one float32 output of `width` values a row, and one row of it. */
function entryOf(width: number) {
  const spec = buildModelSpec(
    { name: 'm', version: '1', path: '/m', sha256: 'a'.repeat(64) },
    modelConfigSchema.parse({}),
    {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', width] }],
    },
    'strict',
  );
  const expected = expectedOutputs({ spec, plan: planBatching(spec.inputs, spec.outputs) }, ['y']);
  const outputs: NamedTensors = {
    y: { dtype: 'float32', shape: [1, width], data: Float32Array.from({ length: width }, (_, i) => 1 / (i + 2)) },
  };
  return { expected, outputs, text: encodeStored(signer, key, outputs) };
}

const rows: [string, number][] = [];
for (const [name, width] of [
  ['iris, 3 floats', 3],
  ['digits_large, 10 floats', 10],
  ['1,024 floats', 1024],
] as const) {
  const { expected, outputs, text } = entryOf(width);
  const body = text.slice(text.indexOf('",') + 2);
  const secretKey = createSecretKey(secret);
  const hmac = () => createHmac('sha256', secretKey).update(key).update(body).digest('base64url');
  rows.push([
    `${name} (${text.length} B): write, encode + sign`,
    microsPerCall(() => encodeStored(signer, key, outputs), calls),
  ]);
  rows.push([
    `${name}: read, verify + parse + check`,
    microsPerCall(() => decodeStored(signer, key, text, expected), calls),
  ]);
  rows.push([`${name}: the HMAC alone (once per write, once per read)`, microsPerCall(hmac, calls)]);
  rows.push([`${name}: JSON.parse alone`, microsPerCall(() => JSON.parse(text), calls)]);
}
// What every prediction pays before its answer when Redis is set: its record for feedback, signed.
const record = { model: 'iris', version: '1', task: 'classification', rows: ['setosa'] };
rows.push([
  'a prediction record (1 row): JSON.stringify alone, as before signing',
  microsPerCall(() => JSON.stringify(record), calls),
]);
rows.push([
  'a prediction record (1 row): signed',
  microsPerCall(() => signer.sign('feedback:0190f0c1-7c3a-7000-8000-000000000000', 2, record), calls),
]);

// A row of fixed size bounds an entry's text: longer is refused unread. A symbolic dim leaves one HMAC over it all.
const fixedRow = entryOf(3).expected;
const openRow = { ...fixedRow, maxChars: undefined };
for (const [name, size, n] of [
  ['4 KB', 4 << 10, calls],
  ['4 MB', 4 << 20, 50],
] as const) {
  const planted = `{"v":3,"mac":"${'Q'.repeat(43)}","outputs":{"y":{"dtype":"float32","shape":[1,3],"data":"${'A'.repeat(size)}"}}}`;
  rows.push([
    `a planted ${name} value, refused: rows of a fixed size`,
    microsPerCall(() => decodeStored(signer, key, planted, fixedRow), n),
  ]);
  rows.push([
    `a planted ${name} value, refused: a symbolic dim in the row`,
    microsPerCall(() => decodeStored(signer, key, planted, openRow), n),
  ]);
}

console.log('| per entry | µs |\n| --- | --- |');
for (const [what, us] of rows) console.log(`| ${what} | ${us} |`);
console.log(
  '\nwritten to',
  saveResults('redis-values.json', { machine: machine(), calls, results: Object.fromEntries(rows) }),
);
