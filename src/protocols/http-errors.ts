import { ServiceError, type ErrorCode } from '../errors.js';

/** Fastify's own error codes that are the client's fault, mapped onto our table. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  // @fastify/compress, inflating gzip and deflate bodies on /v2
  FST_CP_ERR_INVALID_CONTENT_ENCODING: 'UNSUPPORTED_MEDIA_TYPE',
  FST_CP_ERR_INVALID_CONTENT: 'INVALID_REQUEST',
};

/** Turns anything thrown while serving a request into our JSON error body and status. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  const mapped = e.code ? fastifyCodes[e.code] : undefined;
  if (mapped) return new ServiceError(mapped, clientMessage(e.code!, mapped, e.message));
  if (e instanceof SyntaxError || (e.statusCode === 400 && /JSON/i.test(e.message ?? ''))) {
    return new ServiceError('INVALID_JSON', `the body is not valid JSON: ${e.message}`);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ServiceError('INVALID_REQUEST', e.message ?? 'bad request');
  }
  return new ServiceError('INTERNAL_ERROR', 'internal error', undefined, { cause: err });
}

function clientMessage(fastifyCode: string, code: ErrorCode, message = ''): string {
  if (fastifyCode === 'FST_CP_ERR_INVALID_CONTENT_ENCODING') return `${message}; send gzip, deflate or identity`;
  if (fastifyCode === 'FST_CP_ERR_INVALID_CONTENT') return 'the body could not be inflated with its Content-Encoding';
  if (code === 'UNSUPPORTED_MEDIA_TYPE') return 'send application/json (rows) or application/octet-stream (a raw tensor)';
  if (code === 'PAYLOAD_TOO_LARGE') return 'the body is larger than BODY_LIMIT_BYTES allows';
  return message;
}

