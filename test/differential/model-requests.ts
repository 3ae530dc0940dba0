import type { ClientTensor } from '../helpers/oip-client.js';
import { MODELS, type DifferentialModel } from './models.js';
import {
  JSON_OFFLOAD_BYTES,
  getRequest,
  nest,
  oipInfer,
  predictBinary,
  predictJson,
  rowsToOffload,
  type DifferentialRequest,
} from './request-builders.js';
import { seeded, type Random } from './values.js';

/** For every model: /predict (JSON and binary), OIP inference (JSON and binary), and its metadata. */
export function modelRequests(): DifferentialRequest[] {
  return MODELS.flatMap((model) => [...predictRequests(model), ...oipRequests(model), ...metadataRequests(model)]);
}

const PADDING = 'x'.repeat(JSON_OFFLOAD_BYTES);
const float32Bytes = (data: number[]) => Buffer.from(new Float32Array(data).buffer);

function predictRequests(model: DifferentialModel): DifferentialRequest[] {
  const target = { repository: model.repository, model: model.name };
  const { rows } = model;
  if (!rows) {
    // A model /predict cannot feed: its refusal is an answer too
    const row = model.inputs(1, seeded(model.name))[0]!.data.slice(0, 2);
    return [
      predictJson(`${model.name} /predict refused (not a rows model)`, target, { model: model.name, instances: [row] }),
    ];
  }
  const rowsOf = (random: Random, count: number) => Array.from({ length: count }, () => rows.row(random));
  const features = (values: number[]) => Object.fromEntries(rows.features!.map((f, i) => [f.name, values[i]]));
  const json = (name: string, body: (random: Random) => Record<string, unknown>) =>
    predictJson(`${model.name} /predict ${name}`, target, {
      model: model.name,
      ...body(seeded(`${model.name} ${name}`)),
    });
  const binary = (name: string, count: number) => {
    const data = rowsOf(seeded(`${model.name} binary ${name}`), count).flat();
    const shape = [count, ...rows.shape].join(',');
    return predictBinary(
      `${model.name} /predict binary ${name}`,
      target,
      { model: model.name, dtype: 'float32', shape },
      float32Bytes(data),
    );
  };
  // Named-feature rows where the model has features: fewer rows (and a shorter answer) to cross the threshold
  const largeRows = (random: Random, count: number) =>
    rowsOf(random, count).map((row) => (rows.features ? features(row) : row));
  const large = rowsToOffload((count) => json('instances, large', (r) => ({ instances: largeRows(r, count) })).body);
  return [
    ...(rows.features
      ? [
          json('features', (r) => ({ features: features(rows.row(r)) })),
          json('features, version 1, timeout_ms', (r) => ({
            version: '1',
            timeout_ms: 10_000,
            features: features(rows.row(r)),
          })),
          json('features, permissive: a numeric string and a clamped value', (r) => {
            const values: unknown[] = rows.row(r);
            values[0] = String(values[0]);
            values[1] = rows.features![1]!.max * 2;
            return { validation: 'permissive', features: features(values as number[]) };
          }),
        ]
      : []),
    json('instances, 1 row', (r) => ({ instances: rowsOf(r, 1) })),
    json(`instances, 3 rows (flat, nested${rows.features ? ', named' : ''})`, (r) => {
      const [flat, shaped, named] = rowsOf(r, 3) as [number[], number[], number[]];
      return { instances: [flat, nest(shaped, rows.shape), rows.features ? features(named) : named] };
    }),
    json('instances, large', (r) => ({ instances: largeRows(r, large) })),
    binary('1 row', 1),
    binary('4 rows', 4),
    // Past the models' max_batch_size of 64: run in parts, joined in order
    binary('65 rows', 65),
  ];
}

function oipRequests(model: DifferentialModel): DifferentialRequest[] {
  const target = { repository: model.repository, model: model.name };
  const inputs = (name: string, rows: number): ClientTensor[] => model.inputs(rows, seeded(`${model.name} ${name}`));
  const infer = (name: string, rows: number, options: Parameters<typeof oipInfer>[3] = {}) =>
    oipInfer(`${model.name} oip ${name}`, target, inputs(name, rows), options);
  const { selected, classified } = model;
  const large = model.batched
    ? rowsToOffload((rows) => infer('json large, one output', rows, { outputs: [{ name: selected }] }).body)
    : undefined;
  const largeBinary = model.batched
    ? rowsToOffload((rows) => infer('binary large', rows, { binary: true }).body)
    : undefined;
  return [
    infer('json, 1 row', 1),
    infer('json, 3 rows nested, id, one output', 3, {
      nested: true,
      id: 'differential-3',
      outputs: [{ name: selected }],
    }),
    infer('json, version 1 in the path', 2, { version: '1' }),
    infer('json, gzip', 2, { gzip: true }),
    ...(classified ? [infer('json, classification 2', 2, { outputs: [{ name: classified, classification: 2 }] })] : []),
    infer('binary, 2 rows, JSON outputs', 2, { binary: true }),
    infer('binary, 2 rows, binary_data_output', 2, { binary: true, binaryOutputs: true, id: 'b-2' }),
    infer('binary, one output, as binary', 2, { binary: true, outputs: [{ name: selected, binary: true }] }),
    ...(classified
      ? [infer('binary, classification 1', 2, { binary: true, outputs: [{ name: classified, classification: 1 }] })]
      : []),
    ...(large !== undefined && largeBinary !== undefined
      ? [
          infer('json large, one output', large, { outputs: [{ name: selected }] }),
          infer('binary large', largeBinary, { binary: true, binaryOutputs: true }),
        ]
      : // Fixed shapes: a body made large by a parameter the server ignores
        [
          infer('json large (padded parameters)', 1, { parameters: { padding: PADDING } }),
          infer('binary large (padded parameters)', 1, { binary: true, parameters: { padding: PADDING } }),
        ]),
  ];
}

function metadataRequests(model: DifferentialModel): DifferentialRequest[] {
  const target = { repository: model.repository, model: model.name };
  const path = `/v2/models/${model.name}`;
  return [
    getRequest(`${model.name} oip metadata`, target, path),
    getRequest(`${model.name} oip metadata, version 1`, target, `${path}/versions/1`),
    getRequest(`${model.name} oip ready`, target, `${path}/ready`),
    getRequest(`${model.name} oip ready, version 1`, target, `${path}/versions/1/ready`),
  ];
}
