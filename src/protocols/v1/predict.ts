import type { FastifyPluginAsync } from 'fastify';
import { predictRequestSchema, tensorQuerySchema } from './predict-request.js';
import { ServiceError } from '../../errors.js';
import { parseEnvelope } from '../envelope.js';

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
      const query = parseEnvelope(tensorQuerySchema, request.query, 'query');
      return app.predictions.predictTensor({ ...query, body: request.body as Buffer });
    }
    return app.predictions.predict(parseEnvelope(predictRequestSchema, request.body, ''));
  });
};

export default predict;
