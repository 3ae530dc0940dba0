/**
 * The JSON tensor reader alone (issue #23), in one process, in turns: an OIP body's bytes to the
 * input's typed array, by
 * - `JSON.parse + fill`: the bytes as a string, JSON.parse, a plain loop into a Float32Array (the
 *   least any JSON.parse path can do);
 * - `old path`: parseJson without tensor places, then tensorFromJson (what main did before);
 * - `reader`: parseJson with the OIP places (packed-json.ts), then tensorFromJson (now).
 * Bodies: 2 MB of float32 as numpy's tolist() writes them (17 digits), 0.9 MB of 4-decimal values,
 * int64 ids past 2^53, /predict's nested rows. Prints MB/s (median of rounds) and the ratios.
 * `npm run build && npx tsx bench/json-tensors.ts`: the compiled code, as the server runs it (tsx's
 * own transform of src ran the scan ~15% slower).
 */
import type { DType } from '../src/core/tensors/dtypes.js';

/** A module of dist/, typed as its source. */
const compiled = <T>(path: string) => import(new URL(`../dist/${path}`, import.meta.url).href) as Promise<T>;
const { tensorFromJson } =
  await compiled<typeof import('../src/core/tensors/json-data.js')>('core/tensors/json-data.js');
const { parseJson } = await compiled<typeof import('../src/protocols/json-body.js')>('protocols/json-body.js');
const { OIP_TENSORS, PREDICT_ROWS } =
  await compiled<typeof import('../src/protocols/packed-json.js')>('protocols/packed-json.js');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20);

interface Case {
  name: string;
  body: Buffer;
  dtype: DType;
  count: number;
  places: typeof OIP_TENSORS;
  /** The tensor data's JSON value, out of the parsed body. */
  data(json: unknown): unknown;
}

const pixels = 4 * 3 * 48 * 192;
const f32 = (i: number) => Math.fround(Math.sin(i * 0.37) * 2 - 0.5);

function oip(name: string, dtype: DType, datatype: string, text: string[]): Case {
  const body = Buffer.from(
    `{"inputs":[{"name":"x","shape":[${text.length}],"datatype":"${datatype}","data":[${text.join(', ')}]}]}`,
  );
  const data = (json: unknown) => (json as { inputs: { data: unknown }[] }).inputs[0]!.data;
  return { name, body, dtype, count: text.length, places: OIP_TENSORS, data };
}

const cases: Case[] = [
  oip(
    'OIP FP32, numpy tolist() (17 digits)',
    'float32',
    'FP32',
    Array.from({ length: pixels }, (_, i) => String(f32(i))),
  ),
  oip(
    'OIP FP32, 4 decimals',
    'float32',
    'FP32',
    Array.from({ length: pixels }, (_, i) => String(Math.round(f32(i) * 1e4) / 1e4)),
  ),
  oip(
    'OIP INT64 ids < 2^53',
    'int64',
    'INT64',
    Array.from({ length: 100_000 }, (_, i) => String((i * 7919) % 2 ** 40)),
  ),
  {
    name: '/predict 32 nested rows [1,8,8]',
    body: Buffer.from(
      JSON.stringify({
        model: 'digits_large',
        instances: Array.from({ length: 32 }, (_, r) => [
          Array.from({ length: 8 }, (_, y) => Array.from({ length: 8 }, (_, x) => (r + x * y) % 17)),
        ]),
      }),
    ),
    dtype: 'float32',
    count: 32 * 64,
    places: PREDICT_ROWS,
    data: (json) => (json as { instances: unknown[] }).instances,
  },
];

function plainFill(c: Case): number {
  const json = JSON.parse(c.body.toString('utf8')) as unknown;
  const data = c.data(json) as number[] | number[][][][];
  const flat = (c.places === PREDICT_ROWS ? (data as unknown[]).flat(3) : data) as number[];
  const out = c.dtype === 'int64' ? new BigInt64Array(flat.length) : new Float32Array(flat.length);
  if (out instanceof BigInt64Array) for (let i = 0; i < flat.length; i++) out[i] = BigInt(flat[i]!);
  else for (let i = 0; i < flat.length; i++) out[i] = flat[i]!;
  return out.length;
}

function tensorOf(c: Case, json: unknown): number {
  const data = c.data(json);
  if (c.places === PREDICT_ROWS) {
    // rows one by one, as the rows codec fills them
    let n = 0;
    for (const row of data as unknown[]) n += tensorFromJson(row, c.dtype, [1, 8, 8], 'row').data.length;
    return n;
  }
  return tensorFromJson(data, c.dtype, [c.count], 'inputs.x').data.length;
}

const oldPath = (c: Case) => tensorOf(c, parseJson(c.body, 64));
const reader = (c: Case) => tensorOf(c, parseJson(c.body, 64, 'the body', c.places));

function mbPerSecond(c: Case, run: (c: Case) => number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) if (run(c) !== c.count) throw new Error(`${c.name}: wrong count`);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (c.body.length * ITERATIONS) / 1e6 / seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`JSON tensors: ${ROUNDS} rounds of ${ITERATIONS} bodies each, in turns; MB/s median (range)`);
console.log('| body | size | JSON.parse + fill | old path | reader | reader / JSON.parse + fill | reader / old |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const c of cases) {
  const runs = { plain: [] as number[], old: [] as number[], reader: [] as number[] };
  for (let i = 0; i < 3; i++) [plainFill, oldPath, reader].forEach((f) => f(c)); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    runs.plain.push(mbPerSecond(c, plainFill));
    runs.old.push(mbPerSecond(c, oldPath));
    runs.reader.push(mbPerSecond(c, reader));
  }
  const show = (xs: number[]) =>
    `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
  const ratio = (a: number[], b: number[]) => `${(median(a) / median(b)).toFixed(2)}x`;
  console.log(
    `| ${c.name} | ${(c.body.length / 1e6).toFixed(2)} MB | ${show(runs.plain)} | ${show(runs.old)} | ${show(runs.reader)} | ${ratio(runs.reader, runs.plain)} | ${ratio(runs.reader, runs.old)} |`,
  );
}
