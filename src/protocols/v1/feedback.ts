import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { inflateRequestBodies } from '../body-encoding.js';
import { parseEnvelope } from '../envelope.js';
import { parseJson } from '../offload/decode-tasks.js';

/** Ground truth for a prediction, joined by the id /predict returned (never by time). */
export const feedbackSchema = z
  .strictObject({
    id: z.string().min(1).max(64),
    /** Which row of a multi-row prediction; 0 for a `features` request. */
    row: z.number().int().min(0).max(1_000_000).optional(),
    label: z.string().min(1).max(256).optional(),
    value: z.number().optional(),
  })
  .refine((f) => (f.label === undefined) !== (f.value === undefined), {
    message: 'send exactly one of "label" (classifiers) or "value" (regressors)',
    path: ['label'],
  });

/** POST /feedback: 200 with whether the prediction was right; 404 unknown id, 410 expired, 409 duplicate, 400 bad body. */
const feedback: FastifyPluginAsync<{ maxJsonDepth: number }> = async (app, { maxJsonDepth }) => {
  await inflateRequestBodies(app);
  // The same JSON reading as /predict: prototype poisoning and bodies deeper than MAX_JSON_DEPTH refused.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    try {
      done(null, parseJson(body, maxJsonDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.post('/feedback', async (request) => app.monitoring.feedback(parseEnvelope(feedbackSchema, request.body, '')));
};

export default feedback;
