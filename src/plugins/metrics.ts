import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Metrics } from '../adapters/metrics/metrics.js';

/** Skips building the access-log object when info lines are dropped anyway (LOG_LEVEL=warn). */
const infoEnabled = (log: FastifyBaseLogger) =>
  (log as Partial<Pick<Logger, 'isLevelEnabled'>>).isLevelEnabled?.('info') ?? true;

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** A client's x-request-id is honoured when it is a sane token; anything else gets a fresh id. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * The metrics registry. What each request feeds it (counted in flight until its response closes,
 * one histogram sample and one access-log line, labelled by route template) is done by the one
 * onRequest and onResponse hook (protocols/request-hooks.ts), through requestFinished() below.
 */
export default fp(
  async (app) => {
    const metrics = new Metrics(
      // A changed file that failed to load is a second sample: the version serves (ready) and its reload failed.
      () =>
        app.router
          .all()
          .flatMap((e) => [
            { model: e.name, version: e.version, state: e.state },
            ...(e.reload?.state === 'failed' ? [{ model: e.name, version: e.version, state: 'reload_failed' }] : []),
          ]),
      () => app.readiness().ready,
    );
    app.decorate('metrics', metrics);
  },
  { name: 'metrics' },
);

/** A request answered: its histogram sample and access-log line (at info). */
export function requestFinished(metrics: Metrics, request: FastifyRequest, reply: FastifyReply): void {
  const route = request.routeOptions.url ?? 'unmatched';
  metrics.http.finished(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  if (!infoEnabled(request.log)) return;
  request.log.info(
    // trace_id and span_id are undefined, and left out of the line, unless the request is traced
    // (plugins/tracing.ts).
    {
      method: request.method,
      route,
      path: request.url.split('?')[0],
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      trace_id: request.trace?.traceId,
      span_id: request.trace?.spanId,
    },
    'request',
  );
}
