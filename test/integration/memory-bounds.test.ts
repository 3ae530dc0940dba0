import http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { HeldRuntime } from '../helpers/held-runtime.js';
import { OnnxRuntime } from '../../src/runtime/onnx-runtime.js';
import { appFor } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { infer, type ClientTensor } from '../helpers/oip-client.js';

const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];
const irisRows = (n: number) => Array.from({ length: n }, () => IRIS_ROW);
const irisTensor = (n: number): ClientTensor => ({
  name: 'input',
  datatype: 'FP32',
  shape: [n, 4],
  data: irisRows(n).flat(),
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { code?: string; details?: { path: string }[] };
}

/** One POST over real HTTP. */
function post(url: string, path: string, body: Buffer | string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${url}${path}`,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const binaryPredict = (url: string, rows: number) =>
  post(
    url,
    `/predict?model=iris&dtype=float32&shape=${rows},4`,
    Buffer.from(new Float32Array(irisRows(rows).flat()).buffer),
    { 'content-type': 'application/octet-stream' },
  );
const jsonPredict = (url: string, rows: number, extra: Record<string, unknown> = {}) =>
  post(url, '/predict', JSON.stringify({ model: 'iris', instances: irisRows(rows), ...extra }), {
    'content-type': 'application/json',
  });

/** Status, error code and the field the error names, from our answer or the OIP client's. */
function refusal(
  answer: Answer | { status: number; json: Record<string, unknown> },
): [number, string | undefined, string | undefined] {
  const body = ('body' in answer ? answer.body : answer.json) as Answer['body'];
  return [answer.status, body.code, body.details?.[0]?.path];
}

/**
 * Waits for a condition the server reaches on its own (a request arriving), without a deadline of
 * its own: vitest's test timeout bounds it.
 */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('row caps on every protocol, over real HTTP with the bundled models', () => {
  const app = appFor({ MAX_REQUEST_ROWS: '100', BATCH_MAX_QUEUE_ROWS: '60', CACHE_ENABLED: 'false' });
  let url: string;
  beforeAll(async () => {
    url = await app().listen({ host: '127.0.0.1', port: 0 });
  });

  it('a request of MAX_REQUEST_ROWS + 1 rows answers 413 TOO_MANY_ROWS naming the field, on /predict JSON and binary and OIP JSON and binary', async () => {
    const answers = {
      json: refusal(await jsonPredict(url, 101)),
      binary: refusal(await binaryPredict(url, 101)),
      oipJson: refusal(await infer(url, 'iris', [irisTensor(101)], { jsonInputs: ['input'] })),
      oipBinary: refusal(await infer(url, 'iris', [irisTensor(101)])),
    };
    expect(answers).toEqual({
      json: [413, 'TOO_MANY_ROWS', 'instances'],
      binary: [413, 'TOO_MANY_ROWS', 'shape'],
      oipJson: [413, 'TOO_MANY_ROWS', 'inputs.input'],
      oipBinary: [413, 'TOO_MANY_ROWS', 'inputs.input'],
    });
  });

  it('a request larger than the model queue (max_queue_size) is refused up front with 413 LARGER_THAN_QUEUE, though the queue is empty', async () => {
    expect(refusal(await binaryPredict(url, 61))).toEqual([413, 'LARGER_THAN_QUEUE', 'shape']);
    expect(refusal(await infer(url, 'iris', [irisTensor(61)]))).toEqual([413, 'LARGER_THAN_QUEUE', 'inputs.input']);
    // Refused requests count as invalid input, not as prediction errors (which alert).
    expect(sample(await scrape(app()), 'ml_predictions_total', { model: 'iris', status: 'error' }) ?? 0).toBe(0);
  });

  it('a request at the caps is served, in chunks of max_batch_size', async () => {
    const within = await binaryPredict(url, 60);
    expect(within.status).toBe(200);
    expect((within.body as unknown as { predictions: unknown[] }).predictions).toHaveLength(60);
  });
});

describe('the in-flight caps (MAX_INFLIGHT_BYTES, MAX_INFLIGHT_ROWS), over real HTTP', () => {
  const runtime = new HeldRuntime(
    new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 }),
  );
  const app = appFor(
    {
      BODY_LIMIT_BYTES: '2048',
      MAX_INFLIGHT_BYTES: '2048',
      MAX_REQUEST_ROWS: '10',
      MAX_INFLIGHT_ROWS: '10',
      CACHE_ENABLED: 'false',
    },
    undefined,
    { runtime },
  );
  let url: string;
  beforeAll(async () => {
    url = await app().listen({ host: '127.0.0.1', port: 0 });
  });

  it('bytes are taken from Content-Length before the body is read: a second body past the cap gets 503 SERVER_BUSY with Retry-After; a client that leaves gives its share back', async () => {
    // A client that sends the headers of a 2,040-byte body and stalls: 8 bytes of the cap are left.
    const stalled = http.request(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '2040' },
    });
    stalled.on('error', () => {});
    stalled.write('{"model":"iris",');
    try {
      await until(() => app().inflight.stats().bytes === 2040);
      const refused = await jsonPredict(url, 1);
      expect([refused.status, refused.body.code, refused.headers['retry-after']]).toEqual([503, 'SERVER_BUSY', '1']);
      expect(sample(await scrape(app()), 'ml_inflight_rejected_total', { resource: 'bytes' })).toBe(1);
    } finally {
      stalled.destroy();
    }
    await until(() => app().inflight.stats().bytes === 0);
    expect((await jsonPredict(url, 1)).status).toBe(200);
    expect(app().inflight.stats()).toEqual({ bytes: 0, rows: 0 });
  });

  it('rows are taken once a request is decoded: past the cap 503 SERVER_BUSY; given back on success and on a deadline', async () => {
    expect(app().inflight.stats()).toEqual({ bytes: 0, rows: 0 });
    runtime.hold();
    const held = jsonPredict(url, 10);
    await until(() => app().inflight.stats().rows === 10);
    const refused = await binaryPredict(url, 1);
    expect([refused.status, refused.body.code, refused.headers['retry-after']]).toEqual([503, 'SERVER_BUSY', '1']);
    expect(sample(await scrape(app()), 'ml_inflight_rejected_total', { resource: 'rows' })).toBe(1);
    expect(sample(await scrape(app()), 'ml_inflight_held', { resource: 'rows' })).toBe(10);
    runtime.release();
    expect((await held).status).toBe(200);
    expect(app().inflight.stats()).toEqual({ bytes: 0, rows: 0 });

    runtime.hold(); // a deadline gives the rows back while the run is still held
    const late = await jsonPredict(url, 10, { timeout_ms: 20 });
    expect([late.status, late.body.code]).toEqual([504, 'DEADLINE_EXCEEDED']);
    expect(app().inflight.stats().rows).toBe(0);
    runtime.release();
    expect((await binaryPredict(url, 10)).status).toBe(200);
    expect(app().inflight.stats()).toEqual({ bytes: 0, rows: 0 });
  });

  it('a request that fails (bad input) gives its bytes and rows back', async () => {
    const bad = await post(url, '/predict', JSON.stringify({ model: 'iris', instances: [[99, 99, 99, 99]] }), {
      'content-type': 'application/json',
    });
    expect(bad.status).toBe(400);
    await until(() => app().inflight.stats().bytes === 0);
    expect(app().inflight.stats()).toEqual({ bytes: 0, rows: 0 });
  });
});
