import type { FastifyPluginAsync } from 'fastify';
import { acceptForms, isForm } from './predict-form.js';
import { rawRows } from '../../core/codec/output-codec.js';
import type { InferResult } from '../../core/serving/data-plane.js';
import { bodyBytes, inflateRequestBodies } from '../body-encoding.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import { routingHeaderOf } from '../routing-key.js';
import { predictCodec, type PredictEnvelope } from './predict-codec.js';
import { predictRouteSchema } from './route-schemas.js';

/** The /predict answer: the id, and per row the label and probabilities, the values, or the raw outputs. */
function answer(result: InferResult, envelope: PredictEnvelope) {
  const { spec } = result.runner;
  const predictions =
    result.predictions ??
    rawRows(
      result.outputs,
      spec.outputs.map((o) => o.name),
      result.rows,
    );
  const head = {
    id: result.id,
    model: spec.name,
    version: spec.version,
    ...(result.variant !== undefined ? { variant: result.variant } : {}),
    cached: result.cached,
  };
  const warnings = result.warnings.length > 0 ? { warnings: result.warnings } : {};
  return envelope.single ? { ...head, ...predictions[0], ...warnings } : { ...head, predictions, ...warnings };
}

/** application/json, with any parameters, in any case; any other type the route takes is a raw tensor. */
const JSON_TYPE = /^\s*application\/json\s*(;|$)/i;

/**
 * POST /predict, the friendly API for models with named features: one `features` object or an
 * `instances` list of rows as JSON, or a raw tensor as application/octet-stream (predict-codec.ts);
 * for a model that preprocesses images, `image` (base64) or `instances` of `{"image": …}`, or the
 * image file itself as the body (image/jpeg, png, webp, gif); for a model that tokenises text, `text`,
 * `texts`, or the text itself as a text/plain body.
 * Bodies are read as bytes; the request decoder parses them, here or on a decode worker.
 */
const predict: FastifyPluginAsync = async (app) => {
  await inflateRequestBodies(app);
  app.removeContentTypeParser('application/json');
  for (const type of [
    'application/json',
    'application/octet-stream',
    'image/jpeg',
    'image/png',
    'image/webp',
    'image/gif',
    'text/plain',
  ])
    app.addContentTypeParser(type, { parseAs: 'buffer' }, bodyBytes(app));

  acceptForms(app, app.initialConfig.bodyLimit ?? 1024 * 1024);

  app.withTypeProvider<DescribedRoutes>().post('/predict', { schema: predictRouteSchema }, async (request) => {
    const form = isForm(request.body) ? request.body : undefined;
    const head = {
      ...(form && { form }),
      params: {},
      query: request.query,
      binary: !JSON_TYPE.test(request.headers['content-type'] ?? 'application/json'),
      media: request.headers['content-type'],
      routingHeader: routingHeaderOf(request),
    };
    const body = form ? undefined : (request.body as Buffer | undefined);
    const { envelope, target, decode, options } = await app.requestDecoder.decode(predictCodec, body, head);
    const result = await app.dataPlane.infer(target, decode, { ...options, trace: request.trace });
    return answer(result, envelope);
  });
};

export default predict;
