import { Counter, Gauge, type Registry } from 'prom-client';
import type { CacheObserver, CacheResult, CacheTier } from '../../core/cache/prediction-cache.js';
import type { CircuitState, RedisErrorKind } from '../redis-cache.js';

export interface CacheUsageSample {
  model: string;
  version: string;
  using: boolean;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  /** undefined when no Redis is configured. */
  circuit?: CircuitState;
}

/** The prediction cache: lookups per tier and result, L1 size, and Redis errors and circuit state. */
export class CacheMetrics implements CacheObserver {
  private readonly lookups: Counter<'tier' | 'result'>;
  private readonly redisErrors: Counter<'kind'>;
  private source?: () => CacheStats;
  private usage?: () => CacheUsageSample[];

  constructor(registry: Registry) {
    const registers = [registry];
    this.lookups = new Counter({
      name: 'ml_cache_lookups_total',
      help: 'Prediction cache lookups per row, by tier (l1 in-process, l2 Redis) and result: hit, miss, corrupt (not a cache entry) or rejected (not signed for its key, or not fitting the model), each counted once.',
      labelNames: ['tier', 'result'] as const,
      registers,
    });
    this.redisErrors = new Counter({
      name: 'ml_cache_redis_errors_total',
      help: 'Redis calls that failed (error), timed out (timeout) or were not made because the circuit was open (rejected).',
      labelNames: ['kind'] as const,
      registers,
    });
    const stats = () => this.source?.();
    const usage = () => this.usage?.() ?? [];
    new Gauge({
      name: 'ml_cache_in_use',
      help: '1 while a model version goes through the prediction cache, 0 while it skips it because its rows rarely hit (CACHE_MIN_HIT_RATE).',
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        this.reset();
        for (const u of usage()) this.set({ model: u.model, version: u.version }, u.using ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ml_cache_l1_entries',
      help: 'Rows held in the in-process prediction cache.',
      registers,
      collect() {
        this.set(stats()?.entries ?? 0);
      },
    });
    new Gauge({
      name: 'ml_cache_l1_bytes',
      help: 'Approximate bytes held in the in-process prediction cache.',
      registers,
      collect() {
        this.set(stats()?.bytes ?? 0);
      },
    });
    new Gauge({
      name: 'ml_cache_redis_circuit',
      help: '1 for the state the Redis circuit breaker is in (closed, half_open, open); absent without Redis.',
      labelNames: ['state'] as const,
      registers,
      collect() {
        this.reset();
        const circuit = stats()?.circuit;
        if (circuit)
          for (const state of ['closed', 'half_open', 'open'] as const) this.set({ state }, state === circuit ? 1 : 0);
      },
    });
  }

  /** Where the cache gauges read from, once the cache exists. */
  watch(source: () => CacheStats): void {
    this.source = source;
  }

  /** Where ml_cache_in_use reads from: each cached model version and whether it uses the cache now. */
  watchUsage(source: () => CacheUsageSample[]): void {
    this.usage = source;
  }

  cacheLookup(tier: CacheTier, result: CacheResult, count: number): void {
    this.lookups.inc({ tier, result }, count);
  }

  redisError(kind: RedisErrorKind): void {
    this.redisErrors.inc({ kind });
  }
}
