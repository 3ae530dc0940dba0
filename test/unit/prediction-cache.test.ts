import { describe, expect, it } from 'vitest';
import { rowCacheKey } from '../../src/core/cache/cache-key.js';
import { modelConfigSchema } from '../../src/core/models/model-config.js';
import { buildModelSpec } from '../../src/core/models/model-spec.js';
import { PredictionCache, type CacheObserver } from '../../src/core/cache/prediction-cache.js';
import { decodeStored, encodeStored } from '../../src/core/cache/row-outputs.js';

const spec = (over: { version?: string; sha256?: string; dtype?: string; shape?: (number | null)[] } = {}) =>
  buildModelSpec(
    { name: 'm', version: over.version ?? '1', path: '/m', sha256: over.sha256 ?? 'a'.repeat(64) },
    modelConfigSchema.parse({}),
    { inputs: [{ name: 'x', dtype: over.dtype ?? 'float32', shape: over.shape ?? [null, 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: [null, 1] }] },
    'strict',
  );

const lookups: string[] = [];
const observer: CacheObserver = { cacheLookup: (tier, result, n) => lookups.push(`${tier}:${result}:${n}`) };
const outputs = { y: { dims: [1], data: [0.5] } };

describe('cache key', () => {
  const row = new Float32Array([1, 2, 3, 4]);
  const base = rowCacheKey(spec(), 'float32', [4], row);

  it('is stable for the same row and model', () => {
    expect(rowCacheKey(spec(), 'float32', [4], new Float32Array([1, 2, 3, 4]))).toBe(base);
  });

  it('differs for another shape, dtype, version, ONNX file or value', () => {
    const others = [
      rowCacheKey(spec({ shape: [null, 2, 2] }), 'float32', [2, 2], row),
      rowCacheKey(spec({ dtype: 'int32' }), 'int32', [4], new Int32Array(row.buffer)), // the same bytes read as int32
      rowCacheKey(spec({ version: '2' }), 'float32', [4], row),
      rowCacheKey(spec({ sha256: 'b'.repeat(64) }), 'float32', [4], row),
      rowCacheKey(spec(), 'float32', [4], new Float32Array([1, 2, 3, 4.0001])),
    ];
    expect(new Set([base, ...others]).size).toBe(6);
  });
});

describe('PredictionCache L1', () => {
  it('expires entries after the TTL, on an injected clock', async () => {
    let now = 1_000;
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60, now: () => now }, observer);
    cache.set('k', outputs);
    expect(await cache.getMany(['k'])).toEqual([outputs]);
    now += 59_000;
    expect(await cache.getMany(['k'])).toEqual([outputs]);
    now += 2_000;
    expect(await cache.getMany(['k'])).toEqual([undefined]);
  });

  it('is bounded by entries and by bytes', async () => {
    const byCount = new PredictionCache({ maxEntries: 2, maxBytes: 1e6, ttlSeconds: 60 }, observer);
    ['a', 'b', 'c'].forEach((k) => byCount.set(k, outputs));
    expect(byCount.entries).toBe(2);
    expect(await byCount.getMany(['a'])).toEqual([undefined]);

    const big = { y: { dims: [1000], data: Array.from({ length: 1000 }, () => 1) } };
    const byBytes = new PredictionCache({ maxEntries: 1000, maxBytes: 20_000, ttlSeconds: 60 }, observer);
    ['a', 'b', 'c', 'd'].forEach((k) => byBytes.set(k, big));
    expect(byBytes.bytes).toBeLessThanOrEqual(20_000);
    expect(byBytes.entries).toBe(2);
  });

  it('never caches non-finite results', () => {
    const cache = new PredictionCache({ maxEntries: 10, maxBytes: 1e6, ttlSeconds: 60 }, observer);
    cache.set('nan', { y: { dims: [1], data: [Number.NaN] } });
    cache.set('inf', { y: { dims: [1], data: [Infinity] } });
    expect(cache.entries).toBe(0);
  });
});

describe('stored values', () => {
  it('round-trip, and reject corrupt, foreign or malformed values', () => {
    const stored = encodeStored('k1', outputs);
    expect(decodeStored('k1', stored)).toEqual(outputs);
    expect(decodeStored('k2', stored)).toBeUndefined();
    expect(decodeStored('k1', stored.slice(0, -3))).toBeUndefined();
    expect(decodeStored('k1', JSON.stringify({ v: 1, key: 'k1', outputs: { y: { dims: [2], data: [1] } } }))).toBeUndefined();
    expect(decodeStored('k1', JSON.stringify({ v: 1, key: 'k1', outputs: { y: { dims: [1], data: ['1'] } } }))).toBeUndefined();
    expect(decodeStored('k1', '{"__proto__":{"polluted":true}}')).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
