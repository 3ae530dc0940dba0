import type { FastifyPluginAsync } from 'fastify';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import { inflateRequestBodies } from '../body-encoding.js';
import { parseEnvelope } from '../envelope.js';
import { parseJson } from '../json-body.js';
import { feedbackSchema } from './feedback-schemas.js';
import { feedbackRouteSchema } from './route-schemas.js';

/**
 * POST /feedback: 200 with whether the prediction was right; 404 unknown id, 410 expired, 409
 * duplicate, 400 bad body.
 */
const feedback: FastifyPluginAsync<{ maxJsonDepth: number }> = async (app, { maxJsonDepth }) => {
  await inflateRequestBodies(app);
  // The same JSON reading as /predict: prototype poisoning and bodies deeper than MAX_JSON_DEPTH refused.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    app.bodyBudget.read(request, body.length);
    try {
      done(null, parseJson(body, maxJsonDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.withTypeProvider<DescribedRoutes>().post('/feedback', { schema: feedbackRouteSchema }, async (request) => {
    const sent = parseEnvelope(feedbackSchema, request.body, '');
    const joined = await app.monitoring.feedback(sent);
    app.inferenceLog?.feedback({ ...sent, ...joined });
    return joined;
  });
};

export default feedback;
