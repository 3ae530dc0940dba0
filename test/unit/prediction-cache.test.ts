import { describe, expect, it } from 'vitest';
import { cacheKeys } from '../../src/core/cache/cache-key.js';
import { PredictionCache, type CacheObserver } from '../../src/core/cache/prediction-cache.js';
import { decodeStored, encodeStored } from '../../src/core/cache/stored-outputs.js';
import { modelConfigSchema } from '../../src/core/models/model-config.js';
import { buildModelSpec, type TensorInfo } from '../../src/core/models/model-spec.js';
import { planBatching } from '../../src/core/serving/batch-plan.js';
import type { DType } from '../../src/core/tensors/dtypes.js';
import type { NamedTensors } from '../../src/core/tensors/tensor.js';

const spec = (over: { version?: string; sha256?: string; inputs?: TensorInfo[] } = {}) =>
  buildModelSpec(
    { name: 'm', version: over.version ?? '1', path: '/m', sha256: over.sha256 ?? 'a'.repeat(64) },
    modelConfigSchema.parse({}),
    { inputs: over.inputs ?? [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }] },
    'strict',
  );
/** The keys of a request, per row where the model has a batch dim. */
const keysOf = (s: ReturnType<typeof spec>, tensors: NamedTensors, rows: number, fetch = ['y']) => cacheKeys(s, planBatching(s.inputs, s.outputs), tensors, rows, fetch);
const x = (values: number[], shape = [1, 4], dtype: DType = 'float32') => ({ x: { dtype, shape, data: dtype === 'int32' ? new Int32Array(new Float32Array(values).buffer) : new Float32Array(values) } });

const lookups: string[] = [];
const observer: CacheObserver = { cacheLookup: (tier, result, n) => lookups.push(`${tier}:${result}:${n}`) };
const outputs: NamedTensors = { y: { dtype: 'float32', shape: [1, 1], data: new Float32Array([0.5]) } };

describe('cache keys', () => {
  const base = keysOf(spec(), x([1, 2, 3, 4]), 1)[0]!;

  it('are stable for the same row and model', () => {
    expect(keysOf(spec(), x([1, 2, 3, 4]), 1)).toEqual([base]);
  });

  it('differ for another shape, dtype, version, ONNX file, value or set of outputs', () => {
    const others = [
      keysOf(spec({ inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 2, 2] }] }), x([1, 2, 3, 4], [1, 2, 2]), 1)[0],
      keysOf(spec({ inputs: [{ name: 'x', dtype: 'int32', shape: ['batch', 4] }] }), x([1, 2, 3, 4], [1, 4], 'int32'), 1)[0], // the same bytes read as int32
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
    const [key] = keysOf(wide, x(Array.from({ length: 64 }, (_, i) => i), [1, 64]), 1);
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
    const row1 = { ...request(16000n), state: { dtype: 'float32' as const, shape: [2, 1, 1], data: new Float32Array([2, 20]) } };
    expect(keysOf(stateful, row1, 1)).toEqual([keys[1]]);
    expect(keysOf(stateful, request(8000n), 3)[1]).not.toBe(keys[1]);
  });
});

describe('PredictionCache L1', () => {
  it('expires entries after the TTL, on an injected clock', async () => {
    let now = 1_000;
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60, now: () => now }, observer);
    cache.set('k', outputs);
    expect(await cache.lookup(['k'])).toEqual([outputs]);
    now += 59_000;
    expect(await cache.lookup(['k'])).toEqual([outputs]);
    now += 2_000;
    expect(await cache.lookup(['k'])).toEqual([undefined]);
  });

  it('is bounded by entries and by bytes', async () => {
    const byCount = new PredictionCache({ maxEntries: 2, maxBytes: 1e6, ttlSeconds: 60 }, observer);
    ['a', 'b', 'c'].forEach((k) => byCount.set(k, outputs));
    expect(byCount.entries).toBe(2);
    expect(await byCount.lookup(['a'])).toEqual([undefined]);

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
    const remote = {
      getMany: (keys: string[]) => (asked.push(keys), open ? undefined : Promise.resolve(keys.map((k) => (k === 'r' ? encodeStored('r', outputs) : null)))),
      set: () => {},
    };
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60 }, observer, remote);
    cache.set('l', outputs);
    const found = cache.lookup(['l', 'r', 'x']);
    expect(found).toBeInstanceOf(Promise);
    expect(await found).toEqual([outputs, outputs, undefined]);
    expect(asked).toEqual([['r', 'x']]);

    open = true;
    expect(cache.lookup(['l', 'y'])).toEqual([outputs, undefined]); // an array, not a promise
    expect(lookups.slice(-3)).toEqual(['l1:hit:1', 'l1:miss:1', 'l2:miss:1']);
  });
});

describe('stored values', () => {
  it('round-trip every dtype exactly, and reject corrupt, foreign or malformed values', () => {
    const all: NamedTensors = {
      ...outputs,
      ids: { dtype: 'int64', shape: [1, 2], data: new BigInt64Array([2n ** 60n, -1n]) },
      half: { dtype: 'float16', shape: [1], data: new Uint16Array([0x3c00]) },
      text: { dtype: 'string', shape: [1, 2], data: ['a', 'ü'] },
      flags: { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) },
    };
    const stored = encodeStored('k1', all);
    expect(decodeStored('k1', stored)).toEqual(all);
    expect(decodeStored('k2', stored)).toBeUndefined();
    expect(decodeStored('k1', stored.slice(0, -3))).toBeUndefined();
    const bad = (y: unknown) => JSON.stringify({ v: 2, key: 'k1', outputs: { y } });
    expect(decodeStored('k1', bad({ dtype: 'float32', shape: [2], data: Buffer.from(new Float32Array([1]).buffer).toString('base64') }))).toBeUndefined();
    expect(decodeStored('k1', bad({ dtype: 'float32', shape: [1], data: ['1'] }))).toBeUndefined();
    expect(decodeStored('k1', bad({ dtype: 'complex', shape: [1], data: 'AAAAAA==' }))).toBeUndefined();
    expect(decodeStored('k1', bad({ dtype: 'float32', shape: [1], data: Buffer.from(new Float32Array([Number.NaN]).buffer).toString('base64') }))).toBeUndefined();
    expect(decodeStored('k1', JSON.stringify({ v: 1, key: 'k1', outputs: { y: { dims: [1], data: [1] } } }))).toBeUndefined();
    expect(decodeStored('k1', '{"__proto__":{"polluted":true}}')).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
