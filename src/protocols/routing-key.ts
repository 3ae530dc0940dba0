import type { FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';

/** The header that keeps a caller on one variant of a model's traffic split (docs/api.md, "Traffic splits"). */
export const ROUTING_KEY_HEADER = 'x-routing-key';
export const MAX_ROUTING_KEY_LENGTH = 256;

/**
 * A request's routing key: the one its body or query names (`routing_key`), else the
 * X-Routing-Key header; undefined when neither has one. Longer than 256 characters: 400.
 */
export function routingKeyOf(request: FastifyRequest, named?: unknown): string | undefined {
  if (named !== undefined) {
    if (typeof named !== 'string' || named.length > MAX_ROUTING_KEY_LENGTH)
      throw invalidRoutingKey('routing_key', `a string of at most ${MAX_ROUTING_KEY_LENGTH} characters`);
    return routingKeyFrom(named, undefined);
  }
  const header = request.headers[ROUTING_KEY_HEADER];
  const key = headerText(Array.isArray(header) ? header[0] : header);
  if (key !== undefined && key.length > MAX_ROUTING_KEY_LENGTH)
    throw invalidRoutingKey(ROUTING_KEY_HEADER, `at most ${MAX_ROUTING_KEY_LENGTH} characters`);
  return routingKeyFrom(undefined, key);
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
