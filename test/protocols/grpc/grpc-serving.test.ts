import { readFileSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxServeClient } from '../../../src/client/index.js';
import { inferRequestBytes, OnnxServeGrpcClient, type OnnxServeGrpcError } from '../../../src/client/grpc.js';
import type { Tensor } from '../../../src/core/tensors/tensor.js';
import { OnnxRuntime } from '../../../src/runtime/onnx-runtime.js';
import { appFor, startApp, type TestApp } from '../../helpers/app.js';
import { rawUnary } from '../../helpers/grpc.js';
import { HeldRuntime } from '../../helpers/held-runtime.js';
import { FIXTURE_MODELS } from '../../helpers/repository.js';

const INFER = '/inference.GRPCInferenceService/ModelInfer';
const rowsOf = (n: number): Tensor => ({
  dtype: 'float32',
  shape: [n, 3],
  data: Float32Array.from({ length: n * 3 }, (_, i) => i % 5),
});
const scale: Tensor = { dtype: 'int64', shape: [], data: BigInt64Array.from([2n]) };
const mixer = (n: number) => [
  { name: 'x', tensor: rowsOf(n) },
  { name: 'scale', tensor: scale },
];

describe('OIP over gRPC on the bundled models: labels, texts and images as BYTES, the cache', () => {
  const app = appFor({});
  let rest: OnnxServeClient;
  let grpc: OnnxServeGrpcClient;
  beforeAll(async () => {
    rest = new OnnxServeClient(await app().listen({ host: '127.0.0.1', port: 0 }));
    grpc = new OnnxServeGrpcClient(`127.0.0.1:${await app().grpc.listen('127.0.0.1', 0)}`);
  });
  afterAll(() => grpc.close());

  it('classification names the labels from model.json; a repeat comes from the cache (parameters.cached)', async () => {
    const x: Tensor = { dtype: 'float32', shape: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) };
    const outputs = [{ name: 'probabilities', classification: 1 }];
    const first = await grpc.infer('iris', [{ name: 'input', tensor: x }], { outputs });
    expect(first.outputs.probabilities!.data[0]).toMatch(/^0\.9\d*:0:setosa$/);
    const again = await grpc.infer('iris', [{ name: 'input', tensor: x }], { outputs });
    expect(again.parameters?.cached).toBe(true);
    expect(again.parameters?.prediction_id).not.toBe(first.parameters?.prediction_id);
  });

  it('a text (UTF-8 BYTES) and an encoded image (BYTES) are preprocessed as the model declares, as over REST', async () => {
    const text: Tensor = {
      dtype: 'string',
      shape: [2],
      data: ['the senate passed the budget bill', 'compilers and 🖥️ kernels'],
    };
    const viaGrpc = await grpc.infer('topics', [{ name: 'text', tensor: text }]);
    const viaRest = await rest.infer('topics', [{ name: 'text', tensor: text }]);
    expect(viaGrpc.outputs).toEqual(viaRest.outputs);
    const png = readFileSync(new URL('../../../examples/digits/digit_3.png', import.meta.url));
    // A BYTES element may be raw bytes (the PNG file), as bytes_contents or raw_input_contents carry it
    const image = { dtype: 'string', shape: [1], data: [png] } as unknown as Tensor;
    const answer = await grpc.infer('digits', [{ name: 'input', tensor: image }]);
    const typed = await grpc.infer('digits', [{ name: 'input', tensor: image }], { typed: true });
    expect(typed.outputs).toEqual(answer.outputs);
    const probabilities = Array.from(answer.outputs.probabilities!.data as Float32Array);
    expect(probabilities.indexOf(Math.max(...probabilities))).toBe(3);
  });
});

describe('gRPC with inference held: the in-flight caps count gRPC messages; the client deadline is the request deadline', () => {
  const runtime = new HeldRuntime(
    new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 }),
  );
  const app = appFor(
    { MODEL_DIR: FIXTURE_MODELS, MAX_INFLIGHT_BYTES: '2048', BODY_LIMIT_BYTES: '2048', CACHE_ENABLED: 'false' },
    undefined,
    { runtime },
  );
  let address: string;
  let grpc: OnnxServeGrpcClient;
  beforeAll(async () => {
    address = `127.0.0.1:${await app().grpc.listen('127.0.0.1', 0)}`;
    grpc = new OnnxServeGrpcClient(address);
  });
  afterAll(() => grpc.close());

  it('a message past MAX_INFLIGHT_BYTES while another is held is RESOURCE_EXHAUSTED (SERVER_BUSY, retry-after); its share comes back after', async () => {
    runtime.hold();
    const held = grpc.infer('mixer', mixer(100)); // ~1.3 kB of the 2 kB cap
    await expect.poll(() => runtime.waiting).toBe(1);
    const { error } = await rawUnary(address, INFER, Buffer.from(inferRequestBytes('mixer', mixer(100))));
    expect([error?.code, error?.metadata.get('error-code')[0], error?.metadata.get('retry-after')[0]]).toEqual([
      status.RESOURCE_EXHAUSTED,
      'SERVER_BUSY',
      '1',
    ]);
    runtime.release();
    expect((await held).outputs.total!.shape).toEqual([100]);
    expect((await grpc.infer('mixer', mixer(100))).outputs.total).toBeDefined();
  });

  it('a call whose deadline passes while its inference is queued is DEADLINE_EXCEEDED, and the server logs it so', async () => {
    runtime.hold();
    const held = grpc.infer('mixer', mixer(1));
    await expect.poll(() => runtime.waiting).toBe(1);
    // 1 s: time for the call to reach the handler on a busy machine (a call that arrives past its
    // deadline is refused by grpc-js before any handler, and logs nothing).
    const late = new OnnxServeGrpcClient(address, { timeoutMs: 1000 });
    const error = (await late.infer('mixer', mixer(2)).catch((e: unknown) => e)) as OnnxServeGrpcError;
    expect(error.grpcCode).toBe(status.DEADLINE_EXCEEDED);
    runtime.release();
    await held;
    late.close();
    // The server logged the call as past its deadline (or cancelled by it), not as answered
    await expect
      .poll(
        () =>
          app().logs.lines.filter(
            (l) =>
              l.msg === 'grpc call' &&
              l.model === 'mixer' &&
              ['DEADLINE_EXCEEDED', 'CANCELLED'].includes(l.code as string),
          ).length,
        { timeout: 3000 },
      )
      .toBeGreaterThan(0);
  });
});

describe('gRPC on shutdown: calls in flight finish, the health service turns NOT_SERVING', () => {
  let app: TestApp;
  const runtime = new HeldRuntime(
    new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 }),
  );
  it('app.close() waits for a held ModelInfer and a stream, which answer OK; new calls are refused', async () => {
    app = await startApp(
      { MODEL_DIR: FIXTURE_MODELS, CACHE_ENABLED: 'false', SHUTDOWN_TIMEOUT_MS: '5000' },
      { runtime },
    );
    const address = `127.0.0.1:${await app.grpc.listen('127.0.0.1', 0)}`;
    const grpc = new OnnxServeGrpcClient(address);
    runtime.hold();
    const unary = grpc.infer('mixer', mixer(3));
    const stream = grpc.stream();
    const words: Tensor = { dtype: 'string', shape: [2], data: ['cat', 'mat'] };
    const streamed = stream.infer('vocab', [{ name: 'text', tensor: words }]);
    // One worker: the second run waits for the first to pass the gate
    await expect.poll(() => runtime.waiting).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    const closed = app.close();
    await new Promise((r) => setTimeout(r, 100));
    const refused = (await new OnnxServeGrpcClient(address, { timeoutMs: 1000 })
      .live()
      .catch((e: unknown) => e)) as OnnxServeGrpcError;
    expect(refused.grpcCode).toBeDefined();
    runtime.release();
    expect((await unary).outputs.total!.shape).toEqual([3]);
    expect((await streamed).outputs.ids!.shape).toEqual([2]);
    stream.close();
    await closed;
    grpc.close();
  });
});
