import { beforeAll, describe, expect, it } from 'vitest';
import {
  OnnxServeClient,
  OnnxServeError,
  type DType,
  type ExperimentAnswer,
  type InferResult,
  type PredictResponse,
  type TensorData,
} from '../../src/client/index.js';
import { appFor } from '../helpers/app.js';
import { FIXTURE_MODELS } from '../helpers/repository.js';
import { IRIS_ROW, irisSplitRepository, keyFor } from '../helpers/traffic.js';

const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

/** The exported client against the real service, listening on a real port, bundled models. */
describe('OnnxServeClient', () => {
  const app = appFor({ CACHE_ENABLED: 'false' });
  let client: OnnxServeClient;
  beforeAll(async () => {
    client = new OnnxServeClient(await app().listen({ host: '127.0.0.1', port: 0 }));
  });

  it('ready() reads /ready', async () => {
    expect(await client.ready()).toBe(true);
  });

  it('predict(), predictMany() and predictTensor() give the same answer for the same row', async () => {
    const one = await client.predict('iris', setosa);
    expect(one).toMatchObject({ model: 'iris', version: '1', label: 'setosa' });
    const many = await client.predictMany('iris', [setosa, [6.7, 3.0, 5.2, 2.3]]);
    expect(many.predictions!.map((p) => p.label)).toEqual(['setosa', 'virginica']);
    const tensor = await client.predictTensor('iris', {
      dtype: 'float32',
      shape: [1, 4],
      data: new Float32Array([5.1, 3.5, 1.4, 0.2]),
    });
    expect(tensor.predictions![0]!.probabilities).toEqual(one.probabilities);
  });

  it('infer() sends binary tensor data or JSON, and decodes the outputs either way', async () => {
    const input = {
      name: 'input',
      tensor: {
        dtype: 'float32' as const,
        shape: [2, 4],
        data: new Float32Array([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]),
      },
    };
    const binary = await client.infer('iris', [input]);
    const json = await client.infer('iris', [input], { binary: false });
    expect(binary.model_name).toBe('iris');
    expect(binary.outputs.probabilities!.shape).toEqual([2, 3]);
    expect(binary.outputs.probabilities!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(binary.outputs.probabilities!.data as Float32Array)).toEqual(
      Array.from(json.outputs.probabilities!.data as Float32Array),
    );
    const predicted = await client.predictMany('iris', [
      Array.from(input.tensor.data.subarray(0, 4)),
      Array.from(input.tensor.data.subarray(4)),
    ]);
    expect(Array.from(binary.outputs.probabilities!.data as Float32Array).slice(0, 3)).toEqual(
      Object.values(predicted.predictions![0]!.probabilities!).map((p) => Math.fround(p)),
    );
  });

  it('feedback() joins the ground truth to a prediction', async () => {
    const { id } = await client.predict('iris', setosa);
    expect(await client.feedback(id, { label: 'setosa' })).toMatchObject({ id, correct: true });
  });

  it("throws OnnxServeError with the service's code, message and the field that was wrong", async () => {
    const wrong = await client.predict('iris', { ...setosa, sepal_length: 99 }).catch((err: unknown) => err);
    expect(wrong).toBeInstanceOf(OnnxServeError);
    expect(wrong).toMatchObject({ status: 400, code: 'INVALID_INPUT' });
    expect((wrong as OnnxServeError).details[0]!.path).toContain('sepal_length');
    await expect(client.predict('nope', setosa)).rejects.toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND' });
    await expect(
      client.infer('iris', [{ name: 'input', tensor: { dtype: 'float64', shape: [1, 4], data: new Float64Array(4) } }]),
    ).rejects.toMatchObject({ status: 400, code: 'INVALID_INPUT' });
    const { id } = await client.predict('iris', setosa);
    await client.feedback(id, { label: 'setosa' });
    await expect(client.feedback(id, { label: 'setosa' })).rejects.toMatchObject({
      status: 409,
      code: 'DUPLICATE_FEEDBACK',
    });
  });

  it('an answer not in the service shape (a proxy, a wrong URL) is HTTP_ERROR', async () => {
    const elsewhere = new OnnxServeClient('http://127.0.0.1:9', { timeoutMs: 2000 });
    await expect(elsewhere.ready()).rejects.toThrow();
    const proxy = new OnnxServeClient('http://proxy.invalid', {
      fetch: async () => new Response('<html>bad gateway</html>', { status: 502 }),
    });
    await expect(proxy.predict('iris', setosa)).rejects.toMatchObject({ status: 502, code: 'HTTP_ERROR' });
  });
});

describe('OnnxServeClient on the fixture models: every dtype, binary and JSON', () => {
  const app = appFor({ MODEL_DIR: FIXTURE_MODELS, CACHE_ENABLED: 'false' });
  let client: OnnxServeClient;
  beforeAll(async () => {
    client = new OnnxServeClient(await app().listen({ host: '127.0.0.1', port: 0 }));
  });

  it('round-trips every integer dtype, FP64 and FP16 as binary data (all_types returns its inputs)', async () => {
    const values = [-2, 3, 1, 0];
    const tensors: Record<string, { dtype: DType; data: TensorData }> = {
      int8: { dtype: 'int8', data: Int8Array.from(values) },
      uint8: { dtype: 'uint8', data: Uint8Array.from(values, Math.abs) },
      int16: { dtype: 'int16', data: Int16Array.from(values) },
      uint16: { dtype: 'uint16', data: Uint16Array.from(values, Math.abs) },
      int32: { dtype: 'int32', data: Int32Array.from(values) },
      uint32: { dtype: 'uint32', data: Uint32Array.from(values, Math.abs) },
      int64: { dtype: 'int64', data: BigInt64Array.from([-(2n ** 60n), 2n ** 53n + 1n, 0n, 7n]) },
      uint64: { dtype: 'uint64', data: BigUint64Array.from([2n ** 63n + 5n, 1n, 0n, 9n]) },
      fp64: { dtype: 'float64', data: Float64Array.from([0.1, -1e300, 5e-324, 2]) },
      fp16: { dtype: 'float16', data: Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7bff]) },
    };
    const inputs = Object.entries(tensors).map(([n, t]) => ({ name: `in_${n}`, tensor: { ...t, shape: [2, 2] } }));
    const { outputs } = await client.infer('all_types', inputs);
    for (const [n, t] of Object.entries(tensors)) {
      expect(outputs[`out_${n}`], n).toEqual({ dtype: t.dtype, shape: [2, 2], data: t.data });
    }
  });

  it('round-trips BYTES in and out, binary and JSON alike', async () => {
    const text = { name: 'text', tensor: { dtype: 'string' as const, shape: [3], data: ['cat', 'dog', 'mat'] } };
    for (const binary of [true, false]) {
      const { outputs } = await client.infer('vocab', [text], { binary });
      expect(outputs.words, `binary ${binary}`).toEqual({ dtype: 'string', shape: [3], data: ['cat', 'dog', 'mat'] });
      expect(Array.from(outputs.ids!.data as BigInt64Array), `binary ${binary}`).toEqual([1n, -1n, 4n]);
    }
  });
});

describe('OnnxServeClient on a model with a traffic split: routingKey', () => {
  const repo = irisSplitRepository();
  const app = appFor({ CACHE_ENABLED: 'false' }, repo);
  let client: OnnxServeClient;
  beforeAll(async () => {
    client = new OnnxServeClient(await app().listen({ host: '127.0.0.1', port: 0 }));
  });

  it('sends X-Routing-Key: every call with one key lands on its variant, and the answers name it (typed)', async () => {
    const input = [
      { name: 'input', tensor: { dtype: 'float32' as const, shape: [1, 4], data: new Float32Array(IRIS_ROW) } },
    ];
    for (const [variant, version] of [
      ['stable', '1'],
      ['canary', '2'],
    ] as const) {
      const routingKey = keyFor(app(), 'iris', variant);
      for (let i = 0; i < 5; i++) {
        const answer: PredictResponse = await client.predict('iris', setosa, { routingKey });
        const variantServed: string | undefined = answer.variant;
        expect([variantServed, answer.version]).toEqual([variant, version]);
        expect((await client.predictMany('iris', [IRIS_ROW], { routingKey })).variant).toBe(variant);
        expect((await client.predictTensor('iris', input[0]!.tensor, { routingKey })).variant).toBe(variant);
        const inferred: InferResult = await client.infer('iris', input, { routingKey });
        const inferVariant: string | undefined = inferred.parameters?.variant;
        expect([inferVariant, inferred.model_version]).toEqual([variant, version]);
        expect((await client.infer('iris', input, { routingKey, binary: false })).parameters?.variant).toBe(variant);
      }
    }
    // a named version bypasses the split: no variant
    expect(
      (await client.predict('iris', setosa, { version: 1, routingKey: keyFor(app(), 'iris', 'canary') })).variant,
    ).toBeUndefined();
  });

  it('sends a routing key outside Latin-1 as UTF-8: it lands where the same key in the body lands', async () => {
    const keys = [...Array.from({ length: 12 }, (_, i) => ['usér', '日本', 'Ωmega'][i % 3]! + i), 'ü'.repeat(256)];
    for (const key of keys) {
      const expected = app().router.route('iris', undefined, key).variant;
      expect((await client.predict('iris', setosa, { routingKey: key })).variant, key).toBe(expected);
    }
    expect(new Set(keys.map((key) => app().router.route('iris', undefined, key).variant)).size).toBe(2); // the keys cover both variants, so a wrong decoding would show
  });

  it("experiment() reads the split's results: the requests each variant served, and the codes of a model without one", async () => {
    const canaryKey = keyFor(app(), 'iris', 'canary');
    const before = await client.experiment('iris');
    const served = (answer: ExperimentAnswer, name: string) => answer.variants.find((v) => v.name === name)!.requests;
    for (let i = 0; i < 3; i++) await client.predict('iris', setosa, { routingKey: canaryKey });
    const after = await client.experiment('iris');
    expect([after.model, after.control]).toEqual(['iris', 'stable']);
    expect(served(after, 'canary') - served(before, 'canary')).toBe(3);
    expect(served(after, 'stable')).toBe(served(before, 'stable'));
    await expect(client.experiment('nope')).rejects.toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND' });
  });
});
