import type { FastifyInstance } from 'fastify';
import { requestFinished } from '../plugins/metrics.js';
import { startSpan } from '../plugins/tracing.js';
import { foreignCharset } from './body-encoding.js';
import { missingHost } from './client-errors.js';

/**
 * Every request's own work, in one onRequest and one onResponse hook, where there were seven (Host,
 * tracing, metrics, in-flight bytes, charset, the share trued down, the drain header). On a bare
 * route the seven cost 7.8 µs of CPU a request and these two 7.1 (bench/fastify-hooks.ts, 32
 * connections; bench/README.md, "Per-request hooks"): what remains is their work, not fastify's
 * running of them.
 *
 * onRequest, in order: refuse a missing Host (400); start the server span when tracing samples the
 * request; count it in flight until its response closes and echo its id; take its body's bytes
 * from the in-flight cap (503 SERVER_BUSY past it); refuse a body in a charset other than UTF-8
 * (415). The share is trued down by the body parsers (body-encoding.ts's bodyBytes), the drain's
 * Connection: close is written by Node (http-connections.ts's endKeepAlive).
 * onResponse: the span ended, the histogram sample and the access-log line.
 */
export function installRequestHooks(app: FastifyInstance): void {
  const { metrics, bodyBudget, tracing } = app;
  app.addHook('onRequest', (request, reply, done) => {
    const noHost = missingHost(request);
    if (noHost) return done(noHost);
    if (tracing) startSpan(tracing, request, reply);
    metrics.http.started();
    // 'close', not onResponse: it comes on every ending, the client gone mid-body included.
    reply.raw.on('close', () => {
      metrics.http.ended();
      bodyBudget.release(request);
    });
    reply.header('x-request-id', request.id);
    bodyBudget.take(request); // throws SERVER_BUSY: answered by the error handler
    done(foreignCharset(request));
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.trace?.finish(reply.statusCode);
    requestFinished(metrics, request, reply);
    done();
  });
}
