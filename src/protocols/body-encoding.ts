import compress from '@fastify/compress';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';

/**
 * Request Content-Encodings every body-taking route reads: gzip and deflate are inflated by
 * @fastify/compress as the body streams in, and fastify's bodyLimit counts the inflated bytes, so
 * a small bomb is a 413 at BODY_LIMIT_BYTES, never a large buffer. Anything else is a 415.
 */
export const REQUEST_ENCODINGS = ['gzip', 'deflate', 'identity'] as const;

export const unsupportedEncoding = (encoding: string) =>
  new ServiceError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Encoding "${encoding}" is not supported; send gzip, deflate or identity`,
    [{ path: 'Content-Encoding', message: 'gzip, deflate or identity' }],
  );

/** @fastify/compress's request options, shared by every context that registers it. */
export const requestDecompression = {
  requestEncodings: [...REQUEST_ENCODINGS],
  onUnsupportedRequestEncoding: unsupportedEncoding,
};

/**
 * Inflates request bodies in this (encapsulated) context without compressing its answers: /predict
 * and /feedback. /v2 registers @fastify/compress itself, answers included, as Triton does.
 */
export async function inflateRequestBodies(app: FastifyInstance): Promise<void> {
  await app.register(compress, { globalCompression: false, ...requestDecompression });
}

/** The charsets a body is read in; us-ascii is a subset of UTF-8. */
const CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);
const CHARSET = /;\s*charset\s*=\s*("?)([^";,\s]*)\1/i;

/**
 * Every body is read as UTF-8: a body declared in another charset (utf-16, latin1) would be read
 * wrongly, so it is refused with 415 before parsing, naming the charset (request-hooks.ts).
 */
export function foreignCharset(request: FastifyRequest): ServiceError | undefined {
  if (request.method === 'GET' || request.method === 'HEAD') return undefined;
  const contentType = request.headers['content-type'];
  const charset = contentType ? CHARSET.exec(contentType)?.[2]?.toLowerCase() : undefined;
  if (charset === undefined || CHARSETS.has(charset)) return undefined;
  return new ServiceError('UNSUPPORTED_MEDIA_TYPE', `charset "${charset}" is not supported: bodies are read as UTF-8`, [
    { path: 'Content-Type', message: 'charset=utf-8, or no charset' },
  ]);
}

/** The body bytes of a request, as the routes' parsers hand them on: its body-bytes share trued down to them. */
export function bodyBytes(app: FastifyInstance) {
  return (request: FastifyRequest, body: Buffer, done: (err: null, body: Buffer) => void): void => {
    app.bodyBudget.read(request, body.length);
    done(null, body);
  };
}
