import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import { InflightLimiter } from '../core/serving/inflight-limiter.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process-wide caps on body bytes and decoded rows in flight. */
    inflight: InflightLimiter;
    /** Each request's share of the body-bytes cap (BodyBudget). */
    bodyBudget: BodyBudget;
  }
}

/** A request's share of the bytes cap: what it holds, and what gives it back. */
interface Share {
  bytes: number;
  release: () => void;
}

const SHARE = Symbol('body share');
type WithShare = FastifyRequest & { [SHARE]?: Share };

/**
 * Bounds the memory requests in flight hold, whatever the traffic. A request's body bytes are
 * taken when it arrives, before fastify reads a byte of the body (take(), from the one onRequest
 * hook, protocols/request-hooks.ts), so a flood of large bodies is refused (503 SERVER_BUSY,
 * Retry-After) instead of buffered: Content-Length when the body is sent as is; BODY_LIMIT_BYTES,
 * the most it can become, when it is chunked or compressed, trued down to its real size once read
 * (read(), from the body parsers). The share is given back when the response closes (release()),
 * which Node signals on every ending: answered, failed, timed out, or the client gone. The rows cap
 * is taken by the data plane once a request is decoded (core/serving/admission.ts).
 */
export class BodyBudget {
  constructor(
    private readonly limiter: InflightLimiter,
    private readonly bodyLimit: number,
  ) {}

  /** Takes the most bytes the request's body may occupy, or throws SERVER_BUSY; nothing without a body. */
  take(request: FastifyRequest): void {
    const bytes = declaredBytes(request.headers, this.bodyLimit);
    if (bytes > 0) (request as WithShare)[SHARE] = { bytes, release: this.limiter.take('bytes', bytes) };
  }

  /** The body is read: `bytes` long. A share taken for more than that shrinks to it. */
  read(request: FastifyRequest, bytes: number): void {
    const share = (request as WithShare)[SHARE];
    if (share && bytes < share.bytes) {
      share.release = this.limiter.resize('bytes', share.release, share.bytes, bytes);
      share.bytes = bytes;
    }
  }

  /** Gives the request's share back (its response closed); idempotent. */
  release(request: FastifyRequest): void {
    (request as WithShare)[SHARE]?.release();
  }
}

export default fp<{ config: Pick<Config, 'BODY_LIMIT_BYTES' | 'MAX_INFLIGHT_BYTES' | 'MAX_INFLIGHT_ROWS'> }>(
  async (app, { config }) => {
    const limiter = new InflightLimiter(
      { bytes: config.MAX_INFLIGHT_BYTES, rows: config.MAX_INFLIGHT_ROWS },
      app.metrics.inflight,
    );
    app.decorate('inflight', limiter);
    app.decorate('bodyBudget', new BodyBudget(limiter, config.BODY_LIMIT_BYTES));
    app.metrics.inflight.watch(() => ({ held: limiter.stats(), limits: limiter.limits() }));
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
