import { buildRequest, type ClientTensor } from '../helpers/oip-client.js';
import { MODELS } from './models.js';
import {
  JSON_OFFLOAD_BYTES,
  getRequest,
  oipInfer,
  oipRaw,
  predictBinary,
  predictJson,
  type DifferentialRequest,
  type Target,
} from './request-builders.js';
import { seeded } from './values.js';

/** Refusals (error bodies are answers too) and edge cases, on both protocols. */
export function errorRequests(): DifferentialRequest[] {
  return [...predictErrors(), ...oipErrors()];
}

const iris: Target = { repository: 'bundled', model: 'iris' };
const noModel: Target = { repository: 'bundled' };
const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const setosaRow = Object.values(setosa);
const model = (name: string) => MODELS.find((m) => m.name === name)!;
/** iris rows, flat, within model.json's feature ranges; LARGE of them cross JSON_OFFLOAD_BYTES. */
const irisRows = (count: number) => model('iris').inputs(count, seeded('iris error rows'))[0]!.data as number[];
const rowsOf = (flat: number[], width: number) =>
  Array.from({ length: flat.length / width }, (_, i) => flat.slice(i * width, (i + 1) * width));
const LARGE = Math.ceil(JSON_OFFLOAD_BYTES / 20);
const float32 = (data: number[]) => Buffer.from(new Float32Array(data).buffer);

function predictErrors(): DifferentialRequest[] {
  const p = (name: string, body: unknown, target = iris, headers?: Record<string, string>) =>
    predictJson(`errors /predict ${name}`, target, body, headers);
  const large = rowsOf(irisRows(LARGE), 4);
  const badRow = large.map((row, i) => (i === 40 ? [99, ...row.slice(1)] : row));
  const tooMany = Array.from({ length: 10_001 }, () => setosaRow);
  const bin = (name: string, query: Record<string, string>, body: Buffer) =>
    predictBinary(`errors /predict binary ${name}`, iris, { model: 'iris', dtype: 'float32', ...query }, body);
  return [
    p('bad JSON', Buffer.from('{"model":"iris","features":')),
    p('empty body', Buffer.alloc(0)),
    p('unknown model', { model: 'no_such_model', features: setosa }, noModel),
    p('unknown version 7', { model: 'iris', version: '7', features: setosa }),
    p('version "01"', { model: 'iris', version: '01', features: setosa }),
    p('version "1.0"', { model: 'iris', version: '1.0', features: setosa }),
    p('a value out of range', { model: 'iris', features: { ...setosa, sepal_length: 99 } }),
    p('a missing feature', { model: 'iris', features: { ...setosa, petal_width: undefined } }),
    p('an unknown feature', { model: 'iris', features: { ...setosa, colour: 1 } }),
    p('a string feature', { model: 'iris', features: { ...setosa, sepal_width: 'wide' } }),
    p(
      'a non-finite feature',
      Buffer.from(
        '{"model":"iris","features":{"sepal_length":1e999,"sepal_width":3,"petal_length":1,"petal_width":1}}',
      ),
    ),
    p('a row of the wrong length', { model: 'iris', instances: [[5.1, 3.5, 1.4]] }),
    p(
      'a row of the wrong shape (digits_large)',
      { model: 'digits_large', instances: [[[1, 2, 3]]] },
      {
        repository: 'bundled',
        model: 'digits_large',
      },
    ),
    p('no instances', { model: 'iris', instances: [] }),
    p('features and instances', { model: 'iris', features: setosa, instances: [setosaRow] }),
    p('neither features nor instances', { model: 'iris' }),
    p('an unknown field', { model: 'iris', features: setosa, colour: 'red' }),
    p('timeout_ms 0', { model: 'iris', features: setosa, timeout_ms: 0 }),
    p('text/plain', { model: 'iris', features: setosa }, iris, { 'content-type': 'text/plain' }),
    p('a __proto__ key', Buffer.from(`{"model":"iris","__proto__":{"x":1},"features":${JSON.stringify(setosa)}}`)),
    p('large, a value out of range in row 40', { model: 'iris', instances: badRow }),
    // Decoded on a decode worker, which refuses the row itself
    p('large, a row of the wrong length', {
      model: 'iris',
      instances: large.map((row, i) => (i === 40 ? row.slice(1) : row)),
    }),
    p('large, bad JSON', Buffer.from(JSON.stringify({ model: 'iris', instances: large }).slice(0, -2))),
    p('large, unknown model', { model: 'no_such_model', instances: large }, noModel),
    p('10,001 rows', { model: 'iris', instances: tooMany }),
    p('10,001 rows, the first one out of range', { model: 'iris', instances: [[99, 1, 1, 1], ...tooMany.slice(1)] }),
    p('10,001 rows, the first one unreadable', {
      model: 'iris',
      instances: [{ not_a_feature: 1 }, ...tooMany.slice(1)],
    }),
    p('5,000 rows, more than the queue holds', { model: 'iris', instances: tooMany.slice(0, 5000) }),
    bin('wrong dtype', { dtype: 'int64', shape: '1,4' }, Buffer.alloc(32)),
    bin('unknown dtype', { dtype: 'float99', shape: '1,4' }, float32(setosaRow)),
    bin('wrong shape', { shape: '1,5' }, float32([...setosaRow, 1])),
    bin('fewer bytes than the shape', { shape: '2,4' }, float32(setosaRow)),
    bin('a bad shape', { shape: '1;4' }, float32(setosaRow)),
    bin('a value out of range', { shape: '1,4' }, float32([9, 3, 1, 1])),
    bin('NaN', { shape: '1,4' }, float32([Number.NaN, 3, 1, 1])),
    bin('version 01 in the query', { shape: '1,4', version: '01' }, float32(setosaRow)),
    bin('10,001 rows', { shape: '10001,4' }, float32(tooMany.flat())),
    bin('10,001 rows declared, one sent', { shape: '10001,4' }, float32(setosaRow)),
    predictBinary(`errors /predict binary no model`, iris, { dtype: 'float32', shape: '1,4' }, float32(setosaRow)),
  ];
}

function oipErrors(): DifferentialRequest[] {
  const at = (name: string) => ({ repository: MODELS.find((m) => m.name === name)!.repository, model: name });
  const path = (name: string, version?: string) => `/v2/models/${name}${version ? `/versions/${version}` : ''}/infer`;
  const raw = (
    name: string,
    modelName: string,
    body: string | Buffer,
    headers?: Record<string, string>,
    version?: string,
  ) => oipRaw(`errors oip ${name}`, at(modelName), path(modelName, version), Buffer.from(body), headers);
  /** A binary request whose tensor bytes are then altered into something no client library would send. */
  const patched = (name: string, modelName: string, inputs: ClientTensor[], patch: (binary: Buffer) => void) => {
    const { body, headerLength } = buildRequest(inputs);
    patch(body.subarray(headerLength));
    return raw(name, modelName, body, { 'inference-header-content-length': String(headerLength) });
  };
  const irisInput = (data: number[], shape = [data.length / 4, 4], datatype = 'FP32') =>
    JSON.stringify({ inputs: [{ name: 'input', datatype, shape, data }] });
  const infer = (
    name: string,
    modelName: string,
    inputs: ClientTensor[],
    options: Parameters<typeof oipInfer>[3] = {},
  ) => oipInfer(`errors oip ${name}`, at(modelName), inputs, options);
  const mixer = (x: ClientTensor['data'], extra: ClientTensor[] = []): ClientTensor[] => [
    { name: 'x', datatype: 'FP32', shape: [1, 3], data: x },
    ...extra,
  ];
  const scale: ClientTensor = { name: 'scale', datatype: 'INT64', shape: [], data: [2] };
  const large = irisRows(LARGE);
  const allTypes = model('all_types').inputs(1, seeded('all_types errors'));
  const withValue = (input: string, data: ClientTensor['data']) =>
    allTypes.map((t) => (t.name === input ? { ...t, data } : t));
  const headerOnly = JSON.stringify({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }],
  });
  const tooMany = Array.from({ length: 10_001 }, () => setosaRow).flat();
  return [
    raw('bad JSON', 'iris', '{"inputs":['),
    raw('empty body', 'iris', ''),
    raw(
      'a __proto__ key',
      'iris',
      `{"__proto__":{"x":1},"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}`,
    ),
    raw('no inputs', 'iris', '{"id":"x"}'),
    oipRaw('errors oip unknown model', noModel, path('no_such_model'), Buffer.from(irisInput(setosaRow))),
    raw('unknown version 7', 'iris', irisInput(setosaRow), {}, '7'),
    raw('version 01', 'iris', irisInput(setosaRow), {}, '01'),
    raw('version 1.0', 'iris', irisInput(setosaRow), {}, '1.0'),
    raw('wrong datatype', 'iris', irisInput(setosaRow, [1, 4], 'FP64')),
    raw('unknown datatype', 'iris', irisInput(setosaRow, [1, 4], 'FP8')),
    raw('fewer values than the shape', 'iris', irisInput(setosaRow.slice(0, 3), [1, 4])),
    raw('wrong rank', 'iris', irisInput(setosaRow, [4])),
    raw('a value out of range', 'iris', irisInput([9, 3.5, 1.4, 0.2])),
    raw(
      'a value out of range, permissive',
      'iris',
      JSON.stringify({
        parameters: { validation: 'permissive' },
        inputs: JSON.parse(irisInput([9, 3.5, 1.4, 0.2])).inputs,
      }),
    ),
    raw(
      'an unknown output',
      'iris',
      JSON.stringify({ ...JSON.parse(irisInput(setosaRow)), outputs: [{ name: 'nope' }] }),
    ),
    raw(
      'an output asked for twice',
      'iris',
      JSON.stringify({
        ...JSON.parse(irisInput(setosaRow)),
        outputs: [{ name: 'probabilities' }, { name: 'probabilities' }],
      }),
    ),
    raw(
      'classification of an unknown output',
      'iris',
      JSON.stringify({
        ...JSON.parse(irisInput(setosaRow)),
        outputs: [{ name: 'nope', parameters: { classification: 2 } }],
      }),
    ),
    raw(
      'data and binary_data_size both',
      'iris',
      JSON.stringify({
        inputs: [{ ...JSON.parse(irisInput(setosaRow)).inputs[0], parameters: { binary_data_size: 16 } }],
      }),
    ),
    raw('binary: header length past the body', 'iris', Buffer.concat([Buffer.from(headerOnly), float32(setosaRow)]), {
      'inference-header-content-length': String(headerOnly.length + 17),
    }),
    raw('binary: bytes left over', 'iris', Buffer.concat([Buffer.from(headerOnly), float32([...setosaRow, 1])]), {
      'inference-header-content-length': String(headerOnly.length),
    }),
    raw('binary: the header is not JSON', 'iris', Buffer.concat([Buffer.from('{"inputs"'), float32(setosaRow)]), {
      'inference-header-content-length': '9',
    }),
    infer('a missing input', 'mixer', mixer([1, 2, 3])),
    infer(
      'an unknown input',
      'mixer',
      mixer([1, 2, 3], [scale, { name: 'z', datatype: 'FP32', shape: [1], data: [1] }]),
    ),
    infer(
      'an input sent twice',
      'mixer',
      mixer([1, 2, 3], [scale, { name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }]),
    ),
    infer('batch dims that disagree', 'stateful', [
      { name: 'audio', datatype: 'FP32', shape: [2, 3], data: [0, 0, 0, 1, 1, 1] },
      { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
      { name: 'state', datatype: 'FP32', shape: [2, 3, 4], data: Array.from({ length: 24 }, () => 0) },
    ]),
    infer('a fixed dim of the wrong size', 'fixed_pair', [
      { name: 'a', datatype: 'FP32', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] },
      { name: 'b', datatype: 'FP32', shape: [2, 2], data: [1, 0, 0, 1] },
    ]),
    infer('a token id past the vocabulary', 'text_classifier', [
      { name: 'input_ids', datatype: 'INT64', shape: [1, 3], data: [1, 60, 2] },
      { name: 'attention_mask', datatype: 'INT64', shape: [1, 3], data: [1, 1, 1] },
    ]),
    infer('INT8 out of range', 'all_types', withValue('in_int8', [200, 1])),
    infer('UINT64 negative', 'all_types', withValue('in_uint64', [-1, 1])),
    infer(
      'binary: 64-bit values past 2^53',
      'all_types',
      [
        ...withValue('in_int64', [2n ** 63n - 1n, -(2n ** 63n)]).filter((t) => t.name !== 'in_uint64'),
        { name: 'in_uint64', datatype: 'UINT64', shape: [1, 2], data: [2n ** 64n - 1n, 2n ** 53n + 1n] },
      ],
      { binary: true },
    ),
    infer(
      'binary: NaN',
      'stateful',
      [
        { name: 'audio', datatype: 'FP32', shape: [1, 2], data: [Number.NaN, 0] },
        { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
        { name: 'state', datatype: 'FP32', shape: [2, 1, 4], data: Array.from({ length: 8 }, () => 0) },
      ],
      { binary: true },
    ),
    patched(
      'binary: a BOOL byte of 2',
      'masked_half',
      [
        { name: 'x', datatype: 'FP16', shape: [1, 4], data: [1, 2, 3, 4] },
        { name: 'mask', datatype: 'BOOL', shape: [1, 4], data: [true, false, true, true] },
      ],
      (binary) => binary.writeUInt8(2, 8 + 2),
    ),
    patched(
      'binary: BYTES that are not UTF-8',
      'vocab',
      [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['cat', 'mat'] }],
      (binary) => binary.writeUInt8(0xff, 4 + 3 + 4),
    ),
    infer('large, a value out of range', 'iris', [
      { name: 'input', datatype: 'FP32', shape: [LARGE, 4], data: large.map((v, i) => (i === 160 ? 99 : v)) },
    ]),
    raw(
      'large, a string in the data',
      'iris',
      JSON.stringify({
        inputs: [
          { name: 'input', datatype: 'FP32', shape: [LARGE, 4], data: large.map((v, k) => (k === 160 ? 'wide' : v)) },
        ],
      }),
    ),
    raw('large, bad JSON', 'iris', irisInput(large).slice(0, -3)),
    infer('10,001 rows', 'iris', [{ name: 'input', datatype: 'FP32', shape: [10_001, 4], data: tooMany }], {
      binary: true,
    }),
    raw('10,001 rows, too few values', 'iris', irisInput(setosaRow, [10_001, 4])),
    getRequest('errors oip metadata, unknown model', noModel, '/v2/models/no_such_model'),
    getRequest('errors oip metadata, unknown version', iris, '/v2/models/iris/versions/7'),
    getRequest('errors oip metadata, version 01', iris, '/v2/models/iris/versions/01'),
    getRequest('errors oip ready, unknown model', noModel, '/v2/models/no_such_model/ready'),
    getRequest('errors oip ready, version 01', iris, '/v2/models/iris/versions/01/ready'),
  ];
}
