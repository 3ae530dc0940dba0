import { readFileSync } from 'node:fs';
import type { ClientTensor } from '../helpers/oip-client.js';
import { between, integer, pick, type Random } from './values.js';

/** The two model repositories the servers serve, relative to the repository root (their cwd). */
export type Repository = 'bundled' | 'fixtures';
export const REPOSITORIES: Record<Repository, string> = { bundled: 'models', fixtures: 'test/fixtures/models' };

export interface Feature {
  name: string;
  min: number;
  max: number;
}

/** What the request list needs to know of a model: how to make its inputs, and what to ask of its outputs. */
export interface DifferentialModel {
  name: string;
  repository: Repository;
  /** The OIP inputs of `rows` rows. */
  inputs(rows: number, random: Random): ClientTensor[];
  /** Models /predict feeds: one row as numbers, flat, and the row's shape; features if model.json names them. */
  rows?: { shape: number[]; row(random: Random): number[]; features?: Feature[] };
  /** False for a model with fixed shapes (no batch dim): its inputs ignore `rows`. */
  batched: boolean;
  /** An output to ask for alone, and one for the classification extension. */
  selected: string;
  classified?: string;
}

const repositoryRoot = new URL('../../', import.meta.url);

function bundled(name: string, shape: number[]): DifferentialModel {
  const config = JSON.parse(readFileSync(new URL(`models/${name}/model.json`, repositoryRoot), 'utf8')) as {
    task: string;
    output: string;
    features?: Feature[];
  };
  const features = config.features?.map(({ name, min, max }) => ({ name, min, max }));
  const size = shape.reduce((a, b) => a * b, 1);
  const row = (random: Random) =>
    Array.from({ length: size }, (_, i) =>
      features ? between(random, features[i]!.min, features[i]!.max) : integer(random, 0, 16),
    );
  return {
    name,
    repository: 'bundled',
    inputs: (rows, random) => [
      {
        name: 'input',
        datatype: 'FP32',
        shape: [rows, ...shape],
        data: Array.from({ length: rows }, () => row(random)).flat(),
      },
    ],
    rows: { shape, row, ...(features ? { features } : {}) },
    batched: true,
    selected: config.output,
    ...(config.task === 'classification' ? { classified: config.output } : {}),
  };
}

const floats = (random: Random, count: number, min = -2, max = 2) =>
  Array.from({ length: count }, () => between(random, min, max, 4));
const ints = (random: Random, count: number, min: number, max: number) =>
  Array.from({ length: count }, () => integer(random, min, max));

function fixture(
  name: string,
  inputs: DifferentialModel['inputs'],
  outputs: Pick<DifferentialModel, 'selected' | 'classified'>,
  batched = true,
): DifferentialModel {
  return { name, repository: 'fixtures', inputs, batched, ...outputs };
}

const INTEGER_TYPES = [
  ['int8', 'INT8', -128, 127],
  ['uint8', 'UINT8', 0, 255],
  ['int16', 'INT16', -32768, 32767],
  ['uint16', 'UINT16', 0, 65535],
  ['int32', 'INT32', -(2 ** 31), 2 ** 31 - 1],
  ['uint32', 'UINT32', 0, 2 ** 32 - 1],
  ['int64', 'INT64', -(2 ** 53) + 1, 2 ** 53 - 1],
  ['uint64', 'UINT64', 0, 2 ** 53 - 1],
] as const;

/** Every bundled model and every fixture model (test/fixtures/build_fixtures.py). */
export const MODELS: DifferentialModel[] = [
  bundled('iris', [4]),
  bundled('breast_cancer', [30]),
  bundled('diabetes', [10]),
  bundled('digits', [1, 8, 8]),
  bundled('digits_large', [1, 32, 32]),
  fixture(
    'mixer',
    (rows, random) => [
      { name: 'x', datatype: 'FP32', shape: [rows, 3], data: floats(random, rows * 3) },
      { name: 'scale', datatype: 'INT64', shape: [], data: [integer(random, 2, 4)] },
    ],
    { selected: 'total', classified: 'y' },
  ),
  fixture(
    'stateful',
    (rows, random) => [
      { name: 'audio', datatype: 'FP32', shape: [rows, 5], data: floats(random, rows * 5, -1, 1) },
      { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
      { name: 'state', datatype: 'FP32', shape: [2, rows, 4], data: floats(random, 2 * rows * 4, -1, 1) },
    ],
    { selected: 'prob' },
  ),
  fixture(
    'vocab',
    (rows, random) => [
      {
        name: 'text',
        datatype: 'BYTES',
        shape: [rows],
        data: Array.from({ length: rows }, () => pick(random, ['the', 'cat', 'sat', 'on', 'mat', 'héllo wörld', ''])),
      },
    ],
    { selected: 'ids' },
  ),
  fixture(
    'masked_half',
    (rows, random) => [
      { name: 'x', datatype: 'FP16', shape: [rows, 4], data: ints(random, rows * 4, -64, 64).map((v) => v / 8) },
      { name: 'mask', datatype: 'BOOL', shape: [rows, 4], data: ints(random, rows * 4, 0, 1).map((v) => v === 1) },
    ],
    { selected: 'count' },
  ),
  fixture(
    'text_classifier',
    (rows, random) => [
      { name: 'input_ids', datatype: 'INT64', shape: [rows, 6], data: ints(random, rows * 6, 0, 49) },
      {
        name: 'attention_mask',
        datatype: 'INT64',
        shape: [rows, 6],
        data: Array.from({ length: rows * 6 }, (_, i) => (i % 6 === 0 ? 1 : integer(random, 0, 1))),
      },
    ],
    { selected: 'probabilities', classified: 'probabilities' },
  ),
  fixture(
    'all_types',
    (rows, random) => [
      ...INTEGER_TYPES.map(([name, datatype, min, max]) => ({
        name: `in_${name}`,
        datatype,
        shape: [rows, 2],
        data: ints(random, rows * 2, min, max),
      })),
      {
        name: 'in_fp64',
        datatype: 'FP64',
        shape: [rows, 2],
        data: Array.from({ length: rows * 2 }, () => between(random, -1e6, 1e6, 17)),
      },
      { name: 'in_fp16', datatype: 'FP16', shape: [rows, 2], data: ints(random, rows * 2, -64, 64).map((v) => v / 8) },
    ],
    { selected: 'out_int64' },
  ),
  fixture(
    'fixed_pair',
    (_rows, random) => [
      { name: 'a', datatype: 'FP32', shape: [2, 2], data: floats(random, 4) },
      { name: 'b', datatype: 'FP32', shape: [2, 2], data: floats(random, 4) },
    ],
    { selected: 'product' },
    false,
  ),
];
