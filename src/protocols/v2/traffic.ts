import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { InvalidSplitError } from '../../core/models/traffic-split.js';
import type { ModelTraffic } from '../../core/models/traffic-router.js';
import { variantStatus } from '../../core/experiments/traffic-status.js';
import { formatPath } from '../../core/tensors/paths.js';
import { ServiceError } from '../../errors.js';
import { guardControlApi, type ControlApiOptions } from '../control-api.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import { trafficGetRoute, trafficSetRoute, trafficWeightsSchema } from './traffic-schemas.js';

type ModelRequest = FastifyRequest<{ Params: { model: string } }>;

/**
 * The traffic control API: a model's split (model.json `traffic`) read, and its weights changed
 * without a restart. Behind the same guard as the repository routes (guardControlApi). A change
 * holds on this pod until the model's model.json `traffic` changes (TrafficTable); it moves only
 * the routing keys the new shares require (traffic-split.ts).
 */
const traffic: FastifyPluginAsync<ControlApiOptions> = async (app, options) => {
  const readBody = guardControlApi(app, options);
  const registry = app.models;

  /** The model's split: 404 when the model or its split is not there. */
  const splitOf = (model: string): ModelTraffic => {
    const split = registry.router.traffic.get(model);
    const loaded = registry.router.entries(model).length > 0;
    if (split && loaded) return split;
    if (loaded)
      throw new ServiceError(
        'NO_TRAFFIC_SPLIT',
        `model "${model}" has no traffic split: declare one in its model.json (\`traffic\`)`,
        [{ path: 'model', message: `model "${model}" declares no \`traffic\` in its model.json` }],
      );
    if (registry.router.phase !== 'loaded')
      throw new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200');
    throw new ServiceError('MODEL_NOT_FOUND', `no model "${model}" is loaded`, [
      { path: 'model', message: `models: ${[...new Set(registry.router.all().map((e) => e.name))].join(', ')}` },
    ]);
  };
  const answer = (split: ModelTraffic) => ({
    model: split.model,
    variants: variantStatus(split, registry.router.entries(split.model), registry.skippedEntries(split.model)),
  });

  const routes = app.withTypeProvider<DescribedRoutes>();
  routes.get('/v2/repository/models/:model/traffic', { schema: trafficGetRoute }, async (request: ModelRequest) =>
    answer(splitOf(request.params.model)),
  );

  routes.post('/v2/repository/models/:model/traffic', { schema: trafficSetRoute }, async (request: ModelRequest) => {
    const split = splitOf(request.params.model);
    const body = readBody(request.body, trafficWeightsSchema, '{"weights": {"<variant>": <weight>, …}}');
    if (!body)
      throw new ServiceError('INVALID_REQUEST', 'send the new weights: {"weights": {"<variant>": <weight>, …}}', [
        { path: 'weights', message: 'required' },
      ]);
    const names = split.list().map((v) => v.name);
    const unknown = Object.keys(body.weights).filter((name) => !names.includes(name));
    if (unknown.length > 0) {
      throw new ServiceError(
        'INVALID_REQUEST',
        `model "${split.model}" has no variant ${unknown.map((n) => `"${n}"`).join(', ')}; its variants: ${names.join(', ')}`,
        unknown.map((name) => ({
          path: formatPath(['weights', name]),
          message: `no such variant (variants: ${names.join(', ')})`,
        })),
      );
    }
    const before = Object.fromEntries(split.list().map((v) => [v.name, v.weight]));
    try {
      split.setWeights(body.weights);
    } catch (err) {
      if (!(err instanceof InvalidSplitError)) throw err;
      throw new ServiceError(
        'INVALID_REQUEST',
        `these weights make no valid split: ${err.details.map((d) => d.message).join('; ')}`,
        err.details.map((d) => ({ path: 'weights', message: d.message })),
      );
    }
    request.log.info(
      { model: split.model, before, after: Object.fromEntries(split.list().map((v) => [v.name, v.weight])) },
      'traffic split weights changed',
    );
    return answer(split);
  });
};

export default traffic;
