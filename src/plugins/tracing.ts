import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OtelTracing, type ServerSpan } from '../adapters/tracing/otel-tracing.js';
import { tracingSettings } from '../adapters/tracing/tracing-settings.js';
import { packageInfo } from '../package-info.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** null while tracing is off (the default). */
    tracing: OtelTracing | null;
  }
  interface FastifyRequest {
    /**
     * The request's server span; null when tracing is off or the request is not sampled. Protocols
     * hand it to the data plane.
     */
    trace: ServerSpan | null;
  }
}

type TracingConfig = Parameters<typeof tracingSettings>[0];

/**
 * OpenTelemetry tracing when the OTEL_* variables ask for it. Off, a request carries `trace: null`
 * and the core's `trace?.…` calls cost a null check. On, each request gets a server span (a child
 * of the caller's traceparent, startSpan() from the one onRequest hook, protocols/request-hooks.ts),
 * ended by that module's onResponse hook or, when the client goes, by onRequestAbort here; the
 * answer says which trace it was in (`traceresponse`). The access log line (plugins/metrics.ts) and
 * a 500's error line carry trace_id: fields on those lines, not a pino child logger per request,
 * which cost ~5% of a cache hit's CPU.
 */
export default fp<{ config: TracingConfig }>(
  async (app, { config }) => {
    app.decorateRequest('trace', null);
    const settings = tracingSettings(config);
    const tracing = settings ? OtelTracing.start(settings, packageInfo.version) : null;
    app.decorate('tracing', tracing);
    if (!tracing) return;
    app.log.info(
      { endpoint: settings!.url, sampler: settings!.sampler, service: settings!.serviceName },
      'tracing on: spans exported as OTLP/HTTP JSON',
    );

    app.addHook('onRequestAbort', (request, done) => {
      request.trace?.abort();
      request.trace = null; // ended: onResponse must not end it again
      done();
    });
    app.addHook('onClose', () => tracing.shutdown());
  },
  { name: 'tracing' },
);

/** Starts the request's server span, when tracing samples it. */
export function startSpan(tracing: OtelTracing, request: FastifyRequest, reply: FastifyReply): void {
  const span = tracing.startRequest({
    method: request.method,
    route: request.routeOptions.url,
    path: request.url.split('?')[0]!,
    headers: request.headers,
    httpVersion: request.raw.httpVersion,
    clientAddress: request.ip,
  });
  if (span) {
    request.trace = span;
    reply.header('traceresponse', span.traceresponse);
  }
}
