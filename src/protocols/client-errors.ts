import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';

/**
 * Requests Node's HTTP parser refuses before fastify sees them (headers too large, an invalid
 * method, a bad Content-Length, a request line that is not HTTP, a request timeout) as our error.
 */
export function clientError(err: Error & { code?: string; reason?: string }): ServiceError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ServiceError('HEADERS_TOO_LARGE', 'the request headers are larger than the server accepts (16 KB)');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ServiceError('REQUEST_TIMEOUT', 'the request was not received in time');
    case 'HPE_PAUSED_H2_UPGRADE':
      return new ServiceError('INVALID_REQUEST', 'HTTP/2 is not served on this port: send HTTP/1.1');
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new ServiceError('INVALID_REQUEST', 'the Content-Length header is not valid', [
        { path: 'Content-Length', message: err.reason ?? 'not valid' },
      ]);
    default:
      return new ServiceError(
        'INVALID_REQUEST',
        `the request is not valid HTTP/1.1${err.reason ? `: ${err.reason}` : ''}`,
      );
  }
}

/**
 * fastify's clientErrorHandler: answers in our JSON shape on the raw socket and closes it, as
 * Node's own handler does: only when no answer on this connection has begun, so a pipelined
 * answer is never corrupted (Node's `_httpMessage`; were it gone, we answer, as fastify does).
 */
export function answerClientError(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error = clientError(err);
  this.log.debug({ err, code: error.code }, 'client error');
  if (this.hasDecorator('metrics')) this.metrics.http.error(error.statusCode, error.code);
  answerOnSocket(socket, error);
  socket.destroy(err);
}

/** Writes the error as the connection's last answer, unless another answer on it has begun. */
function answerOnSocket(socket: Duplex, error: ServiceError): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) return;
  const body = JSON.stringify(error.toBody());
  socket.write(
    `HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * What Node's HTTP server answers itself, outside any route, answered in our shape: CONNECT (Node
 * drops the connection without a word when nobody listens) is a route we do not have, and an
 * `Expect` other than 100-continue (Node's 417 has an empty body) a refusal that names the header.
 */
export function answerOutsideRoutes(app: FastifyInstance): void {
  app.server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const error = new ServiceError('ROUTE_NOT_FOUND', `no route CONNECT ${req.url ?? ''}: this server is not a proxy`);
    app.metrics.http.error(error.statusCode, error.code);
    answerOnSocket(socket, error);
    socket.destroy();
  });
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const error = new ServiceError(
      'EXPECTATION_FAILED',
      `Expect: ${req.headers.expect ?? ''} cannot be met: only 100-continue is supported`,
      [{ path: 'Expect', message: '100-continue, or no Expect header' }],
    );
    app.metrics.http.error(error.statusCode, error.code);
    const body = JSON.stringify(error.toBody());
    res
      .writeHead(error.statusCode, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      })
      .end(body);
  });
}

/**
 * HTTP/1.1 requires Host (RFC 9112 §3.2). Node refuses a request without one itself, with an empty
 * 400, unless `requireHostHeader` is off; http-timeouts.ts turns it off so the refusal is ours
 * (request-hooks.ts).
 */
export function missingHost(request: FastifyRequest): ServiceError | undefined {
  if (request.raw.httpVersion !== '1.1' || request.headers.host !== undefined) return undefined;
  return new ServiceError('INVALID_REQUEST', 'an HTTP/1.1 request needs a Host header', [
    { path: 'Host', message: 'missing' },
  ]);
}
