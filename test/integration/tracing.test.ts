import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { appFor } from '../helpers/app.js';
import { buildRequest } from '../helpers/oip-client.js';
import { attributesOf, OtlpReceiver, SPAN_KIND_SERVER, STATUS_ERROR, type OtlpSpan } from '../helpers/otlp-receiver.js';
import { RedisServer } from '../helpers/redis-server.js';

const iris = (sepalLength: number) => ({
  sepal_length: sepalLength,
  sepal_width: 3.5,
  petal_length: 1.4,
  petal_width: 0.2,
});
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The request's spans, as a tree: its server span, and each span's children by name. */
function treeOf(spans: OtlpSpan[]) {
  const server = spans.filter((s) => s.kind === SPAN_KIND_SERVER);
  expect(server).toHaveLength(1);
  const childrenOf = (span: OtlpSpan) => spans.filter((s) => s.parentSpanId === span.spanId);
  const names = (span: OtlpSpan) =>
    childrenOf(span)
      .map((s) => s.name)
      .sort();
  const only = (parent: OtlpSpan, name: string) => {
    const found = childrenOf(parent).filter((s) => s.name === name);
    expect(found, `one ${name} under ${parent.name}`).toHaveLength(1);
    return found[0]!;
  };
  return { server: server[0]!, names, only };
}

const nanos = (s: OtlpSpan) => [BigInt(s.startTimeUnixNano), BigInt(s.endTimeUnixNano)] as const;
function expectWithin(child: OtlpSpan, parent: OtlpSpan) {
  const [cs, ce] = nanos(child);
  const [ps, pe] = nanos(parent);
  expect(cs >= ps && ce <= pe && cs <= ce, `${child.name} inside ${parent.name}`).toBe(true);
}

describe('OpenTelemetry tracing, exported to a real OTLP/HTTP receiver', () => {
  let receiver: OtlpReceiver;
  let redis: RedisServer;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
    await receiver?.close();
  });
  // Registered after the hooks above: it starts once the receiver and Redis run, and closes before they stop.
  const app = appFor(() => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: 'onnx-serve-under-test',
    REDIS_URL: redis.url,
    REDIS_TIMEOUT_MS: '1000', // a loaded machine must not turn the Redis round trip into a timeout
    CACHE_MIN_HIT_RATE: '0',
    INLINE_MAX_ROW_MICROS: '0', // inference stays on the worker thread
  }));

  /** Every span of the trace, once the app has exported what has ended. */
  const exported = async (traceId: string) => {
    await app().tracing!.flush();
    return receiver.trace(traceId);
  };

  it('makes the /predict server span a child of the caller traceparent, with every step under it', async () => {
    const traceId = hex(16);
    const callerSpan = hex(8);
    const response = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      payload: { model: 'iris', features: iris(5.1) },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.traceresponse).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const spans = await exported(traceId);
    const { server, names, only } = treeOf(spans);
    expect(server.name).toBe('POST /predict');
    expect(server.parentSpanId).toBe(callerSpan);
    expect(response.headers.traceresponse).toBe(`00-${traceId}-${server.spanId}-01`);
    expect(attributesOf(server.attributes)).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/predict',
      'url.path': '/predict',
      'http.response.status_code': 200,
      'onnx_serve.model.name': 'iris',
      'onnx_serve.model.version': '1',
      'onnx_serve.rows': 1,
      'onnx_serve.cached': false,
    });
    expect(server.status?.code ?? 0).not.toBe(STATUS_ERROR);
    expect(names(server)).toEqual(['cache lookup', 'inference', 'queue wait', 'respond', 'validate']);

    // L1 missed, so Redis was asked; the row ran on the worker, whose session.run sits inside the round trip.
    const lookup = only(server, 'cache lookup');
    expect(attributesOf(lookup.attributes)).toMatchObject({ 'onnx_serve.rows': 1, 'onnx_serve.cache.hits': 0 });
    expect(attributesOf(only(lookup, 'redis MGET').attributes)).toMatchObject({ 'db.system.name': 'redis' });
    const inference = only(server, 'inference');
    expect(attributesOf(inference.attributes)).toMatchObject({
      'onnx_serve.inference.runs_on': 'workers',
      'onnx_serve.batch.rows': 1,
    });
    const run = only(inference, 'session.run');
    expectWithin(run, inference);
    for (const span of spans.filter((s) => s !== server)) expectWithin(span, server);

    // The steps in their order: validated, looked up, queued, run, answered.
    const start = (name: string) => nanos(only(server, name))[0];
    expect(start('validate') <= start('cache lookup')).toBe(true);
    expect(start('cache lookup') <= start('queue wait')).toBe(true);
    expect(start('queue wait') <= start('inference')).toBe(true);
    expect(start('inference') <= start('respond')).toBe(true);

    // The access log line carries the trace id.
    const line = app().logs.lines.find((l) => l.msg === 'request' && l.trace_id === traceId);
    expect(line).toMatchObject({ route: '/predict', status: 200, span_id: server.spanId });
    expect(receiver.resources.at(-1)).toMatchObject({ 'service.name': 'onnx-serve-under-test' });
  });

  it('traces an OIP binary infer under its route template, and a repeat as a cache hit with no inference', async () => {
    const { body, headerLength } = buildRequest([
      { name: 'input', datatype: 'FP32', shape: [1, 4], data: [6.3, 2.9, 5.6, 1.8] },
    ]);
    const send = () =>
      app().inject({
        method: 'POST',
        url: '/v2/models/iris/infer',
        headers: { 'inference-header-content-length': String(headerLength) },
        payload: body,
      });
    const first = await send();
    expect(first.statusCode).toBe(200);
    const traceId = first.headers.traceresponse!.toString().split('-')[1]!; // no traceparent sent: a new trace

    const { server, names, only } = treeOf(await exported(traceId));
    expect(server.parentSpanId ?? '').toBe('');
    expect(server.name).toBe('POST /v2/models/:model/infer');
    expect(attributesOf(server.attributes)).toMatchObject({
      'http.route': '/v2/models/:model/infer',
      'url.path': '/v2/models/iris/infer',
      'http.response.status_code': 200,
    });
    expect(names(server)).toEqual(['cache lookup', 'inference', 'queue wait', 'respond', 'validate']);
    expect(names(only(server, 'inference'))).toEqual(['session.run']);

    const repeat = await send();
    const hit = treeOf(await exported(repeat.headers.traceresponse!.toString().split('-')[1]!));
    expect(hit.names(hit.server)).toEqual(['cache lookup', 'respond', 'validate']);
    expect(attributesOf(hit.only(hit.server, 'cache lookup').attributes)).toMatchObject({ 'onnx_serve.cache.hits': 1 });
    expect(attributesOf(hit.server.attributes)).toMatchObject({ 'onnx_serve.cached': true });
  });

  it('marks a refused input: the validate span and the server span say error, with the error code', async () => {
    const traceId = hex(16);
    const response = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${hex(8)}-01` },
      payload: { model: 'iris', features: { ...iris(5.1), petal_width: 'wide' } },
    });
    expect(response.statusCode).toBe(400);
    const code = response.json().code as string;
    expect(code).toBe('INVALID_INPUT');

    const { server, names, only } = treeOf(await exported(traceId));
    expect(names(server)).toEqual(['respond', 'validate']);
    const validate = only(server, 'validate');
    for (const span of [validate, server]) {
      expect(span.status?.code).toBe(STATUS_ERROR);
      expect(span.status?.message).toContain(code);
      expect(attributesOf(span.attributes)['error.type']).toBe(code);
    }
    expect(attributesOf(server.attributes)['http.response.status_code']).toBe(400);
  });

  it('marks an unknown route by its status, and names the span by the method alone', async () => {
    const traceId = hex(16);
    const response = await app().inject({
      method: 'GET',
      url: '/no/such/route?x=1',
      headers: { traceparent: `00-${traceId}-${hex(8)}-01` },
    });
    expect(response.statusCode).toBe(404);
    const { server } = treeOf(await exported(traceId));
    expect(server.name).toBe('GET');
    expect(server.status?.code).toBe(STATUS_ERROR);
    expect(attributesOf(server.attributes)).toMatchObject({
      'url.path': '/no/such/route',
      'error.type': 'ROUTE_NOT_FOUND',
    });
  });

  it('honours an unsampled traceparent: no span, and the answer says nothing', async () => {
    const traceId = hex(16);
    const response = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${hex(8)}-00` },
      payload: { model: 'iris', features: iris(5.2) },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.traceresponse).toBeUndefined();
    expect(await exported(traceId)).toEqual([]);
  });
});

describe('tracing off (the default)', () => {
  const app = appFor({});

  it('starts no tracer and adds nothing to the answer or the log line', async () => {
    expect(app().tracing).toBeNull();
    const response = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json', traceparent: `00-${hex(16)}-${hex(8)}-01` },
      payload: { model: 'iris', features: iris(5.1) },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.traceresponse).toBeUndefined();
    const line = app().logs.lines.find((l) => l.msg === 'request');
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty('trace_id');
  });
});
