import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorStatus, type ErrorCode } from '../../src/errors.js';
import { messageType } from '../../src/protocols/grpc/proto.js';
import { grpcStatusOf } from '../../src/protocols/grpc/status.js';
import { appFor } from '../helpers/app.js';
import { FIXTURE_MODELS } from '../helpers/repository.js';

/**
 * The gRPC twin of fuzz.test.ts: ModelInferRequests built from arbitrary fields (models, names,
 * datatypes, shapes, raw bytes, typed contents of any field, parameters), and valid requests damaged
 * byte by byte. The property: every call ends OK or with the status our error code maps to, that code
 * in the `error-code` trailer; never INTERNAL or UNKNOWN; and the server answers a good call after.
 * Seeded as fuzz.test.ts (FUZZ_SEED, FUZZ_RUNS).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
const settings = { seed: SEED, numRuns: RUNS };
const TIMEOUT = Math.max(120_000, RUNS * 200);
const INFER = '/inference.GRPCInferenceService/ModelInfer';

const DATATYPES = [
  'BOOL',
  'UINT8',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'UINT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
  'BF16',
];
const CONTENT_FIELDS = ['bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents'];
const FLOAT_FIELDS = ['fp32_contents', 'fp64_contents'];

const tally = new Map<string, number>();

describe(`fuzzing gRPC ModelInfer (seed ${SEED}, ${RUNS} runs per property)`, () => {
  // A low offload threshold, so messages are decoded both on the main thread and on the decode worker.
  const app = appFor({
    MODEL_DIR: FIXTURE_MODELS,
    LOG_LEVEL: 'silent',
    JSON_OFFLOAD_BYTES: '400',
    BODY_LIMIT_BYTES: '65536',
    CACHE_ENABLED: 'false',
  });
  let client: Client;
  let models: string[];
  beforeAll(async () => {
    client = new Client(`127.0.0.1:${await app().grpc.listen('127.0.0.1', 0)}`, credentials.createInsecure());
    models = ((await app().inject('/models')).json().models as { name: string }[]).map((m) => m.name);
  });
  afterAll(() => {
    client.close();
    const rows = [...tally.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`);
    console.log(`grpc fuzz, seed ${SEED}\n${rows.join('\n')}`);
  });

  const call = (body: Uint8Array) =>
    new Promise<ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        INFER,
        (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        (b: Buffer) => b,
        body,
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (error) => resolve(error),
      ),
    );

  /** OK, or the status our code maps to, with that code in the trailer. */
  const expectOurAnswer = async (body: Uint8Array) => {
    const error = await call(body);
    const code = error?.metadata.get('error-code')[0] as ErrorCode | undefined;
    const key = error ? `${status[error.code]} ${code ?? '(no error-code)'}` : 'OK';
    tally.set(key, (tally.get(key) ?? 0) + 1);
    if (!error) return;
    expect(code, error.details).toBeDefined();
    expect(Object.keys(errorStatus), error.details).toContain(code);
    expect(error.code, error.details).toBe(grpcStatusOf(code!));
    expect([status.INTERNAL, status.UNKNOWN], error.details).not.toContain(error.code);
  };

  const encode = (request: object) => messageType('ModelInferRequest').encode(request).finish();

  const contents = fc.oneof(
    fc.record({ field: fc.constantFrom(...CONTENT_FIELDS), values: fc.array(fc.integer(), { maxLength: 40 }) }),
    fc.record({
      field: fc.constantFrom(...FLOAT_FIELDS),
      values: fc.array(fc.double({ noNaN: false }), { maxLength: 40 }),
    }),
    fc.record({
      field: fc.constant('bytes_contents'),
      values: fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 8 }),
    }),
  );
  const input = fc.record({
    name: fc.oneof(fc.constantFrom('input', 'x', 'scale', 'text', 'audio', 'state', 'sr'), fc.string({ maxLength: 8 })),
    datatype: fc.oneof(fc.constantFrom(...DATATYPES), fc.string({ maxLength: 6 })),
    shape: fc.array(fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constant(1)), { maxLength: 5 }),
    contents: fc.option(contents, { nil: undefined }),
  });
  const requests = fc
    .record({
      model: fc.oneof(
        fc.constantFrom('all_types', 'mixer', 'vocab', 'stateful', 'fixed_pair'),
        fc.string({ maxLength: 10 }),
      ),
      version: fc.constantFrom('', '1', '2', '01', 'x'),
      inputs: fc.array(input, { maxLength: 4 }),
      raw: fc.option(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 4 }), { nil: undefined }),
      outputs: fc.array(
        fc.record({ name: fc.string({ maxLength: 6 }), classification: fc.integer({ min: -1, max: 4 }) }),
        {
          maxLength: 2,
        },
      ),
      timeout: fc.option(fc.integer({ min: -5, max: 10_000_000 }), { nil: undefined }),
    })
    .map((r) =>
      encode({
        model_name: r.model,
        model_version: r.version,
        ...(r.timeout !== undefined ? { parameters: { timeout: { int64_param: r.timeout } } } : {}),
        inputs: r.inputs.map((i) => ({
          name: i.name,
          datatype: i.datatype,
          shape: i.shape,
          ...(i.contents ? { contents: { [i.contents.field]: i.contents.values } } : {}),
        })),
        outputs: r.outputs.map((o) => ({
          name: o.name,
          parameters: { classification: { int64_param: o.classification } },
        })),
        raw_input_contents: r.raw ?? [],
      }),
    );

  it('ModelInferRequests of arbitrary fields', { timeout: TIMEOUT }, async () => {
    await fc.assert(fc.asyncProperty(requests, expectOurAnswer), settings);
    expect(models).toContain('all_types');
  });

  it('valid requests damaged: bytes flipped, cut, or inserted', { timeout: TIMEOUT }, async () => {
    const good = encode({
      model_name: 'mixer',
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [2, 3] },
        { name: 'scale', datatype: 'INT64', shape: [] },
      ],
      raw_input_contents: [new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer), new Uint8Array(8)],
    });
    expect(await call(good)).toBeNull();
    const damaged = fc.oneof(
      fc
        .array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 })
        .map((flips) => {
          const bytes = Uint8Array.from(good);
          for (const [at, value] of flips) bytes[at] = value;
          return bytes;
        }),
      fc.nat(good.length - 1).map((n) => good.subarray(0, n)),
      fc
        .tuple(fc.nat(good.length), fc.uint8Array({ minLength: 1, maxLength: 16 }))
        .map(([at, extra]) => Uint8Array.from([...good.subarray(0, at), ...extra, ...good.subarray(at)])),
    );
    await fc.assert(fc.asyncProperty(damaged, expectOurAnswer), settings);
    // Still serving
    expect(await call(good)).toBeNull();
  });
});
