import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { formatPath } from '../core/input-codec.js';
import { predictRequestSchema, tensorQuerySchema } from '../core/predict-request.js';
import { ServiceError } from '../errors.js';

/** An envelope checked by its zod schema; the first problem leads the message, all are in details. */
function parse<T extends z.ZodType>(schema: T, value: unknown, root: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({ path: formatPath([root, ...issue.path].filter(Boolean)) || '(body)', message: issue.message }));
  throw new ServiceError('INVALID_REQUEST', `invalid request at ${details[0]!.path}: ${details[0]!.message}`, details.slice(0, 20));
}

/**
 * POST /predict. JSON: the envelope is checked here, rows by the model's own codec.
 * application/octet-stream: the body is a raw little-endian tensor, described by the query
 * string (?model=digits&dtype=float32&shape=4,1,8,8).
 */
const predict: FastifyPluginAsync = async (app) => {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post('/predict', async (request) => {
    const binary = Buffer.isBuffer(request.body);
    const model = binary ? (request.query as { model?: unknown }).model : (request.body as { model?: unknown } | null)?.model;
    if (app.models.phase !== 'loaded' && (typeof model !== 'string' || app.models.entries(model).length === 0)) {
      throw new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200');
    }
    if (binary) {
      const query = parse(tensorQuerySchema, request.query, 'query');
      return app.predictions.predictTensor({ ...query, body: request.body as Buffer });
    }
    return app.predictions.predict(parse(predictRequestSchema, request.body, ''));
  });
};

export default predict;
