import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxServeGrpcClient, type OnnxServeGrpcError } from '../../../src/client/grpc.js';
import { appFor } from '../../helpers/app.js';
import { attributesOf, OtlpReceiver, SPAN_KIND_SERVER, STATUS_ERROR } from '../../helpers/otlp-receiver.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const row = (first: number) => [
  {
    name: 'input',
    tensor: { dtype: 'float32' as const, shape: [1, 4], data: Float32Array.from([first, 3.5, 1.4, 0.2]) },
  },
];

/** The gRPC twin of the tracing test: traceparent read from the call's metadata, spans to a real OTLP receiver. */
describe('gRPC calls traced: the caller traceparent in metadata parents the server span', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterAll(() => receiver?.close());
  const app = appFor(() => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: 'onnx-serve-under-test',
    CACHE_ENABLED: 'false',
  }));
  let port: Promise<number> | undefined;
  const call = async (traceId: string, caller: string) => {
    port ??= app().grpc.listen('127.0.0.1', 0);
    const metadata = { traceparent: `00-${traceId}-${caller}-01` };
    return new OnnxServeGrpcClient(`127.0.0.1:${await port}`, { metadata });
  };
  const spansOf = async (traceId: string) => {
    await app().tracing!.flush();
    return receiver.trace(traceId);
  };

  it('ModelInfer: one server span under the caller, its steps under it, its trace id in the log line', async () => {
    const [traceId, caller] = [hex(16), hex(8)];
    const grpc = await call(traceId, caller);
    await grpc.infer('iris', row(5.1));
    grpc.close();
    const spans = await spansOf(traceId);
    const server = spans.filter((s) => s.kind === SPAN_KIND_SERVER);
    expect(server).toHaveLength(1);
    expect(server[0]!.parentSpanId).toBe(caller);
    expect(server[0]!.name).toBe('POST /inference.GRPCInferenceService/ModelInfer');
    expect(attributesOf(server[0]!.attributes)).toMatchObject({
      'onnx_serve.model.name': 'iris',
      'onnx_serve.rows': 1,
    });
    const children = spans.filter((s) => s.parentSpanId === server[0]!.spanId).map((s) => s.name);
    expect(children).toEqual(expect.arrayContaining(['validate', 'inference']));
    const line = app().logs.lines.find((l) => l.msg === 'grpc call' && l.trace_id === traceId);
    expect(line).toMatchObject({ grpc: 'ModelInfer', model: 'iris', code: 'OK' });
  });

  it('a refused call ends its span in error, with our code', async () => {
    const [traceId, caller] = [hex(16), hex(8)];
    const grpc = await call(traceId, caller);
    const error = (await grpc.infer('iris', row(99)).catch((e: unknown) => e)) as OnnxServeGrpcError;
    grpc.close();
    expect(error.code).toBe('INVALID_INPUT');
    const [server] = (await spansOf(traceId)).filter((s) => s.kind === SPAN_KIND_SERVER);
    expect(server?.parentSpanId).toBe(caller);
    expect(server?.status?.code).toBe(STATUS_ERROR);
  });
});
