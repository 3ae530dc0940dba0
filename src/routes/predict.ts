import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ServiceError } from '../errors.js';
import { predictRequestSchema } from '../core/predict-request.js';

/** POST /predict: the envelope is checked here; rows are checked by the model's own codec. */
const predict: FastifyPluginAsyncZod = async (app) => {
  app.post('/predict', { schema: { body: predictRequestSchema } }, async (request) => {
    if (app.models.phase !== 'loaded' && app.models.entries(request.body.model).length === 0) {
      throw new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200');
    }
    return app.predictions.predict(request.body);
  });
};

export default predict;
