import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { RedisCache } from '../adapters/redis-cache.js';
import { PredictionCache } from '../core/cache/prediction-cache.js';
import { RefusalLog } from '../core/cache/refusal-log.js';
import { signingKey, ValueSigner } from '../core/cache/value-signer.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** undefined when CACHE_ENABLED=false. */
    cache?: PredictionCache;
    /** The shared Redis when REDIS_URL is set: the cache's L2 and the feedback store. */
    redis?: RedisCache;
    /** Signs what is written to Redis and verifies what is read back; present with `redis`. */
    redisSigner?: ValueSigner;
  }
}

type CacheConfig = Pick<
  Config,
  | 'CACHE_ENABLED'
  | 'CACHE_MAX_ENTRIES'
  | 'CACHE_MAX_BYTES'
  | 'CACHE_TTL_SECONDS'
  | 'CACHE_HMAC_KEY'
  | 'REDIS_URL'
  | 'REDIS_KEY_PREFIX'
  | 'REDIS_TIMEOUT_MS'
  | 'REDIS_BREAKER_RESET_MS'
>;

/**
 * Redis when REDIS_URL is set, and the prediction cache: L1 (unless disabled), Redis as L2. /ready
 * never depends on either.
 */
export default fp<{ config: CacheConfig }>(
  async (app, { config }) => {
    const redis = config.REDIS_URL
      ? new RedisCache(
          {
            url: config.REDIS_URL,
            keyPrefix: config.REDIS_KEY_PREFIX,
            timeoutMs: config.REDIS_TIMEOUT_MS,
            resetMs: config.REDIS_BREAKER_RESET_MS,
          },
          { redisError: (kind) => app.metrics.cache.redisError(kind), log: app.log },
        )
      : undefined;
    const signer = config.REDIS_URL
      ? new ValueSigner(
          signingKey({
            hmacKey: config.CACHE_HMAC_KEY,
            redisUrl: config.REDIS_URL,
            keyPrefix: config.REDIS_KEY_PREFIX,
          }),
        )
      : undefined;
    if (redis && signer) {
      if (config.CACHE_HMAC_KEY === undefined) {
        app.log.warn(
          {},
          'CACHE_HMAC_KEY is not set: Redis values are signed with a key derived from REDIS_URL, which whoever knows that URL can compute',
        );
      }
      app.decorate('redis', redis);
      app.decorate('redisSigner', signer);
      app.addHook('onClose', () => redis.close());
    }
    if (!config.CACHE_ENABLED) return;
    const refusals = new RefusalLog(
      (obj, msg) => app.log.warn(obj, msg),
      'a prediction cache entry in redis was not used',
    );
    const cache = new PredictionCache(
      { maxEntries: config.CACHE_MAX_ENTRIES, maxBytes: config.CACHE_MAX_BYTES, ttlSeconds: config.CACHE_TTL_SECONDS },
      app.metrics.cache,
      redis &&
        signer && { store: redis, signer, refused: (model, result, why) => refusals.refused({ model, result, why }) },
    );
    app.decorate('cache', cache);
    app.metrics.cache.watch(() => ({ entries: cache.entries, bytes: cache.bytes, circuit: redis?.state }));
  },
  { name: 'cache', dependencies: ['metrics'] },
);
