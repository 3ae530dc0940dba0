import { ServiceError, type ErrorCode } from '../errors.js';

/** Fastify's own error codes that are the client's fault, mapped onto our table. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  // routing, through the frameworkErrors option: a URL that does not decode, a path parameter over maxParamLength
  FST_ERR_BAD_URL: 'INVALID_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  // @fastify/compress, inflating gzip and deflate bodies (an unknown encoding is refused by body-encoding.ts)
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
  if (fastifyCode === 'FST_CP_ERR_INVALID_CONTENT') return 'the body could not be inflated with its Content-Encoding';
  if (code === 'UNSUPPORTED_MEDIA_TYPE')
    return 'send application/json (rows) or application/octet-stream (a raw tensor)';
  if (code === 'PAYLOAD_TOO_LARGE') return 'the body is larger than BODY_LIMIT_BYTES allows';
  if (fastifyCode === 'FST_ERR_BAD_URL') return 'the URL is not valid: a percent-escape does not decode';
  if (code === 'URI_TOO_LONG') return 'a path segment is longer than 100 characters';
  return message;
}
