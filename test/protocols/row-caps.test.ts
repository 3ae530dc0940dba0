import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { RouterSnapshot } from '../../src/core/models/model-router.js';
import { WorkerDecoding } from '../../src/protocols/decoding/worker-decoding.js';
import { appFor, startApp } from '../helpers/app.js';
import { buildRequest } from '../helpers/oip-client.js';

/**
 * The row caps are checked on the size a request declares, before any row is decoded or checked:
 * `instances`' length, the binary /predict query's `shape`, an OIP input's shape. Every body here
 * has an invalid first row, so a 400 would mean its rows were walked; it must get 413. Small caps
 * keep the bodies small: MAX_REQUEST_ROWS 8, and a queue of 4 rows per model.
 */
const CAPS = { MAX_REQUEST_ROWS: '8', BATCH_MAX_QUEUE_ROWS: '4' };
const OFFLOAD_BYTES = 1000;
/** Trailing blanks: the same JSON, large enough to be decoded on a decode worker. */
const PAD = ' '.repeat(OFFLOAD_BYTES);

const ROW = [5.1, 3.5, 1.4, 0.2];
const rows = (n: number) => [{ not_a_feature: 1 }, ...Array.from({ length: n - 1 }, () => ROW)];
const oipRows = (n: number) => ['x', ...Array.from({ length: n - 1 }, () => ROW).flat(), 1, 2, 3];

function predictJson(n: number, pad = ''): InjectOptions {
  return {
    method: 'POST',
    url: '/predict',
    payload: JSON.stringify({ model: 'iris', instances: rows(n) }) + pad,
    headers: { 'content-type': 'application/json' },
  };
}
function predictBinary(n: number): InjectOptions {
  // 4 bytes where n rows need 16n: refused at 400 if the body were read
  return {
    method: 'POST',
    url: `/predict?model=iris&dtype=float32&shape=${n},4`,
    payload: Buffer.alloc(4),
    headers: { 'content-type': 'application/octet-stream' },
  };
}
function oipJson(n: number, pad = ''): InjectOptions {
  return {
    method: 'POST',
    url: '/v2/models/iris/infer',
    payload: JSON.stringify({ inputs: [{ name: 'input', shape: [n, 4], datatype: 'FP32', data: oipRows(n) }] }) + pad,
  };
}
function oipBinary(n: number, pad = ''): InjectOptions {
  // one row of bytes for n declared rows: refused at 400 if the data were decoded
  const { body, headerLength } = buildRequest([{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROW }]);
  const header = JSON.parse(body.subarray(0, headerLength).toString());
  header.inputs[0].shape = [n, 4];
  const json = Buffer.from(JSON.stringify(header) + pad);
  return {
    method: 'POST',
    url: '/v2/models/iris/infer',
    payload: Buffer.concat([json, body.subarray(headerLength)]),
    headers: { 'inference-header-content-length': String(json.length) },
  };
}

const cases: { name: string; field: string; offloaded: boolean; request: (n: number) => InjectOptions }[] = [
  { name: '/predict JSON', field: 'instances', offloaded: false, request: (n) => predictJson(n) },
  {
    name: '/predict JSON, on a decode worker',
    field: 'instances',
    offloaded: true,
    request: (n) => predictJson(n, PAD),
  },
  { name: '/predict binary', field: 'shape', offloaded: false, request: predictBinary },
  { name: 'OIP JSON', field: 'inputs.input', offloaded: false, request: (n) => oipJson(n) },
  { name: 'OIP JSON, on a decode worker', field: 'inputs.input', offloaded: true, request: (n) => oipJson(n, PAD) },
  { name: 'OIP binary', field: 'inputs.input', offloaded: false, request: (n) => oipBinary(n) },
  { name: 'OIP binary, on a decode worker', field: 'inputs.input', offloaded: true, request: (n) => oipBinary(n, PAD) },
];

describe('the row caps refuse a request on its declared size, before any row is checked', () => {
  const app = appFor({ ...CAPS, JSON_OFFLOAD_BYTES: String(OFFLOAD_BYTES), CACHE_ENABLED: 'false' });

  const send = async (request: InjectOptions) => {
    const response = await app().inject(request);
    const body = response.json();
    return [response.statusCode, body.code, body.details?.[0]?.path];
  };

  it.each(cases)(
    '$name: 413 TOO_MANY_ROWS past MAX_REQUEST_ROWS, 413 LARGER_THAN_QUEUE past the queue, 400 within both',
    async ({ field, offloaded, request }) => {
      // Decoded where the case means it to be
      expect(app().decodeWorkers.wants(Buffer.byteLength(request(9).payload as string | Buffer))).toBe(offloaded);
      expect(await send(request(9))).toEqual([413, 'TOO_MANY_ROWS', field]);
      expect(await send(request(5))).toEqual([413, 'LARGER_THAN_QUEUE', field]);
      expect((await send(request(4)))[0]).toBe(400); // within the caps, its bad first row is found
    },
  );
});

describe('a decode worker does not decode a body past the row caps', () => {
  let app: FastifyInstance;
  let worker: WorkerDecoding;
  let routing: RouterSnapshot;
  beforeAll(async () => {
    app = await startApp({ ...CAPS, JSON_OFFLOAD_BYTES: '0', CACHE_ENABLED: 'false' });
    const { spec, plan, policy } = app.router.resolve('iris').runner!;
    expect(policy.maxQueueRows).toBe(4);
    worker = new WorkerDecoding([{ spec, plan, maxQueueRows: policy.maxQueueRows }], 64, 8);
    routing = app.router.snapshot((r) => r.spec.key);
  });
  afterAll(() => app.close());

  /** The request decoded as a decode worker would (in this thread, by the same code). */
  const decode = (codec: string, request: InjectOptions) =>
    worker.decode({
      codec,
      body: Buffer.from(request.payload as string | Buffer),
      head: {
        params: { model: 'iris' },
        query: undefined,
        binary: false,
        headerLength: request.headers?.['inference-header-content-length'] as string | undefined,
      },
      routing,
    });

  it('/predict: the envelope and its row count come back for the main thread to refuse, no rows and no error', () => {
    for (const n of [9, 5]) {
      const result = decode('predict', predictJson(n));
      expect(result).toMatchObject({ kind: 'decoded', key: 'iris@1', envelope: { model: 'iris', rows: n } });
      expect(result).not.toHaveProperty('inputs');
      expect(result).not.toHaveProperty('error');
    }
    expect(decode('predict', predictJson(4))).toMatchObject({
      kind: 'decoded',
      key: 'iris@1',
      error: { code: 'INVALID_INPUT' },
    });
  });

  it('OIP: the request without data comes back, no tensors and no error', () => {
    for (const request of [oipJson(9), oipJson(5), oipBinary(9)]) {
      const result = decode('infer', request);
      expect(result).toMatchObject({
        kind: 'decoded',
        key: 'iris@1',
        envelope: { request: { inputs: [{ name: 'input', shape: [expect.any(Number), 4] }] } },
      });
      expect(result).not.toHaveProperty('inputs');
      expect(result).not.toHaveProperty('error');
      expect(JSON.stringify(result)).not.toContain('"data"');
    }
    expect(decode('infer', oipJson(4))).toMatchObject({ kind: 'decoded', key: 'iris@1', error: {} });
  });
});
