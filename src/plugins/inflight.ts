import fp from 'fastify-plugin';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import { InflightLimiter } from '../core/serving/inflight-limiter.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process-wide caps on body bytes and decoded rows in flight. */
    inflight: InflightLimiter;
  }
}

/**
 * Bounds the memory requests in flight hold, whatever the traffic. A request's body bytes are
 * taken in onRequest, before fastify reads a byte of the body, so a flood of large bodies is
 * refused (503 SERVER_BUSY, Retry-After) instead of buffered: Content-Length when the body is
 * sent as is; BODY_LIMIT_BYTES, the most it can become, when it is chunked or compressed,
 * trued down to its real size once read. The share is given back when the response closes,
 * which Node signals on every ending: answered, failed, timed out, or the client gone. The rows
 * cap is taken by the data plane once a request is decoded (core/serving/admission.ts).
 */
export default fp<{ config: Pick<Config, 'BODY_LIMIT_BYTES' | 'MAX_INFLIGHT_BYTES' | 'MAX_INFLIGHT_ROWS'> }>(
  async (app, { config }) => {
    const limiter = new InflightLimiter(
      { bytes: config.MAX_INFLIGHT_BYTES, rows: config.MAX_INFLIGHT_ROWS },
      app.metrics.inflight,
    );
    app.decorate('inflight', limiter);
    app.metrics.inflight.watch(() => ({ held: limiter.stats(), limits: limiter.limits() }));

    const shares = new WeakMap<object, { bytes: number; release: () => void }>();
    app.addHook('onRequest', (request, reply, done) => {
      const bytes = declaredBytes(request.headers, config.BODY_LIMIT_BYTES);
      if (bytes === 0) return done();
      const release = limiter.take('bytes', bytes); // throws SERVER_BUSY: answered by the error handler
      shares.set(request, { bytes, release });
      reply.raw.once('close', () => shares.get(request)?.release());
      done();
    });
    app.addHook('preHandler', (request, _reply, done) => {
      const share = shares.get(request);
      const read = Buffer.isBuffer(request.body) ? request.body.length : undefined;
      if (share && read !== undefined && read < share.bytes)
        shares.set(request, { bytes: read, release: limiter.resize('bytes', share.release, share.bytes, read) });
      done();
    });
  },
  { name: 'inflight', dependencies: ['metrics'] },
);

/** The most bytes a request's body may occupy once read: 0 without a body. */
function declaredBytes(headers: IncomingHttpHeaders, bodyLimit: number): number {
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  if (headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return bodyLimit;
  if (length === undefined || !Number.isFinite(length) || length <= 0) return 0;
  return Math.min(length, bodyLimit); // a larger body is refused with 413 before it is read
}
