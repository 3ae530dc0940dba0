import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFor } from '../../helpers/app.js';
import { referenceRun } from '../../helpers/reference.js';
import { FIXTURE_MODELS } from '../../helpers/repository.js';

const modelPath = (name: string) => join(FIXTURE_MODELS, name, '1', 'model.onnx');

describe('OIP v2 inference with JSON tensors', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS });

  const infer = async (model: string, body: unknown, url = `/v2/models/${model}/infer`) => {
    const response = await app().inject({
      method: 'POST',
      url,
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return { status: response.statusCode, body: response.json(), headers: response.headers };
  };

  it('answers as the spec shows: model name and version, the request id echoed, each output with datatype, shape and flat data', async () => {
    const { status, body, headers } = await infer('mixer', {
      id: '42',
      inputs: [
        { name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
        { name: 'scale', shape: [], datatype: 'INT64', data: [2] },
      ],
      outputs: [{ name: 'total' }],
    });
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^application\/json/);
    expect(body).toEqual({
      model_name: 'mixer',
      model_version: '1',
      id: '42',
      parameters: { prediction_id: expect.stringMatching(/^[0-9a-f-]{36}$/), cached: false },
      outputs: [{ name: 'total', datatype: 'FP32', shape: [2], data: [12, 30] }],
    });
  });

  it('takes data flat or nested, the scalar as [] or [1], and answers the same', async () => {
    const flat = await infer('mixer', {
      inputs: [
        { name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
        { name: 'scale', shape: [1], datatype: 'INT64', data: [3] },
      ],
    });
    const nested = await infer('mixer', {
      inputs: [
        {
          name: 'x',
          shape: [2, 3],
          datatype: 'FP32',
          data: [
            [1, 2, 3],
            [4, 5, 6],
          ],
        },
        { name: 'scale', shape: [], datatype: 'INT64', data: 3 },
      ],
    });
    expect(flat.status).toBe(200);
    expect(nested.body.outputs).toEqual(flat.body.outputs);
    expect(flat.body.outputs.map((o: { name: string }) => o.name)).toEqual(['y', 'total']); // every output by default
  });

  it.each([
    [
      'state batched on axis 1 with a scalar sample rate',
      'stateful',
      {
        audio: { type: 'float32', datatype: 'FP32', dims: [2, 3], data: [0.1, -0.2, 0.3, 0.5, 0.5, 0.5] },
        sr: { type: 'int64', datatype: 'INT64', dims: [], data: [16000] },
        state: {
          type: 'float32',
          datatype: 'FP32',
          dims: [2, 2, 4],
          data: Array.from({ length: 16 }, (_, i) => Math.sin(i)),
        },
      },
    ],
    [
      'token ids with an attention mask',
      'text_classifier',
      {
        input_ids: { type: 'int64', datatype: 'INT64', dims: [2, 4], data: [1, 2, 3, 0, 7, 8, 9, 10] },
        attention_mask: { type: 'int64', datatype: 'INT64', dims: [2, 4], data: [1, 1, 1, 0, 1, 1, 1, 1] },
      },
    ],
    [
      'FP16 values and a BOOL mask',
      'masked_half',
      {
        x: { type: 'float16', datatype: 'FP16', dims: [2, 4], data: [1.5, -2, 0.25, 65504, 3, 4, 5, 6] },
        mask: {
          type: 'bool',
          datatype: 'BOOL',
          dims: [2, 4],
          data: [true, false, true, true, false, false, false, false],
        },
      },
    ],
    ['a BYTES input', 'vocab', { text: { type: 'string', datatype: 'BYTES', dims: [3], data: ['cat', 'dog', 'mat'] } }],
  ])('%s: the answer equals onnxruntime run in-process', async (_name, model, feeds) => {
    const inputs = Object.entries(feeds).map(([name, f]) => ({
      name,
      datatype: f.datatype,
      shape: f.dims,
      data: f.data,
    }));
    const { status, body } = await infer(model, { inputs });
    expect(status).toBe(200);
    const toOrt = (f: { type: string; data: unknown[] }) =>
      f.type === 'int64'
        ? BigInt64Array.from(f.data as number[], BigInt)
        : f.type === 'float16'
          ? Uint16Array.from(f.data as number[], halfOf)
          : f.type === 'bool'
            ? Uint8Array.from(f.data as boolean[], Number)
            : f.type === 'string'
              ? f.data
              : Float32Array.from(f.data as number[]);
    const expected = await referenceRun(
      modelPath(model),
      Object.fromEntries(
        Object.entries(feeds).map(([name, f]) => [name, { type: f.type, dims: f.dims, data: toOrt(f) }]),
      ),
    );
    for (const output of body.outputs as { name: string; datatype: string; shape: number[]; data: unknown[] }[]) {
      const reference = expected[output.name]!;
      expect(output.shape).toEqual(reference.dims);
      const want = reference.data.map((v) =>
        output.datatype === 'FP16'
          ? halfValueOf(v as number)
          : output.datatype === 'BOOL'
            ? v === 1 || v === true
            : typeof v === 'bigint'
              ? Number(v)
              : v,
      );
      expect(output.data).toEqual(want);
    }
  });

  it('fetches only the outputs asked for, and refuses an unknown one', async () => {
    const inputs = [
      { name: 'audio', shape: [1, 2], datatype: 'FP32', data: [0, 0] },
      { name: 'sr', shape: [], datatype: 'INT64', data: [8000] },
      { name: 'state', shape: [2, 1, 4], datatype: 'FP32', data: Array(8).fill(0) },
    ];
    const one = await infer('stateful', { inputs, outputs: [{ name: 'state_out' }] });
    expect(one.body.outputs.map((o: { name: string }) => o.name)).toEqual(['state_out']);
    const unknown = await infer('stateful', { inputs, outputs: [{ name: 'nope' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/unknown output "nope"/);
  });

  it('serves an explicit version, and every integer type exactly', async () => {
    const names = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'fp64', 'fp16'];
    const extremes: Record<string, number[]> = {
      int8: [-128, 127],
      uint8: [0, 255],
      int16: [-32768, 32767],
      uint16: [0, 65535],
      int32: [-2147483648, 2147483647],
      uint32: [0, 4294967295],
      int64: [-(2 ** 53) + 1, 2 ** 53 - 1],
      uint64: [0, 2 ** 53 - 1],
      fp64: [Math.PI, -1e300],
      fp16: [65504, -0.5],
    };
    const inputs = names.map((n) => ({ name: `in_${n}`, shape: [1, 2], datatype: n.toUpperCase(), data: extremes[n] }));
    const { status, body } = await infer('all_types', { inputs }, '/v2/models/all_types/versions/1/infer');
    expect(status).toBe(200);
    for (const n of names)
      expect(body.outputs.find((o: { name: string }) => o.name === `out_${n}`).data).toEqual(extremes[n]);
  });
});

describe('OIP v2 JSON tensors read from the bytes (issue #23)', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS, JSON_OFFLOAD_BYTES: '1048576' });
  const send = async (payload: string) => {
    const response = await app().inject({
      method: 'POST',
      url: '/v2/models/all_types/infer',
      payload,
      headers: { 'content-type': 'application/json' },
    });
    return { status: response.statusCode, text: response.body };
  };
  /** Every input of all_types, with these 64-bit values' texts; the rest small. */
  const body = (int64: string, uint64: string) =>
    `{"inputs":[${['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'fp64', 'fp16']
      .map((n) => `{"name":"in_${n}","shape":[1,2],"datatype":"${n.toUpperCase()}","data":[1,2]}`)
      .join(',')},{"name":"in_int64","shape":[1,2],"datatype":"INT64","data":[${int64}]},` +
    `{"name":"in_uint64","shape":[1,2],"datatype":"UINT64","data":[${uint64}]}]}`;

  it('INT64 and UINT64 over their whole range, both ways: 2^63-1, -2^63 and 2^64-1 come back in all their digits', async () => {
    const { status, text } = await send(
      body('9223372036854775807, -9223372036854775808', '18446744073709551615, 9007199254740993'),
    );
    expect(status).toBe(200);
    expect(text).toContain(
      '"name":"out_int64","datatype":"INT64","shape":[1,2],"data":[9223372036854775807,-9223372036854775808]',
    );
    expect(text).toContain(
      '"name":"out_uint64","datatype":"UINT64","shape":[1,2],"data":[18446744073709551615,9007199254740993]',
    );
  });

  it('refuses a 64-bit value past the range, naming it as sent and the exact bounds', async () => {
    const { status, text } = await send(body('9223372036854775808, 1', '1, 2'));
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({
      code: 'INVALID_INPUT',
      details: [
        {
          path: 'inputs.in_int64[0][0]',
          message: '9223372036854775808 is outside the range of int64 (-9223372036854775808 to 9223372036854775807)',
        },
      ],
    });
  });

  it('refuses data nested otherwise than the shape, naming the input', async () => {
    const { status, text } = await send(body('[1, 2]', '1, 2').replace('"data":[[1, 2]]}', '"data":[[1], [2]]}'));
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({
      code: 'INVALID_INPUT',
      details: [
        { path: 'inputs.in_int64', message: 'the data is nested as [2,1]; send it flat, or nested as the shape [1,2]' },
      ],
    });
  });

  it('a decode worker reads them the same (a body past JSON_OFFLOAD_BYTES)', async () => {
    const pad = ' '.repeat(1_100_000);
    const { status, text } = await send(
      body(`9223372036854775807,${pad}-9223372036854775808`, '18446744073709551615, 0'),
    );
    expect(status).toBe(200);
    expect(text).toContain('"data":[9223372036854775807,-9223372036854775808]');
    expect(text).toContain('"data":[18446744073709551615,0]');
  });
});

describe('OIP v2 bad requests: 4xx with the field, never a 500 or a hang', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS, BODY_LIMIT_BYTES: '65536' });

  const raw = async (url: string, payload: string | Buffer, headers: Record<string, string> = {}) => {
    const response = await app().inject({ method: 'POST', url, payload, headers });
    return { status: response.statusCode, body: response.json() };
  };
  const mixer = (x: unknown, scale: unknown = { name: 'scale', shape: [], datatype: 'INT64', data: [1] }) =>
    JSON.stringify({ inputs: [x, scale].filter(Boolean) });

  it.each([
    [
      'an unknown model',
      '/v2/models/nope/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }),
      404,
      'MODEL_NOT_FOUND',
      'model',
    ],
    [
      'an unknown version',
      '/v2/models/mixer/versions/7/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }),
      404,
      'VERSION_NOT_FOUND',
      'version',
    ],
    ['malformed JSON', '/v2/models/mixer/infer', '{"inputs": [', 400, 'INVALID_JSON', undefined],
    ['no inputs', '/v2/models/mixer/infer', '{"id":"1"}', 400, 'INVALID_REQUEST', 'inputs'],
    [
      'a shape that is not a list of sizes',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, -3], datatype: 'FP32', data: [1, 2, 3] }),
      400,
      'INVALID_REQUEST',
      'inputs[0].shape[1]',
    ],
    [
      'an unknown datatype',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FLOAT', data: [1, 2, 3] }),
      400,
      'INVALID_INPUT',
      'inputs.x.datatype',
    ],
    [
      'the wrong datatype',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP64', data: [1, 2, 3] }),
      400,
      'INVALID_INPUT',
      'inputs.x.datatype',
    ],
    [
      'too few values for the shape',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3] }),
      400,
      'INVALID_INPUT',
      'inputs.x',
    ],
    [
      'too many values for the shape',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3, 4] }),
      400,
      'INVALID_INPUT',
      'inputs.x',
    ],
    // one row of them: a batch dim past MAX_REQUEST_ROWS is refused sooner (test/protocols/row-caps.test.ts)
    [
      'a shape of billions of elements',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 2_000_000_000], datatype: 'FP32', data: [1] }),
      400,
      'INVALID_INPUT',
      'inputs.x',
    ],
    [
      'a fixed dim of the wrong size',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }),
      400,
      'INVALID_INPUT',
      'inputs.x',
    ],
    [
      'the wrong rank',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 3] }),
      400,
      'INVALID_INPUT',
      'inputs.x',
    ],
    [
      'a scalar sent as [2]',
      '/v2/models/mixer/infer',
      mixer(
        { name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
        { name: 'scale', shape: [2], datatype: 'INT64', data: [1, 2] },
      ),
      400,
      'INVALID_INPUT',
      'inputs.scale',
    ],
    [
      'a string in FP32 data',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 'two', 3] }),
      400,
      'INVALID_INPUT',
      'inputs.x[0][1]',
    ],
    [
      'a fraction for INT64',
      '/v2/models/mixer/infer',
      mixer(
        { name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
        { name: 'scale', shape: [], datatype: 'INT64', data: [1.5] },
      ),
      400,
      'INVALID_INPUT',
      'inputs.scale',
    ],
    [
      'Infinity (1e999)',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }).replace('[1,2,3]', '[1,1e999,3]'),
      400,
      'INVALID_INPUT',
      'inputs.x[0][1]',
    ],
    [
      'a missing input',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }, null),
      400,
      'INVALID_INPUT',
      'inputs.scale',
    ],
    [
      'an unknown input',
      '/v2/models/mixer/infer',
      JSON.stringify({
        inputs: [
          { name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
          { name: 'scale', shape: [], datatype: 'INT64', data: [1] },
          { name: 'extra', shape: [1], datatype: 'FP32', data: [1] },
        ],
      }),
      400,
      'INVALID_INPUT',
      'inputs.extra',
    ],
    [
      'an input sent twice',
      '/v2/models/mixer/infer',
      JSON.stringify({
        inputs: [
          { name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
          { name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
        ],
      }),
      400,
      'INVALID_INPUT',
      'inputs.x',
    ],
    [
      'no data and no binary size',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32' }),
      400,
      'INVALID_INPUT',
      'inputs.x.data',
    ],
    [
      'a binary size with no binary data',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } }),
      400,
      'INVALID_INPUT',
      'inputs.x.parameters.binary_data_size',
    ],
    [
      'BOOL data that is not true or false',
      '/v2/models/masked_half/infer',
      JSON.stringify({
        inputs: [
          { name: 'x', shape: [1, 4], datatype: 'FP16', data: [1, 2, 3, 4] },
          { name: 'mask', shape: [1, 4], datatype: 'BOOL', data: [1, 0, 1, 0] },
        ],
      }),
      400,
      'INVALID_INPUT',
      'inputs.mask[0][0]',
    ],
    [
      'an FP16 value beyond 65504',
      '/v2/models/masked_half/infer',
      JSON.stringify({
        inputs: [
          { name: 'x', shape: [1, 4], datatype: 'FP16', data: [1, 2, 3, 70000] },
          { name: 'mask', shape: [1, 4], datatype: 'BOOL', data: [true, true, true, true] },
        ],
      }),
      400,
      'INVALID_INPUT',
      'inputs.x[0][3]',
    ],
    [
      'a number for BYTES',
      '/v2/models/vocab/infer',
      JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [7] }] }),
      400,
      'INVALID_INPUT',
      'inputs.text[0]',
    ],
    [
      'ids and mask of different lengths (one seq per request)',
      '/v2/models/text_classifier/infer',
      JSON.stringify({
        inputs: [
          { name: 'input_ids', shape: [1, 3], datatype: 'INT64', data: [1, 2, 3] },
          { name: 'attention_mask', shape: [1, 2], datatype: 'INT64', data: [1, 1] },
        ],
      }),
      400,
      'INVALID_INPUT',
      'inputs.attention_mask',
    ],
    [
      'audio and state of different batch',
      '/v2/models/stateful/infer',
      JSON.stringify({
        inputs: [
          { name: 'audio', shape: [2, 1], datatype: 'FP32', data: [1, 2] },
          { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
          { name: 'state', shape: [2, 1, 4], datatype: 'FP32', data: Array(8).fill(0) },
        ],
      }),
      400,
      'INVALID_INPUT',
      'inputs.state',
    ],
    [
      'zero rows',
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [0, 3], datatype: 'FP32', data: [] }),
      400,
      'INVALID_INPUT',
      'inputs.x',
    ],
    [
      'deeply nested data',
      '/v2/models/mixer/infer',
      `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":${'['.repeat(10000)}1${']'.repeat(10000)}}]}`,
      400,
      'INVALID_REQUEST',
      '(body)',
    ],
  ])('%s', async (_name, url, payload, status, code, path) => {
    const { status: got, body } = await raw(url, payload, { 'content-type': 'application/json' });
    expect(got).toBe(status);
    expect(body.code).toBe(code);
    expect(typeof body.error).toBe('string');
    if (path !== undefined) expect(body.details[0].path).toBe(path);
  });

  it('names the symbolic dim that disagrees, and where', async () => {
    const { body } = await raw(
      '/v2/models/stateful/infer',
      JSON.stringify({
        inputs: [
          { name: 'audio', shape: [2, 1], datatype: 'FP32', data: [1, 2] },
          { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
          { name: 'state', shape: [2, 1, 4], datatype: 'FP32', data: Array(8).fill(0) },
        ],
      }),
    );
    expect(body.details[0].message).toBe('dim 1 (batch) is 1, but input "audio" has batch = 2');
  });

  it('answers 413 above the body limit, and still serves after all of that', async () => {
    const big = JSON.stringify({
      inputs: [
        { name: 'x', shape: [10000, 3], datatype: 'FP32', data: Array(30000).fill(1.2345) },
        { name: 'scale', shape: [], datatype: 'INT64', data: [1] },
      ],
    });
    expect((await raw('/v2/models/mixer/infer', big)).status).toBe(413);
    const ok = await raw(
      '/v2/models/mixer/infer',
      mixer({ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }),
    );
    expect(ok.status).toBe(200);
  });
});

/** IEEE half-precision bits of a number that half precision holds exactly, and back (for the reference run). */
function halfOf(value: number): number {
  if (value === 0) return 0;
  const sign = value < 0 ? 0x8000 : 0;
  const exp = Math.floor(Math.log2(Math.abs(value)));
  const mant = Math.round((Math.abs(value) / 2 ** exp - 1) * 1024);
  return sign | ((exp + 15) << 10) | mant;
}
function halfValueOf(bits: number): number {
  const exp = (bits >> 10) & 0x1f;
  const value = exp === 0 ? (bits & 0x3ff) * 2 ** -24 : (1 + (bits & 0x3ff) / 1024) * 2 ** (exp - 15);
  return bits & 0x8000 ? -value : value;
}
