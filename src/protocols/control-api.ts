import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ServiceError } from '../errors.js';
import { bodyBytes } from './body-encoding.js';
import { bearerCheck } from './admin-auth.js';
import { parseEnvelope } from './envelope.js';
import { toServiceError } from './http-errors.js';
import { parseJson } from './json-body.js';

/** What every control API plugin is registered with. */
export interface ControlApiOptions {
  adminToken: string;
  /** MAX_JSON_DEPTH, as on the other routes. */
  maxJsonDepth: number;
}

/** Reads a control API body (see guardControlApi). */
export type ControlBody = <T extends z.ZodType>(body: unknown, schema: T, shape: string) => z.infer<T> | undefined;

/**
 * Makes an encapsulated plugin part of the control API (ADMIN_TOKEN): every call needs the token as
 * a bearer token (401 without one, 403 with a wrong one), bodies are read as bytes whatever their
 * Content-Type, or with none (Triton's client sends none), and every call is logged with its
 * outcome, never the token. Each control plugin calls it once, so the routes share one guard.
 *
 * Returns the reader of a body: undefined when empty, else JSON as the other routes parse it
 * (prototype poisoning and MAX_JSON_DEPTH refused: 400), checked by the schema (400
 * INVALID_REQUEST naming the field and saying what the body should be).
 */
export function guardControlApi(app: FastifyInstance, { adminToken, maxJsonDepth }: ControlApiOptions): ControlBody {
  const check = bearerCheck(adminToken);
  const outcomes = new WeakMap<FastifyRequest, string>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, bodyBytes(app));

  app.addHook('onRequest', async (request, reply) => {
    const outcome = check(request.headers.authorization);
    if (outcome === 'ok') return;
    reply.header(
      'www-authenticate',
      outcome === 'missing'
        ? 'Bearer realm="onnx-serve control API"'
        : 'Bearer realm="onnx-serve control API", error="invalid_token"',
    );
    throw outcome === 'missing'
      ? new ServiceError('UNAUTHORIZED', 'the control API needs an Authorization: Bearer <ADMIN_TOKEN> header')
      : new ServiceError('FORBIDDEN', 'the bearer token is not the ADMIN_TOKEN');
  });
  app.addHook('onError', async (request, _reply, err) => {
    outcomes.set(request, toServiceError(err).code);
  });
  app.addHook('onResponse', async (request, reply) => {
    const { model } = (request.params ?? {}) as { model?: string };
    const outcome = reply.statusCode < 400 ? 'ok' : (outcomes.get(request) ?? 'error');
    const fields = {
      action: request.routeOptions.url,
      method: request.method,
      model,
      status: reply.statusCode,
      outcome,
    };
    if (reply.statusCode < 400) request.log.info(fields, 'control API call');
    else request.log.warn(fields, 'control API call refused');
  });

  return (body, schema, shape) => {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    if (bytes.length === 0) return undefined;
    const json = parseJson(bytes, maxJsonDepth);
    try {
      return parseEnvelope(schema, json, '');
    } catch (err) {
      const { details } = err as ServiceError;
      throw new ServiceError('INVALID_REQUEST', `${(err as Error).message} (the body is ${shape})`, details);
    }
  };
}
