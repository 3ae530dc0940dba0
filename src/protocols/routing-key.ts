import type { FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';

/** The header that keeps a caller on one variant of a model's traffic split (docs/api.md, "Traffic splits"). */
export const ROUTING_KEY_HEADER = 'x-routing-key';
export const MAX_ROUTING_KEY_LENGTH = 256;

/** The X-Routing-Key header as text (UTF-8 where its bytes are), unchecked. */
export function routingHeaderOf(request: Pick<FastifyRequest, 'headers'>): string | undefined {
  const header = request.headers[ROUTING_KEY_HEADER];
  return headerText(Array.isArray(header) ? header[0] : header);
}

/**
 * The key that routes a request: `named`, already checked by its envelope's schema, else the
 * header, which is checked here (only when it counts).
 */
export function routingKeyFor(named: string | undefined, header: string | undefined): string | undefined {
  if (named === undefined && header !== undefined && header.length > MAX_ROUTING_KEY_LENGTH)
    throw invalidRoutingKey(ROUTING_KEY_HEADER, `at most ${MAX_ROUTING_KEY_LENGTH} characters`);
  return routingKeyFrom(named, header);
}

/**
 * The precedence, for keys already checked: the request's own field when it has one (an empty one
 * means none: a weighted draw, whatever the header says), else the header's. A decode worker, which
 * reads the field from the body, applies the same.
 */
export function routingKeyFrom(named: string | undefined, header: string | undefined): string | undefined {
  return (named !== undefined ? named : header) || undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Node reads header bytes as Latin-1, one character a byte: a UTF-8 key ("usér") would hash as
 * other characters than the same key in a body, and land on another variant. Read as UTF-8 when
 * it is; other bytes stay as they came.
 */
function headerText(value: string | undefined): string | undefined {
  if (value === undefined || /^\p{ASCII}*$/u.test(value)) return value;
  try {
    return utf8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

function invalidRoutingKey(path: string, message: string): ServiceError {
  return new ServiceError('INVALID_REQUEST', `invalid routing key at ${path}: ${message}`, [{ path, message }]);
}
