import { LRUCache } from 'lru-cache';
import type { NamedTensors } from '../tensors/tensor.js';
import { expectedOutputs, type OutputSource } from './expected-outputs.js';
import { allFinite, decodeStored, encodeStored, storedBytes } from './stored-outputs.js';
import type { ValueSigner } from './value-signer.js';

/** The shared tier (Redis). Implementations never throw and never hang: trouble reads as a miss. */
export interface RemoteCache {
  /**
   * One value (or null) per key, in order; undefined, at once, while the shared tier is not being
   * called (its circuit is open), so the lookup stays synchronous and costs what it costs without one.
   */
  getMany(keys: string[]): Promise<(string | null)[]> | undefined;
  /** Fire and forget. */
  set(key: string, value: string, ttlSeconds: number): void;
}

/** Redis, and what signs and verifies its values: nothing read from it is used unverified. */
export interface SharedTier {
  store: RemoteCache;
  signer: ValueSigner;
  /** A value read back was not used, for a reason worth a look (corrupt or rejected); `model` is `name@version`. */
  refused(model: string, result: CacheResult, why: string): void;
}

export type CacheTier = 'l1' | 'l2';
/** corrupt: not a cache entry at all; rejected: not signed for its key, or not fitting the model's outputs. */
export type CacheResult = 'hit' | 'miss' | 'corrupt' | 'rejected';

export interface CacheObserver {
  cacheLookup(tier: CacheTier, result: CacheResult, count: number): void;
}

export interface CacheOptions {
  maxEntries: number;
  maxBytes: number;
  ttlSeconds: number;
  /** Injected clock for TTL tests; performance.now() semantics (ms). */
  now?: () => number;
}

/**
 * Two tiers: a per-process LRU bounded by entries and bytes, in front of an optional shared
 * Redis. A Redis hit, once verified, fills the LRU: the LRU only ever holds what this process
 * computed or verified. Writes go to the LRU at once and to Redis, signed, in the background.
 */
export class PredictionCache {
  private readonly l1: LRUCache<string, NamedTensors>;

  constructor(
    private readonly options: CacheOptions,
    private readonly observer: CacheObserver,
    private readonly shared?: SharedTier,
  ) {
    this.l1 = new LRUCache<string, NamedTensors>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: storedBytes,
      ttl: options.ttlSeconds * 1000,
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    });
  }

  /**
   * Looks every key up, L1 first, then one Redis round trip for the L1 misses, whose values are
   * checked against the outputs of `source` (the model version) and `fetch`. Synchronous when L1
   * answers it all (or there is no Redis): a hit costs no turn of the event loop.
   */
  lookup(
    keys: string[],
    source: OutputSource,
    fetch: string[],
  ): (NamedTensors | undefined)[] | Promise<(NamedTensors | undefined)[]> {
    const found = new Array<NamedTensors | undefined>(keys.length);
    let misses = 0;
    for (let i = 0; i < keys.length; i++) if ((found[i] = this.l1.get(keys[i]!)) === undefined) misses++;
    this.record('l1', 'hit', keys.length - misses);
    this.record('l1', 'miss', misses);
    if (!this.shared || misses === 0) return found;
    const missing = keys.map((_, i) => i).filter((i) => found[i] === undefined);
    const pending = this.shared.store.getMany(missing.map((i) => keys[i]!));
    if (!pending) {
      this.record('l2', 'miss', missing.length);
      return found;
    }
    return this.fromRemote(keys, found, missing, pending, this.shared, source, fetch);
  }

  private async fromRemote(
    keys: string[],
    found: (NamedTensors | undefined)[],
    missing: number[],
    pending: Promise<(string | null)[]>,
    shared: SharedTier,
    source: OutputSource,
    fetch: string[],
  ): Promise<(NamedTensors | undefined)[]> {
    const values = await pending;
    const expected = expectedOutputs(source, fetch);
    const counts: Record<CacheResult, number> = { hit: 0, miss: 0, corrupt: 0, rejected: 0 };
    missing.forEach((index, j) => {
      const text = values[j];
      if (text == null) {
        counts.miss++;
        return;
      }
      const decoded = decodeStored(shared.signer, keys[index]!, text, expected);
      if (!('outputs' in decoded)) {
        counts[decoded.result]++;
        if (decoded.result !== 'miss') shared.refused(expected.model, decoded.result, decoded.why);
        return;
      }
      counts.hit++;
      found[index] = decoded.outputs;
      this.l1.set(keys[index]!, decoded.outputs);
    });
    for (const result of ['hit', 'corrupt', 'rejected', 'miss'] as const) this.record('l2', result, counts[result]);
    return found;
  }

  /** Stores one row's (or one request's) outputs; non-finite results are never cached. */
  set(key: string, outputs: NamedTensors, ttlSeconds = this.options.ttlSeconds): void {
    if (!allFinite(outputs)) return;
    this.l1.set(key, outputs, { ttl: ttlSeconds * 1000 });
    this.shared?.store.set(key, encodeStored(this.shared.signer, key, outputs), ttlSeconds);
  }

  get entries(): number {
    return this.l1.size;
  }

  get bytes(): number {
    return this.l1.calculatedSize;
  }

  private record(tier: CacheTier, result: CacheResult, count: number): void {
    if (count > 0) this.observer.cacheLookup(tier, result, count);
  }
}
