import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxServeClient, type InferInput } from '../../../src/client/index.js';
import { inferRequestBytes, OnnxServeGrpcClient, type OnnxServeGrpcError } from '../../../src/client/grpc.js';
import { tensorToBytes } from '../../../src/core/tensors/binary.js';
import type { Tensor } from '../../../src/core/tensors/tensor.js';
import { messageType } from '../../../src/protocols/grpc/proto.js';
import { appFor } from '../../helpers/app.js';
import { rawUnary, standardClients } from '../../helpers/grpc.js';
import { FIXTURE_MODELS } from '../../helpers/repository.js';

const INFER = '/inference.GRPCInferenceService/ModelInfer';

/** Every output's bytes as the binary form carries them: what "byte for byte" compares. */
const bytesOf = (outputs: Record<string, Tensor>) =>
  Object.fromEntries(
    Object.entries(outputs).map(([name, t]) => [name, [t.dtype, t.shape, Buffer.from(tensorToBytes(t))]]),
  );

const tensor = (dtype: Tensor['dtype'], shape: number[], data: Tensor['data']): Tensor => ({ dtype, shape, data });

const ALL_TYPES: InferInput[] = [
  { name: 'in_int8', tensor: tensor('int8', [1, 2], Int8Array.from([-128, 127])) },
  { name: 'in_uint8', tensor: tensor('uint8', [1, 2], Uint8Array.from([0, 255])) },
  { name: 'in_int16', tensor: tensor('int16', [1, 2], Int16Array.from([-32768, 32767])) },
  { name: 'in_uint16', tensor: tensor('uint16', [1, 2], Uint16Array.from([0, 65535])) },
  { name: 'in_int32', tensor: tensor('int32', [1, 2], Int32Array.from([-2147483648, 2147483647])) },
  { name: 'in_uint32', tensor: tensor('uint32', [1, 2], Uint32Array.from([0, 4294967295])) },
  { name: 'in_int64', tensor: tensor('int64', [1, 2], BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n])) },
  { name: 'in_uint64', tensor: tensor('uint64', [1, 2], BigUint64Array.from([0n, 2n ** 64n - 1n])) },
  { name: 'in_fp64', tensor: tensor('float64', [1, 2], Float64Array.from([Math.PI, -1e300])) },
  { name: 'in_fp16', tensor: tensor('float16', [1, 2], Uint16Array.from([0x7bff, 0xb800])) },
];

const STATEFUL: InferInput[] = [
  { name: 'audio', tensor: tensor('float32', [2, 3], Float32Array.from([0.1, -0.2, 0.3, 0.5, 0.5, 0.5])) },
  { name: 'sr', tensor: tensor('int64', [], BigInt64Array.from([16000n])) },
  {
    name: 'state',
    tensor: tensor(
      'float32',
      [2, 2, 4],
      Float32Array.from({ length: 16 }, (_, i) => Math.cos(i)),
    ),
  },
];

const WORDS: InferInput[] = [{ name: 'text', tensor: tensor('string', [4], ['cat', 'héllo wörld', '', 'mat']) }];

describe('OIP over gRPC on the fixture models: the same answers as REST, and errors as gRPC statuses', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS, BODY_LIMIT_BYTES: '65536', CACHE_ENABLED: 'false' });
  let rest: OnnxServeClient;
  let grpc: OnnxServeGrpcClient;
  let address: string;
  beforeAll(async () => {
    rest = new OnnxServeClient(await app().listen({ host: '127.0.0.1', port: 0 }));
    address = `127.0.0.1:${await app().grpc.listen('127.0.0.1', 0)}`;
    grpc = new OnnxServeGrpcClient(address);
  });
  afterAll(() => grpc.close());

  it('ServerLive, ServerReady, ServerMetadata, ModelReady and ModelMetadata say what the REST routes say', async () => {
    expect(await grpc.live()).toBe(true);
    expect(await grpc.ready()).toBe(true);
    const server = (await app().inject('/v2')).json();
    expect(await grpc.serverMetadata()).toEqual(server);
    expect(await grpc.modelReady('all_types')).toBe(true);
    expect(await grpc.modelReady('all_types', '1')).toBe(true);
    const metadata = (await app().inject('/v2/models/all_types')).json();
    expect(await grpc.modelMetadata('all_types')).toEqual(metadata);
    const missing = (await grpc.modelReady('no_such_model').catch((e: unknown) => e)) as OnnxServeGrpcError;
    expect([missing.grpcCode, missing.code]).toEqual([status.NOT_FOUND, 'MODEL_NOT_FOUND']);
    const version = (await grpc.modelMetadata('all_types', '1.0').catch((e: unknown) => e)) as OnnxServeGrpcError;
    expect([version.grpcCode, version.code, version.details[0]?.path]).toEqual([
      status.INVALID_ARGUMENT,
      'INVALID_REQUEST',
      'version',
    ]);
  });

  it('every datatype as raw_input_contents answers the bytes REST binary answers (int64 and uint64 over 2^53, FP16)', async () => {
    for (const [model, inputs] of [
      ['all_types', ALL_TYPES],
      ['stateful', STATEFUL],
      ['vocab', WORDS],
    ] as const) {
      const viaGrpc = await grpc.infer(model, [...inputs]);
      const viaRest = await rest.infer(model, [...inputs]);
      expect(bytesOf(viaGrpc.outputs)).toEqual(bytesOf(viaRest.outputs));
      expect(viaGrpc.model_name).toBe(model);
      expect(viaGrpc.parameters?.prediction_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(viaGrpc.parameters?.cached).toBe(false);
    }
    const echoed = await grpc.infer('all_types', ALL_TYPES, { id: 'req-7' });
    expect(echoed.id).toBe('req-7');
    expect(Array.from(echoed.outputs.out_uint64!.data as BigUint64Array)).toEqual([0n, 2n ** 64n - 1n]);
  });

  it('typed contents (fp32_contents, int64_contents, bytes_contents) answer as the same values sent raw', async () => {
    for (const [model, inputs] of [
      ['stateful', STATEFUL],
      ['vocab', WORDS],
    ] as const) {
      const typed = await grpc.infer(model, [...inputs], { typed: true });
      const raw = await grpc.infer(model, [...inputs]);
      expect(bytesOf(typed.outputs)).toEqual(bytesOf(raw.outputs));
    }
  });

  it('requested outputs and classification, as over REST', async () => {
    const viaGrpc = await grpc.infer('vocab', WORDS, { outputs: [{ name: 'ids' }] });
    expect(Object.keys(viaGrpc.outputs)).toEqual(['ids']);
    const top = await grpc.infer('vocab', WORDS, { outputs: [{ name: 'ids', classification: 2 }] });
    const restTop = await app().inject({
      method: 'POST',
      url: '/v2/models/vocab/infer',
      payload: {
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [4], data: ['cat', 'héllo wörld', '', 'mat'] }],
        outputs: [{ name: 'ids', parameters: { classification: 2 } }],
      },
    });
    expect(top.outputs.ids!.dtype).toBe('string');
    expect(top.outputs.ids!.data).toEqual(restTop.json().outputs[0].data);
    const refused = (await grpc
      .infer('vocab', WORDS, { outputs: [{ name: 'words', classification: 1 }] })
      .catch((e: unknown) => e)) as OnnxServeGrpcError;
    expect([refused.grpcCode, refused.code]).toEqual([status.INVALID_ARGUMENT, 'INVALID_REQUEST']);
  });

  it('bad input is INVALID_ARGUMENT with our code, the field, and every detail in trailing metadata', async () => {
    const cases: [InferInput[], string, string, status, string][] = [
      [
        [{ name: 'text', tensor: tensor('int32', [1], Int32Array.from([1])) }],
        'vocab',
        'INVALID_INPUT',
        status.INVALID_ARGUMENT,
        'inputs.text.datatype',
      ],
      [
        [{ name: 'nope', tensor: tensor('float32', [1], Float32Array.from([1])) }],
        'vocab',
        'INVALID_INPUT',
        status.INVALID_ARGUMENT,
        'inputs.nope',
      ],
      [WORDS, 'no_such_model', 'MODEL_NOT_FOUND', status.NOT_FOUND, ''],
    ];
    for (const [inputs, model, code, grpcCode, field] of cases) {
      const { error } = await rawUnary(address, INFER, Buffer.from(inferRequestBytes(model, inputs)));
      expect(error?.code).toBe(grpcCode);
      expect(error?.metadata.get('error-code')).toEqual([code]);
      if (field) expect(error?.metadata.get('error-field')).toEqual([field]);
      expect(error?.details).toMatch(new RegExp(`^${code}: `));
      const details = JSON.parse(String(error?.metadata.get('error-details-bin')[0] ?? '[]')) as { path: string }[];
      if (field) expect(details[0]?.path).toBe(field);
    }
  });

  it('a malformed message, a wrong raw count, typed values in the wrong field, and an oversize message are refused; the server serves on', async () => {
    const garbage = await rawUnary(address, INFER, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
    expect([garbage.error?.code, garbage.error?.metadata.get('error-code')[0]]).toEqual([
      status.INVALID_ARGUMENT,
      'INVALID_REQUEST',
    ]);

    const request = messageType('ModelInferRequest');
    const twoRaw = request
      .encode({
        model_name: 'vocab',
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [1] }],
        raw_input_contents: [Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0, 0, 0])],
      })
      .finish();
    const counted = await rawUnary(address, INFER, Buffer.from(twoRaw));
    expect(counted.error?.metadata.get('error-field')).toEqual(['raw_input_contents']);

    const stray = request
      .encode({
        model_name: 'stateful',
        inputs: [{ name: 'audio', datatype: 'FP32', shape: [1, 3], contents: { int_contents: [1, 2, 3] } }],
      })
      .finish();
    const wrongField = await rawUnary(address, INFER, Buffer.from(stray));
    expect(wrongField.error?.metadata.get('error-field')).toEqual(['inputs.audio.contents.int_contents']);
    expect(wrongField.error?.details).toContain('fp32_contents');

    const big = await rawUnary(address, INFER, Buffer.alloc(100_000, 1));
    expect(big.error?.code).toBe(status.RESOURCE_EXHAUSTED);

    expect(await grpc.live()).toBe(true);
    expect((await grpc.infer('vocab', WORDS)).outputs.ids).toBeDefined();
  });

  it('a cancelled call and a call past its deadline leave the server serving', async () => {
    const lost = await rawUnary(address, INFER, Buffer.from(inferRequestBytes('stateful', STATEFUL)), {
      deadlineMs: 1,
    });
    expect([status.DEADLINE_EXCEEDED, undefined]).toContain(lost.error?.code);
    const { Client, credentials, Metadata } = await import('@grpc/grpc-js');
    const client = new Client(address, credentials.createInsecure());
    const call = client.makeUnaryRequest(
      INFER,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(inferRequestBytes('stateful', STATEFUL)),
      new Metadata(),
      {},
      () => {},
    );
    call.cancel();
    client.close();
    const again = await grpc.infer('stateful', STATEFUL);
    expect(again.outputs.prob).toBeDefined();
  });

  it('ModelStreamInfer: 32 requests in flight on one call, each answer matched by id; a failed request answers error_message and the stream goes on', async () => {
    const stream = grpc.stream();
    const rows = Array.from({ length: 32 }, (_, i) => tensor('float32', [1, 3], Float32Array.from([i, i / 2, -i])));
    const scale = tensor('int64', [], BigInt64Array.from([3n]));
    const answers = await Promise.all([
      ...rows.map((x) =>
        stream.infer('mixer', [
          { name: 'x', tensor: x },
          { name: 'scale', tensor: scale },
        ]),
      ),
      stream.infer('mixer', [{ name: 'nope', tensor: scale }]).catch((e: OnnxServeGrpcError) => e),
    ]);
    const failed = answers.pop() as OnnxServeGrpcError;
    expect(failed.code).toBe('INVALID_INPUT');
    expect(failed.message).toMatch(/^INVALID_INPUT: /);
    for (const [i, answer] of answers.entries()) {
      const unary = await grpc.infer('mixer', [
        { name: 'x', tensor: rows[i]! },
        { name: 'scale', tensor: scale },
      ]);
      expect(bytesOf((answer as { outputs: Record<string, Tensor> }).outputs)).toEqual(bytesOf(unary.outputs));
    }
    const after = await stream.infer('mixer', [
      { name: 'x', tensor: rows[0]! },
      { name: 'scale', tensor: scale },
    ]);
    expect(after.outputs.total).toBeDefined();
    stream.close();
  });

  it('grpc.health.v1 says SERVING for "", the inference service and "live"; NOT_FOUND for a service it does not know; reflection lists the services', async () => {
    const { health, reflection } = standardClients(address);
    const check = (service: string) =>
      new Promise<{ status?: string; code?: number }>((resolve) =>
        (health.Check as (r: object, cb: (e: { code: number } | null, r?: { status: string }) => void) => void)(
          { service },
          (err, res) => resolve(err ? { code: err.code } : { status: res!.status }),
        ),
      );
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('inference.GRPCInferenceService')).toEqual({ status: 'SERVING' });
    expect(await check('live')).toEqual({ status: 'SERVING' });
    expect(await check('no.such.Service')).toEqual({ code: status.NOT_FOUND });
    const services = await new Promise<string[]>((resolve, reject) => {
      const call = (reflection.ServerReflectionInfo as () => NodeJS.ReadWriteStream & { write(o: object): void })();
      call.on('data', (res: { list_services_response?: { service: { name: string }[] } }) => {
        resolve(res.list_services_response!.service.map((s) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    expect(services).toEqual(expect.arrayContaining(['inference.GRPCInferenceService', 'grpc.health.v1.Health']));
    health.close();
    reflection.close();
  });

  it('gRPC calls are in /metrics (grpc_server_handled_total by method and code) and in the access log', async () => {
    await grpc.infer('vocab', WORDS);
    const metrics = (await app().inject('/metrics')).body;
    expect(metrics).toMatch(
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="inference.GRPCInferenceService",grpc_method="ModelInfer",grpc_code="OK"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /grpc_server_handled_total\{[^}]*grpc_method="ModelInfer",grpc_code="INVALID_ARGUMENT"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /grpc_server_msg_received_total\{grpc_type="bidi_stream",[^}]*grpc_method="ModelStreamInfer"\} (3[3-9]|[4-9]\d)/,
    );
    expect(metrics).toMatch(/grpc_server_handling_seconds_count\{[^}]*grpc_method="ServerLive"\} [1-9]/);
    const line = app().logs.lines.find((l) => l.msg === 'grpc call' && l.grpc === 'ModelInfer' && l.code === 'OK');
    expect(line).toMatchObject({ model: expect.any(String), ms: expect.any(Number) });
  });
});
