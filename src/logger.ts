import type { FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';

/**
 * pino JSON, one line per request (written by the access-log hook, not fastify's two default
 * lines). Bodies are never logged: inputs may be personal data.
 */
export function loggerOptions(
  config: Pick<Config, 'LOG_LEVEL'>,
): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level: config.LOG_LEVEL,
    redact: { paths: ['req.body', 'body', 'features', 'instances', 'req.headers.authorization'], remove: true },
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, path: req.url.split('?')[0] }),
    },
  };
}
