import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { appFor } from '../../helpers/app.js';
import { buildRequest, infer, type ClientTensor } from '../../helpers/oip-client.js';
import { referenceRun } from '../../helpers/reference.js';
import { BUNDLED_MODELS } from '../../helpers/app.js';
import { FIXTURE_MODELS } from '../../helpers/repository.js';
import { holdoutRow } from '../../../bench/bundled-model.js';

const stateInputs = (sr: number): ClientTensor[] => [
  { name: 'audio', datatype: 'FP32', shape: [2, 3], data: [0.1, -0.2, 0.3, 0.5, 0.5, 0.5] },
  { name: 'sr', datatype: 'INT64', shape: [], data: [sr] },
  {
    name: 'state',
    datatype: 'FP32',
    shape: [2, 2, 4],
    data: Array.from({ length: 16 }, (_, i) => Math.fround(Math.cos(i))),
  },
];

describe('OIP v2 binary tensor data extension, over real HTTP with a client written from the spec', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS, BODY_LIMIT_BYTES: '65536' });
  let url: string;
  beforeAll(async () => {
    url = await app().listen({ host: '127.0.0.1', port: 0 });
  });

  it('binary inputs and binary outputs (no Content-Type sent): the same values as JSON and as onnxruntime in-process', async () => {
    const binary = await infer(url, 'stateful', stateInputs(16000), { binaryOutputs: true });
    expect(binary.status).toBe(200);
    expect(binary.headers.get('content-type')).toBe('application/octet-stream');
    expect(Number(binary.headers.get('inference-header-content-length'))).toBeGreaterThan(0);
    expect(binary.json.outputs!.map((o) => [o.name, o.parameters?.binary_data_size])).toEqual([
      ['prob', 8],
      ['state_out', 64],
    ]);
    const json = await infer(url, 'stateful', stateInputs(16000), { jsonInputs: ['audio', 'sr', 'state'] });
    expect(json.headers.get('inference-header-content-length')).toBeNull();
    expect(binary.outputs).toEqual(json.outputs);
    const reference = await referenceRun(join(FIXTURE_MODELS, 'stateful/1/model.onnx'), {
      audio: { type: 'float32', dims: [2, 3], data: new Float32Array(stateInputs(16000)[0]!.data as number[]) },
      sr: { type: 'int64', dims: [], data: new BigInt64Array([16000n]) },
      state: { type: 'float32', dims: [2, 2, 4], data: new Float32Array(stateInputs(16000)[2]!.data as number[]) },
    });
    expect(binary.outputs.state_out!.data).toEqual(reference.state_out!.data);
    expect(binary.outputs.prob!.data).toEqual(reference.prob!.data);
  });

  it('mixes JSON and binary inputs, and binary and JSON outputs; a per-output binary_data beats the request-level one', async () => {
    const reply = await infer(url, 'stateful', stateInputs(8000), {
      jsonInputs: ['sr'],
      binaryOutputs: true,
      outputs: [{ name: 'prob', binary: false }, { name: 'state_out' }],
    });
    expect(reply.status).toBe(200);
    expect(reply.json.outputs!.map((o) => [o.name, 'data' in o, o.parameters?.binary_data_size])).toEqual([
      ['prob', true, undefined],
      ['state_out', false, 64],
    ]);
    const all = await infer(url, 'stateful', stateInputs(8000), { jsonInputs: ['audio', 'sr', 'state'] });
    expect(reply.outputs).toEqual(all.outputs);
  });

  it('BYTES, BOOL and FP16 travel as binary both ways', async () => {
    const words = await infer(
      url,
      'vocab',
      [{ name: 'text', datatype: 'BYTES', shape: [4], data: ['cat', 'héllo wörld', '', 'mat'] }],
      { binaryOutputs: true },
    );
    expect(words.outputs.ids!.data).toEqual([1n, -1n, -1n, 4n]);
    expect(words.outputs.words!.data).toEqual(['cat', 'héllo wörld', '', 'mat']);
    const half = await infer(
      url,
      'masked_half',
      [
        { name: 'x', datatype: 'FP16', shape: [2, 4], data: [1.5, -2, 0.25, 65504, 3, 4, 5, 6] },
        { name: 'mask', datatype: 'BOOL', shape: [2, 4], data: [true, false, true, true, false, false, false, false] },
      ],
      { binaryOutputs: true },
    );
    expect(half.outputs.y!.data).toEqual([1.5, 0, 0.25, 65504, 0, 0, 0, 0]);
    expect(half.outputs.count!.data).toEqual([3, 0]);
    expect(half.outputs.any!.data).toEqual([true, false]);
  });

  it('every integer type and FP64 round-trip exactly as binary, int64 beyond 2^53 included', async () => {
    const values: Record<string, [ClientTensor['datatype'], number[] | bigint[]]> = {
      int8: ['INT8', [-128, 127]],
      uint8: ['UINT8', [0, 255]],
      int16: ['INT16', [-32768, 32767]],
      uint16: ['UINT16', [0, 65535]],
      int32: ['INT32', [-2147483648, 2147483647]],
      uint32: ['UINT32', [0, 4294967295]],
      int64: ['INT64', [-(2n ** 63n), 2n ** 63n - 1n]],
      uint64: ['UINT64', [0n, 2n ** 64n - 1n]],
      fp64: ['FP64', [Math.PI, -1e300]],
      fp16: ['FP16', [65504, -0.5]],
    };
    const inputs = Object.entries(values).map(([n, [datatype, data]]) => ({
      name: `in_${n}`,
      datatype,
      shape: [1, 2],
      data,
    }));
    const reply = await infer(url, 'all_types', inputs, { binaryOutputs: true });
    expect(reply.status).toBe(200);
    for (const [n, [, data]] of Object.entries(values)) expect(reply.outputs[`out_${n}`]!.data).toEqual(data);
  });

  it('gzip and deflate bodies are inflated, and answers compressed when the client accepts it', async () => {
    for (const compress of ['gzip', 'deflate'] as const) {
      const reply = await infer(url, 'stateful', stateInputs(16000), { compress, binaryOutputs: true });
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-encoding')).toBeNull(); // under the 1 KiB threshold: sent as it is
      expect(reply.outputs.prob!.data).toHaveLength(2);
    }
    // a large answer is compressed
    const rows = 512;
    const inputs: ClientTensor[] = [
      { name: 'x', datatype: 'FP32', shape: [rows, 3], data: Array.from({ length: rows * 3 }, (_, i) => i % 7) },
      { name: 'scale', datatype: 'INT64', shape: [], data: [2] },
    ];
    const big = await infer(url, 'mixer', inputs, { compress: 'gzip', jsonInputs: ['x', 'scale'] });
    expect(big.headers.get('content-encoding')).toBe('gzip');
    expect(big.outputs.total!.data).toHaveLength(rows);
  });

  it('refuses a body that inflates past the body limit (413), a broken stream and an unknown encoding (4xx)', async () => {
    const bomb = gzipSync(
      Buffer.concat([
        buildRequest([{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }]).body,
        Buffer.alloc(10_000_000, 32),
      ]),
    );
    expect(bomb.length).toBeLessThan(65536);
    const post = (body: Buffer, headers: Record<string, string>) =>
      fetch(`${url}/v2/models/mixer/infer`, { method: 'POST', body: new Uint8Array(body), headers });
    const inflated = await post(bomb, { 'content-encoding': 'gzip' });
    expect(inflated.status).toBe(413);
    expect((await inflated.json()).code).toBe('PAYLOAD_TOO_LARGE');
    const broken = await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(broken.status).toBe(400);
    expect((await broken.json()).error).toEqual(expect.any(String));
    const unknown = await post(Buffer.from('{}'), { 'content-encoding': 'br-and-more' });
    expect(unknown.status).toBe(415);
    expect((await unknown.json()).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it.each([
    [
      'a header length past the end of the body',
      (b: Buffer, n: number) => [b, String(n + 1000)],
      'INVALID_REQUEST',
      'Inference-Header-Content-Length',
    ],
    [
      'a header length that is not a number',
      (b: Buffer) => [b, 'twelve'],
      'INVALID_REQUEST',
      'Inference-Header-Content-Length',
    ],
    ['a header length that cuts the JSON', (b: Buffer, n: number) => [b, String(n - 3)], 'INVALID_JSON', undefined],
    [
      'binary data that the sizes do not add up to',
      (b: Buffer, n: number) => [Buffer.concat([b, Buffer.alloc(4)]), String(n)],
      'INVALID_REQUEST',
      'Inference-Header-Content-Length',
    ],
    [
      'binary data cut short',
      (b: Buffer, n: number) => [b.subarray(0, b.length - 4), String(n)],
      'INVALID_INPUT',
      'inputs.state.parameters.binary_data_size',
    ],
  ])('answers 400 for %s', async (_name, mangle, code, path) => {
    const { body, headerLength } = buildRequest(stateInputs(16000));
    const [payload, length] = mangle(body, headerLength) as [Buffer, string];
    const response = await fetch(`${url}/v2/models/stateful/infer`, {
      method: 'POST',
      body: new Uint8Array(payload),
      headers: { 'inference-header-content-length': length },
    });
    expect(response.status).toBe(400);
    const answer = await response.json();
    expect(answer.code).toBe(code);
    if (path) expect(answer.details[0].path).toBe(path);
  });

  it('answers 400 for a size that does not fit the shape, a BOOL byte other than 0 or 1, and BYTES that are not UTF-8', async () => {
    const send = async (header: unknown, binary: Buffer) => {
      const json = Buffer.from(JSON.stringify(header));
      const response = await fetch(`${url}/v2/models/${(header as { model: string }).model}/infer`, {
        method: 'POST',
        body: new Uint8Array(Buffer.concat([json, binary])),
        headers: { 'inference-header-content-length': String(json.length) },
      });
      return { status: response.status, body: await response.json() };
    };
    const wrongSize = await send(
      {
        model: 'mixer',
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 8 } },
          { name: 'scale', datatype: 'INT64', shape: [], data: [1] },
        ],
      },
      Buffer.alloc(8),
    );
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.body.error).toMatch(/needs 12 bytes, got 8/);
    const mask = Buffer.from([1, 0, 2, 1]);
    const bool = await send(
      {
        model: 'masked_half',
        inputs: [
          { name: 'x', datatype: 'FP16', shape: [1, 4], data: [1, 2, 3, 4] },
          { name: 'mask', datatype: 'BOOL', shape: [1, 4], parameters: { binary_data_size: 4 } },
        ],
      },
      mask,
    );
    expect(bool.body.details[0]).toEqual({
      path: 'inputs.mask[0][2]',
      message: 'a BOOL element is one byte, 0 or 1; got 2',
    });
    const text = Buffer.from([3, 0, 0, 0, 0xff, 0xfe, 0x41]);
    const bytes = await send(
      {
        model: 'vocab',
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 7 } }],
      },
      text,
    );
    expect(bytes.body.details[0].path).toBe('inputs.text[0]');
    expect(bytes.body.details[0].message).toMatch(/UTF-8/);
  });
});

describe('OIP binary against /predict binary on the bundled image model', () => {
  const app = appFor({ MODEL_DIR: BUNDLED_MODELS });
  let url: string;
  beforeAll(async () => {
    url = await app().listen({ host: '127.0.0.1', port: 0 });
  });

  it('gives the same probabilities, and the classification extension names the label /predict does', async () => {
    const pixels = holdoutRow('digits_large');
    const oip = await infer(
      url,
      'digits_large',
      [{ name: 'input', datatype: 'FP32', shape: [1, 1, 32, 32], data: pixels }],
      {
        outputs: [{ name: 'probabilities', binary: true }],
      },
    );
    const top = await infer(
      url,
      'digits_large',
      [{ name: 'input', datatype: 'FP32', shape: [1, 1, 32, 32], data: pixels }],
      {
        outputs: [{ name: 'probabilities', classification: 3 }],
      },
    );
    const predict = await fetch(`${url}/predict?model=digits_large&dtype=float32&shape=1,1,32,32`, {
      method: 'POST',
      body: new Uint8Array(new Float32Array(pixels).buffer),
      headers: { 'content-type': 'application/octet-stream' },
    }).then((r) => r.json());
    expect(oip.outputs.probabilities!.data).toEqual(Object.values(predict.predictions[0].probabilities));
    expect(top.outputs.probabilities!.shape).toEqual([1, 3]);
    const [value, index, label] = (top.outputs.probabilities!.data[0] as string).split(':');
    expect(label).toBe(predict.predictions[0].label);
    expect(Number(value)).toBe(predict.predictions[0].confidence);
    expect(Number(index)).toBe(Object.keys(predict.predictions[0].probabilities).indexOf(label!));
  });
});
