import { describe, expect, it } from 'vitest';
import { cacheKeys } from '../../../src/core/cache/cache-key.js';
import { PredictionCache, type CacheObserver } from '../../../src/core/cache/prediction-cache.js';
import { expectedOutputs } from '../../../src/core/cache/expected-outputs.js';
import { decodeStored, encodeStored } from '../../../src/core/cache/stored-outputs.js';
import { ValueSigner } from '../../../src/core/cache/value-signer.js';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { buildModelSpec, type TensorInfo } from '../../../src/core/models/model-spec.js';
import { planBatching } from '../../../src/core/models/batch-plan.js';
import type { DType } from '../../../src/core/tensors/dtypes.js';
import type { NamedTensors } from '../../../src/core/tensors/tensor.js';

const spec = (over: { version?: string; sha256?: string; inputs?: TensorInfo[] } = {}) =>
  buildModelSpec(
    { name: 'm', version: over.version ?? '1', path: '/m', sha256: over.sha256 ?? 'a'.repeat(64) },
    modelConfigSchema.parse({}),
    {
      inputs: over.inputs ?? [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }],
    },
    'strict',
  );
/** The keys of a request, per row where the model has a batch dim. */
const keysOf = (s: ReturnType<typeof spec>, tensors: NamedTensors, rows: number, fetch = ['y']) =>
  cacheKeys(s, planBatching(s.inputs, s.outputs), tensors, rows, fetch);
const x = (values: number[], shape = [1, 4], dtype: DType = 'float32') => ({
  x: {
    dtype,
    shape,
    data: dtype === 'int32' ? new Int32Array(new Float32Array(values).buffer) : new Float32Array(values),
  },
});

const lookups: string[] = [];
const observer: CacheObserver = { cacheLookup: (tier, result, n) => lookups.push(`${tier}:${result}:${n}`) };
const outputs: NamedTensors = { y: { dtype: 'float32', shape: [1, 1], data: new Float32Array([0.5]) } };
/** The model version every lookup below is for: entries per row of `y`, float32 [1, 1]. */
const source = { spec: spec(), plan: planBatching(spec().inputs, spec().outputs) };
const look = (cache: PredictionCache, keys: string[]) => cache.lookup(keys, source, ['y']);
const signer = new ValueSigner(Buffer.from('a test key of at least thirty-two characters'));

describe('cache keys', () => {
  const base = keysOf(spec(), x([1, 2, 3, 4]), 1)[0]!;

  it('are stable for the same row and model', () => {
    expect(keysOf(spec(), x([1, 2, 3, 4]), 1)).toEqual([base]);
  });

  it('differ for another shape, dtype, version, ONNX file, value or set of outputs', () => {
    const others = [
      keysOf(
        spec({ inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 2, 2] }] }),
        x([1, 2, 3, 4], [1, 2, 2]),
        1,
      )[0],
      keysOf(
        spec({ inputs: [{ name: 'x', dtype: 'int32', shape: ['batch', 4] }] }),
        x([1, 2, 3, 4], [1, 4], 'int32'),
        1,
      )[0], // the same bytes read as int32
      keysOf(spec({ version: '2' }), x([1, 2, 3, 4]), 1)[0],
      keysOf(spec({ sha256: 'b'.repeat(64) }), x([1, 2, 3, 4]), 1)[0],
      keysOf(spec(), x([1, 2, 3, 4.0001]), 1)[0],
      keysOf(spec(), x([1, 2, 3, 4]), 1, [])[0],
    ];
    expect(new Set([base, ...others]).size).toBe(7);
  });

  it('hold small rows exactly (their bytes) and hash large ones', () => {
    expect(base.endsWith(`=${Buffer.from(new Float32Array([1, 2, 3, 4]).buffer).toString('base64')}|`)).toBe(true);
    const wide = spec({ inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 64] }] });
    const [key] = keysOf(
      wide,
      x(
        Array.from({ length: 64 }, (_, i) => i),
        [1, 64],
      ),
      1,
    );
    expect(key).toMatch(/#[A-Za-z0-9_-]{43}\|$/);
  });

  it('are one per row along the batch axis, wherever it is, and cover shared inputs', () => {
    const stateful = spec({
      inputs: [
        { name: 'state', dtype: 'float32', shape: [2, 'batch', 1] },
        { name: 'rate', dtype: 'int64', shape: [] },
      ],
    });
    const request = (rate: bigint) => ({
      state: { dtype: 'float32' as const, shape: [2, 3, 1], data: new Float32Array([1, 2, 3, 10, 20, 30]) },
      rate: { dtype: 'int64' as const, shape: [], data: new BigInt64Array([rate]) },
    });
    const keys = keysOf(stateful, request(16000n), 3);
    expect(new Set(keys).size).toBe(3);
    // row 1 alone (state [2] and [20]) gets the key it had inside the batch of three
    const row1 = {
      ...request(16000n),
      state: { dtype: 'float32' as const, shape: [2, 1, 1], data: new Float32Array([2, 20]) },
    };
    expect(keysOf(stateful, row1, 1)).toEqual([keys[1]]);
    expect(keysOf(stateful, request(8000n), 3)[1]).not.toBe(keys[1]);
  });
});

describe('PredictionCache L1', () => {
  it('expires entries after the TTL, on an injected clock', async () => {
    let now = 1_000;
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60, now: () => now }, observer);
    cache.set('k', outputs);
    expect(await look(cache, ['k'])).toEqual([outputs]);
    now += 59_000;
    expect(await look(cache, ['k'])).toEqual([outputs]);
    now += 2_000;
    expect(await look(cache, ['k'])).toEqual([undefined]);
  });

  it('is bounded by entries and by bytes', async () => {
    const byCount = new PredictionCache({ maxEntries: 2, maxBytes: 1e6, ttlSeconds: 60 }, observer);
    ['a', 'b', 'c'].forEach((k) => byCount.set(k, outputs));
    expect(byCount.entries).toBe(2);
    expect(await look(byCount, ['a'])).toEqual([undefined]);

    const big: NamedTensors = { y: { dtype: 'float64', shape: [1, 1000], data: new Float64Array(1000).fill(1) } };
    const byBytes = new PredictionCache({ maxEntries: 1000, maxBytes: 20_000, ttlSeconds: 60 }, observer);
    ['a', 'b', 'c', 'd'].forEach((k) => byBytes.set(k, big));
    expect(byBytes.bytes).toBeLessThanOrEqual(20_000);
    expect(byBytes.entries).toBe(2);
  });

  it('never caches non-finite results', () => {
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60 }, observer);
    cache.set('nan', { y: { dtype: 'float32', shape: [1], data: new Float32Array([Number.NaN]) } });
    cache.set('inf', { y: { dtype: 'float64', shape: [1], data: new Float64Array([Infinity]) } });
    cache.set('half-inf', { y: { dtype: 'float16', shape: [1], data: new Uint16Array([0x7c00]) } });
    expect(cache.entries).toBe(0);
  });

  it('asks the shared tier for L1 misses only, and stays synchronous while the shared tier turns calls away', async () => {
    const asked: string[][] = [];
    let open = false;
    const store = {
      getMany: (keys: string[]) => (
        asked.push(keys),
        open ? undefined : Promise.resolve(keys.map((k) => (k === 'r' ? encodeStored(signer, 'r', outputs) : null)))
      ),
      set: () => {},
    };
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60 }, observer, {
      store,
      signer,
      refused: () => {},
    });
    cache.set('l', outputs);
    const found = look(cache, ['l', 'r', 'x']);
    expect(found).toBeInstanceOf(Promise);
    expect(await found).toEqual([outputs, outputs, undefined]);
    expect(asked).toEqual([['r', 'x']]);

    open = true;
    expect(look(cache, ['l', 'y'])).toEqual([outputs, undefined]); // an array, not a promise
    expect(lookups.slice(-3)).toEqual(['l1:hit:1', 'l1:miss:1', 'l2:miss:1']);
  });

  it('counts a value it does not use as rejected, corrupt or (another version) a miss, reports why, and never copies it into L1', async () => {
    const forged = new ValueSigner(Buffer.from('a forger key of at least thirty-two characters'));
    const wide: NamedTensors = { y: { dtype: 'float32', shape: [1, 2], data: new Float32Array([0.5, 0.5]) } };
    const values: Record<string, string | null> = {
      unsigned: JSON.stringify({ v: 3, mac: 'A'.repeat(43), outputs: {} }),
      forged: encodeStored(forged, 'forged', outputs),
      moved: encodeStored(signer, 'elsewhere', outputs),
      misfit: encodeStored(signer, 'misfit', wide),
      garbage: 'garbage',
      old: JSON.stringify({ v: 2, key: 'old', outputs: {} }),
      good: encodeStored(signer, 'good', outputs),
    };
    const refused: string[] = [];
    const store = { getMany: (keys: string[]) => Promise.resolve(keys.map((k) => values[k] ?? null)), set: () => {} };
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60 }, observer, {
      store,
      signer,
      refused: (model, result, why) => refused.push(`${model} ${result}: ${why}`),
    });
    const keys = Object.keys(values);
    expect(await look(cache, keys)).toEqual([...keys.slice(0, -1).map(() => undefined), outputs]);
    expect(lookups.slice(-4)).toEqual(['l2:hit:1', 'l2:corrupt:1', 'l2:rejected:4', 'l2:miss:1']); // 'old' is another format version
    expect(refused).toEqual([
      'm@1 rejected: signature does not match',
      'm@1 rejected: signature does not match',
      'm@1 rejected: signature does not match',
      'm@1 rejected: output "y": dim 1 is not 1',
      'm@1 corrupt: not a cache entry',
    ]);
    expect(cache.entries).toBe(1); // the verified one alone
    for (const key of keys.slice(0, -1)) values[key] = null; // gone from Redis: each is a miss again, nothing kept it
    expect(await look(cache, keys)).toEqual([...keys.slice(0, -1).map(() => undefined), outputs]);
    expect(lookups.at(-1)).toBe('l2:miss:6');
  });
});

describe('stored values', () => {
  const rich = buildModelSpec(
    { name: 'm', version: '1', path: '/m', sha256: 'a'.repeat(64) },
    modelConfigSchema.parse({}),
    {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [
        { name: 'y', dtype: 'float32', shape: ['batch', 1] },
        { name: 'ids', dtype: 'int64', shape: ['batch', 2] },
        { name: 'half', dtype: 'float16', shape: ['batch'] },
        { name: 'text', dtype: 'string', shape: ['batch', 2] },
        { name: 'flags', dtype: 'bool', shape: ['batch', 'n'] },
      ],
    },
    'strict',
  );
  const expected = expectedOutputs(
    { spec: rich, plan: planBatching(rich.inputs, rich.outputs) },
    rich.outputs.map((o) => o.name),
  );
  const all: NamedTensors = {
    ...outputs,
    ids: { dtype: 'int64', shape: [1, 2], data: new BigInt64Array([2n ** 60n, -1n]) },
    half: { dtype: 'float16', shape: [1], data: new Uint16Array([0x3c00]) },
    text: { dtype: 'string', shape: [1, 2], data: ['a', 'ü'] },
    flags: { dtype: 'bool', shape: [1, 2], data: new Uint8Array([1, 0]) },
  };

  it('round-trip every dtype exactly, as plain JSON signed for their key', () => {
    const stored = encodeStored(signer, 'k1', all);
    expect(JSON.parse(stored)).toMatchObject({
      v: 3,
      mac: expect.stringMatching(/^[\w-]{43}$/),
      outputs: { text: { data: ['a', 'ü'] } },
    });
    expect(decodeStored(signer, 'k1', stored, expected)).toEqual({ outputs: all });
  });

  it('are rejected under another key, from another signer, altered or cut; corrupt when not an entry; a miss in another format version', () => {
    const stored = encodeStored(signer, 'k1', all);
    const other = new ValueSigner(Buffer.from('another key of at least thirty-two characters'));
    const decode = (text: string, key = 'k1') => decodeStored(signer, key, text, expected);
    expect(decode(stored, 'k2')).toEqual({ result: 'rejected', why: 'signature does not match' });
    expect(decode(encodeStored(other, 'k1', all))).toEqual({ result: 'rejected', why: 'signature does not match' });
    expect(decode(stored.replace('"a"', '"b"'))).toMatchObject({ result: 'rejected' });
    expect(decode(stored.slice(0, -3))).toMatchObject({ result: 'rejected' });
    expect(decode('garbage{not json')).toEqual({ result: 'corrupt', why: 'not a cache entry' });
    expect(decode('{"__proto__":{"polluted":true}}')).toMatchObject({ result: 'corrupt' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(decode(JSON.stringify({ v: 2, key: 'k1', outputs: {} }))).toEqual({
      result: 'miss',
      why: 'another format version',
    });
  });

  it('are rejected, signed or not, when they do not fit the model or hold a non-finite value', () => {
    const nan: NamedTensors = { ...all, y: { dtype: 'float32', shape: [1, 1], data: new Float32Array([Number.NaN]) } };
    expect(decodeStored(signer, 'k1', encodeStored(signer, 'k1', nan), expected)).toEqual({
      result: 'rejected',
      why: 'a non-finite value',
    });
    const huge = { y: { dtype: 'float32', shape: [1, 1], data: 'A'.repeat(1 << 20) } };
    const fixed = expectedOutputs(source, ['y']); // every dim of a row fixed: a bound on the text
    expect(decodeStored(signer, 'k1', signer.sign('k1', 3, { outputs: huge }), fixed)).toEqual({
      result: 'rejected',
      why: "longer than the model's outputs can be",
    });
    const { y: _, ...short } = all;
    expect(decodeStored(signer, 'k1', encodeStored(signer, 'k1', short), expected)).toMatchObject({
      result: 'rejected',
      why: 'not the 5 output(s) fetched',
    });
  });
});
