import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { InferenceTask, ModelRuntime } from '../../src/core/serving/model-runtime.js';
import { OnnxRuntime } from '../../src/runtime/onnx-runtime.js';
import { appFor } from '../helpers/app.js';

const BODY_LIMIT = 1_000_000;
const body = JSON.stringify({
  model: 'iris',
  features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
});

/** The real runtime, noting the in-flight bytes held each time a model runs (the request's body read by then). */
function observedRuntime(held: () => number, seen: number[]): ModelRuntime {
  const real = new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
  return new Proxy(real, {
    get(target, property) {
      if (property === 'run')
        return (task: InferenceTask) => {
          seen.push(held());
          return target.run(task);
        };
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe("one onRequest and one onResponse hook do every request's own work (protocols/request-hooks.ts)", () => {
  const seen: number[] = [];
  let current: FastifyInstance | undefined;
  const app = appFor(
    { BODY_LIMIT_BYTES: String(BODY_LIMIT), CACHE_ENABLED: 'false', INFERENCE_WORKERS: '1' },
    undefined,
    { runtime: observedRuntime(() => current?.inflight.stats().bytes ?? -1, seen) },
  );
  const predict = async (payload: string | Buffer | Readable, headers: Record<string, string>) => {
    current = app();
    seen.length = 0;
    const response = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json', ...headers },
      payload,
    });
    return { status: response.statusCode, heldWhileRunning: seen[0], heldAfter: app().inflight.stats().bytes };
  };

  it('holds Content-Length bytes while a request runs, and gives them back when it is answered', async () => {
    expect(await predict(body, {})).toEqual({ status: 200, heldWhileRunning: body.length, heldAfter: 0 });
  });

  it('holds a chunked body as BODY_LIMIT_BYTES until read, then only its real size', async () => {
    const chunked = Readable.from([Buffer.from(body.slice(0, 20)), Buffer.from(body.slice(20))]);
    expect(await predict(chunked, { 'transfer-encoding': 'chunked' })).toEqual({
      status: 200,
      heldWhileRunning: body.length,
      heldAfter: 0,
    });
  });

  it('holds a gzip body as its inflated size once read', async () => {
    expect(await predict(gzipSync(body), { 'content-encoding': 'gzip' })).toEqual({
      status: 200,
      heldWhileRunning: body.length,
      heldAfter: 0,
    });
  });

  it('echoes the request id; refuses a foreign charset with 415, holding nothing after', async () => {
    const answer = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json', 'x-request-id': 'abc-1' },
      payload: body,
    });
    expect(answer.headers['x-request-id']).toBe('abc-1');
    const latin1 = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json; charset=latin1' },
      payload: body,
    });
    expect([latin1.statusCode, latin1.json().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(app().inflight.stats().bytes).toBe(0);
  });
});
