import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ServiceError } from '../../errors.js';
import { UNLOADED } from '../../core/models/model-entry.js';
import type { LoadedEntry } from '../../core/loading/model-registry.js';
import { modelKey } from '../../core/models/model-spec.js';
import { guardControlApi, type ControlApiOptions } from '../control-api.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import {
  indexRequestSchema,
  repositoryIndexRoute,
  repositoryLoadRoute,
  repositoryUnloadRoute,
  type IndexEntry,
} from './repository-schemas.js';

/**
 * The control API, in the shape of the OIP model repository extension (Triton's): index, load
 * and unload. Registered only when ADMIN_TOKEN is set, behind guardControlApi (bearer token, every
 * call logged). Handlers translate; the registry and its rescan decide.
 */
const repository: FastifyPluginAsync<ControlApiOptions> = async (app, options) => {
  const readBody = guardControlApi(app, options);

  const registry = app.models;
  const rescanError = (error: string) =>
    registry.router.phase !== 'loaded'
      ? new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200')
      : new ServiceError('REPOSITORY_UNAVAILABLE', error);

  const routes = app.withTypeProvider<DescribedRoutes>();
  routes.post('/v2/repository/index', { schema: repositoryIndexRoute }, async (request) => {
    const { ready } = readBody(request.body, indexRequestSchema, '{"ready": true|false}') ?? {};
    const result = await registry.rescan();
    if (result.error) throw rescanError(result.error);
    const listed = [
      ...registry.router.all().map(indexEntry),
      ...registry.unloadedVersions().map((v) => ({ ...v, state: 'UNAVAILABLE' as const, reason: UNLOADED })),
    ];
    return listed
      .filter((e) => !ready || e.state === 'READY')
      .sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  });

  routes.post(
    '/v2/repository/models/:model/load',
    { schema: repositoryLoadRoute },
    async (request: FastifyRequest<{ Params: { model: string } }>) => {
      const { model } = request.params;
      if (registry.router.phase !== 'loaded') throw rescanError('');
      const result = await registry.loadModel(model);
      if (result.error) throw rescanError(result.error);
      const entries = registry.router.entries(model);
      if (entries.length === 0)
        throw new ServiceError('MODEL_NOT_FOUND', `no model "${model}" in the repository (MODEL_DIR)`);
      for (const entry of entries) loadFailure(entry);
      return {};
    },
  );

  routes.post(
    '/v2/repository/models/:model/unload',
    { schema: repositoryUnloadRoute },
    async (request: FastifyRequest<{ Params: { model: string } }>) => {
      const { model } = request.params;
      if (registry.router.phase !== 'loaded') throw rescanError('');
      if (!(await registry.unloadModel(model)))
        throw new ServiceError('MODEL_NOT_FOUND', `model "${model}" is not loaded`);
      return {};
    },
  );
};

function indexEntry(entry: LoadedEntry): IndexEntry {
  if (entry.state === 'ready')
    return {
      name: entry.name,
      version: entry.version,
      state: 'READY',
      reason:
        entry.reload?.state === 'failed'
          ? `a changed file or model.json failed to load, this one serves: ${entry.reload.reason}`
          : '',
    };
  if (entry.state === 'loading') return { name: entry.name, version: entry.version, state: 'LOADING', reason: '' };
  return { name: entry.name, version: entry.version, state: 'UNAVAILABLE', reason: entry.reason ?? entry.state };
}

/** Throws why a version did not load, if it did not. */
function loadFailure(entry: LoadedEntry): void {
  const label = modelKey(entry.name, entry.version);
  if (entry.state === 'failed')
    throw new ServiceError('MODEL_FAILED', `model ${label} failed to load: ${entry.reason}`);
  if (entry.state === 'unsupported')
    throw new ServiceError('UNSUPPORTED_MODEL', `model ${label} cannot be served: ${entry.reason}`);
  if (entry.state === 'loading') throw new ServiceError('MODEL_NOT_READY', `model ${label} is still loading`);
  if (entry.reload?.state === 'failed')
    throw new ServiceError(
      'MODEL_FAILED',
      `a changed file or model.json of model ${label} failed to load; the loaded one keeps serving: ${entry.reload.reason}`,
    );
}

export default repository;
