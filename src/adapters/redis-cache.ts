import { Redis } from 'ioredis';
import CircuitBreaker from 'opossum';
import type { SharedHashes } from '../core/experiments/fleet-tallies.js';
import type { SharedKeyValue } from '../core/monitoring/feedback-store.js';
import type { RemoteCache } from '../core/cache/prediction-cache.js';

export type CircuitState = 'closed' | 'open' | 'half_open';
export type RedisErrorKind = 'error' | 'timeout' | 'rejected';

export interface RedisCacheOptions {
  url: string;
  keyPrefix: string;
  /** Bound on every command; a slow Redis is a miss, never a slow prediction. */
  timeoutMs: number;
  /** How long the breaker stays open before one probe goes through. */
  resetMs: number;
}

export interface RedisCacheEvents {
  redisError(kind: RedisErrorKind): void;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * The breaker's rolling window. Sustained timeouts open it within about a second: the successes of a
 * healthy second roll out of a 1 s window as the failures come in (a 10 s window, opossum's default,
 * took ~8 s behind a busy second of successes).
 */
const BREAKER_WINDOW_MS = 1_000;
/** Below this many calls in the window the breaker never opens: one failed call of a quiet service is no outage. */
const BREAKER_MIN_CALLS = 10;

/**
 * Redis behind the RemoteCache interface, the only file importing ioredis. No offline queue (a
 * command while disconnected fails at once), a command timeout, and an opossum circuit breaker
 * that stops calling a failing Redis and lets one probe through after resetMs. ioredis reconnects
 * by itself; the breaker closes on the first probe that succeeds, or when ioredis is ready again
 * after a reconnect (a restarted Redis). One log line per state change.
 *
 * While the circuit is open nothing reaches opossum or ioredis: each call asks `calling` first and
 * answers at once (a lookup synchronously), so an open circuit costs what no Redis costs. The
 * breaker is configured cheaply: no rolling percentiles (sorting every latency of the window on
 * each failure took ~half the main thread), no snapshots, and no timer of its own, as ioredis's
 * commandTimeout already bounds every command, the ones written to a frozen socket included.
 */
export class RedisCache implements RemoteCache, SharedKeyValue, SharedHashes {
  private readonly client: Redis;
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;

  constructor(
    options: RedisCacheOptions,
    private readonly events: RedisCacheEvents,
  ) {
    this.client = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(1000, options.timeoutMs * 10),
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
      lazyConnect: false,
    });
    let connected = false;
    this.client.on('ready', () => {
      connected = true;
      events.log.info({ redis: redact(options.url) }, 'redis connected');
      // A reconnect has just had Redis answer its ready check: no need to wait for the next probe.
      if (!this.breaker.closed) this.breaker.close();
    });
    this.client.on('close', () => {
      if (connected)
        events.log.warn(
          { redis: redact(options.url) },
          'redis connection lost; cache reads are misses until it is back',
        );
      connected = false;
    });
    this.client.on('error', () => {}); // counted per command below; ioredis repeats this on every retry

    this.breaker = new CircuitBreaker((command: () => Promise<unknown>) => command(), {
      timeout: false,
      resetTimeout: options.resetMs,
      errorThresholdPercentage: 50,
      volumeThreshold: BREAKER_MIN_CALLS,
      rollingCountTimeout: BREAKER_WINDOW_MS,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    this.breaker.on('open', () =>
      events.log.warn({ resetMs: options.resetMs }, 'redis circuit open: not calling redis'),
    );
    this.breaker.on('halfOpen', () => events.log.info({}, 'redis circuit half-open: probing'));
    this.breaker.on('close', () => events.log.info({}, 'redis circuit closed: cache shared again'));
    this.breaker.on('failure', (err: Error) => events.redisError(/timed out/i.test(err.message) ? 'timeout' : 'error'));
  }

  get state(): CircuitState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half_open' : 'closed';
  }

  /**
   * Whether a call would reach Redis: the circuit is closed, or half-open with its probe not yet
   * sent. Counts the calls it turns away.
   */
  private get calling(): boolean {
    if (this.breaker.closed || this.breaker.pendingClose) return true;
    this.events.redisError('rejected');
    return false;
  }

  private fire<T>(command: () => Promise<T>): Promise<T> {
    return this.breaker.fire(command) as Promise<T>;
  }

  getMany(keys: string[]): Promise<(string | null)[]> | undefined {
    if (!this.calling) return undefined;
    return this.fire(() => this.client.mget(...keys)).catch(() => keys.map(() => null));
  }

  async get(key: string): Promise<string | null | undefined> {
    if (!this.calling) return undefined;
    return this.fire(() => this.client.get(key)).catch(() => undefined);
  }

  async claim(key: string, ttlSeconds: number): Promise<boolean | undefined> {
    if (!this.calling) return undefined;
    return this.fire(() => this.client.set(key, '1', 'EX', Math.max(1, Math.round(ttlSeconds)), 'NX')).then(
      (reply) => reply === 'OK',
      () => undefined,
    );
  }

  set(key: string, value: string, ttlSeconds: number): void {
    if (!this.calling) return;
    this.fire(() => this.client.set(key, value, 'EX', Math.max(1, Math.round(ttlSeconds)))).catch(() => {});
  }

  /** One pipeline of HSET + EXPIRE per entry; a failed command fails the call (and counts toward the breaker). */
  async writeFields(
    entries: readonly { key: string; field: string; value: string }[],
    ttlSeconds: number,
  ): Promise<boolean> {
    if (entries.length === 0) return true;
    if (!this.calling) return false;
    const ttl = Math.max(1, Math.round(ttlSeconds));
    return this.fire(async () => {
      const pipeline = this.client.pipeline();
      for (const { key, field, value } of entries) pipeline.hset(key, field, value).expire(key, ttl);
      replies(await pipeline.exec());
    }).then(
      () => true,
      () => false,
    );
  }

  /** One pipeline of HGETALL per key. */
  async readHashes(keys: readonly string[]): Promise<Record<string, string>[] | undefined> {
    if (keys.length === 0) return [];
    if (!this.calling) return undefined;
    return this.fire(async () => {
      const pipeline = this.client.pipeline();
      for (const key of keys) pipeline.hgetall(key);
      return replies(await pipeline.exec()) as Record<string, string>[];
    }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    this.client.disconnect();
  }
}

/** A pipeline's replies, or its first error thrown. */
function replies(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('the pipeline was not run');
  return results.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
