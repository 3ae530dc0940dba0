import { Redis } from 'ioredis';
import CircuitBreaker from 'opossum';
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
 * Redis behind the RemoteCache interface, the only file importing ioredis. No offline queue (a
 * command while disconnected fails at once), a command timeout, and an opossum circuit breaker
 * that stops calling a dead Redis and lets one probe through after resetMs. ioredis reconnects by
 * itself; the breaker closes on the first probe that succeeds. One log line per state change.
 */
export class RedisCache implements RemoteCache, SharedKeyValue {
  private readonly client: Redis;
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;

  constructor(options: RedisCacheOptions, events: RedisCacheEvents) {
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
    });
    this.client.on('close', () => {
      if (connected) events.log.warn({ redis: redact(options.url) }, 'redis connection lost; cache reads are misses until it is back');
      connected = false;
    });
    this.client.on('error', () => {}); // counted per command below; ioredis repeats this on every retry

    this.breaker = new CircuitBreaker((command: () => Promise<unknown>) => command(), {
      timeout: options.timeoutMs,
      resetTimeout: options.resetMs,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      rollingCountTimeout: 10_000,
    });
    this.breaker.on('open', () => events.log.warn({ resetMs: options.resetMs }, 'redis circuit open: not calling redis'));
    this.breaker.on('halfOpen', () => events.log.info({}, 'redis circuit half-open: probing'));
    this.breaker.on('close', () => events.log.info({}, 'redis circuit closed: cache shared again'));
    this.breaker.on('timeout', () => events.redisError('timeout'));
    this.breaker.on('reject', () => events.redisError('rejected'));
    this.breaker.on('failure', (err: Error) => {
      if (!/timed out/i.test(err.message)) events.redisError('error');
    });
  }

  get state(): CircuitState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half_open' : 'closed';
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    try {
      return (await this.breaker.fire(() => this.client.mget(...keys))) as (string | null)[];
    } catch {
      return keys.map(() => null);
    }
  }

  async get(key: string): Promise<string | null | undefined> {
    try {
      return (await this.breaker.fire(() => this.client.get(key))) as string | null;
    } catch {
      return undefined;
    }
  }

  async claim(key: string, ttlSeconds: number): Promise<boolean | undefined> {
    try {
      return (await this.breaker.fire(() => this.client.set(key, '1', 'EX', Math.max(1, Math.round(ttlSeconds)), 'NX'))) === 'OK';
    } catch {
      return undefined;
    }
  }

  set(key: string, value: string, ttlSeconds: number): void {
    this.breaker.fire(() => this.client.set(key, value, 'EX', Math.max(1, Math.round(ttlSeconds)))).catch(() => {});
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    this.client.disconnect();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
