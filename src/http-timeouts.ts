import type { Server } from 'node:http';
import type { FastifyHttpOptions } from 'fastify';
import { guardedServer } from './http-connections.js';

/** The settings read here, by name (config.ts validates them, and checks their relations with httpTimeoutIssues). */
type TimeoutConfig = Record<
  | 'HTTP_HEADERS_TIMEOUT_MS'
  | 'HTTP_REQUEST_TIMEOUT_MS'
  | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'
  | 'HTTP_IDLE_TIMEOUT_MS'
  | 'REQUEST_TIMEOUT_MS',
  number
>;
type ServerConfig = TimeoutConfig & Record<'HTTP_MAX_PIPELINED' | 'HTTP_MAX_QUEUED_BYTES', number>;

/**
 * The settings that only make sense together: Node refuses headers > request timeout at start,
 * and a socket idle timeout shorter than the prediction deadline would cut a waiting request's
 * socket before its 504 could be sent.
 */
export function httpTimeoutIssues(config: TimeoutConfig): string[] {
  const issues: string[] = [];
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    issues.push(
      `HTTP_HEADERS_TIMEOUT_MS=${config.HTTP_HEADERS_TIMEOUT_MS}: must be at most HTTP_REQUEST_TIMEOUT_MS (${config.HTTP_REQUEST_TIMEOUT_MS})`,
    );
  }
  if (config.HTTP_IDLE_TIMEOUT_MS <= config.REQUEST_TIMEOUT_MS) {
    issues.push(
      `HTTP_IDLE_TIMEOUT_MS=${config.HTTP_IDLE_TIMEOUT_MS}: must be above REQUEST_TIMEOUT_MS (${config.REQUEST_TIMEOUT_MS}), or a request waiting on its deadline loses its socket`,
    );
  }
  return issues;
}

/**
 * How often Node looks for requests past their headers or request timeout (its default, 30 s,
 * would let a 1 s limit fire at 31 s). A quarter of the shorter timeout, between 10 ms and 1 s:
 * each check walks the open connections once.
 */
export function connectionsCheckingInterval(
  config: Pick<TimeoutConfig, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS'>,
): number {
  const shorter = Math.min(config.HTTP_HEADERS_TIMEOUT_MS, config.HTTP_REQUEST_TIMEOUT_MS);
  return Math.max(10, Math.min(1000, Math.floor(shorter / 4)));
}

/**
 * Fastify's server options for the timeouts, the drain and the per-connection bounds. A client
 * that stalls mid-headers or mid-body gets 408 and loses its connection (and the body buffered so
 * far) at the headers or request timeout; one that stops reading the answer loses its socket after
 * HTTP_IDLE_TIMEOUT_MS of silence, and meanwhile holds at most HTTP_MAX_PIPELINED requests in
 * progress (src/http-connections.ts). During a drain (src/shutdown.ts) idle keep-alive sockets are
 * closed, and a request that still arrives on an open connection is served, with Connection:
 * close, rather than answered 503: the endpoint is already gone, so it is a stale connection's
 * last request.
 */
export function httpServerOptions(config: ServerConfig) {
  // Node refuses a request without Host itself with an empty 400; protocols/client-errors.ts answers it in our shape.
  const http = {
    headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: connectionsCheckingInterval(config),
    requireHostHeader: false,
  };
  const timeouts = {
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    connectionTimeout: config.HTTP_IDLE_TIMEOUT_MS,
  };
  return {
    ...timeouts,
    http,
    // fastify applies none of the settings above to a server it does not create: guardedServer does.
    serverFactory: guardedServer(
      { maxInProgress: config.HTTP_MAX_PIPELINED, maxQueuedBytes: config.HTTP_MAX_QUEUED_BYTES },
      { http, ...timeouts },
    ),
    forceCloseConnections: 'idle',
    return503OnClosing: false,
  } satisfies FastifyHttpOptions<Server>;
}
