import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ServiceError } from '../../errors.js';
import { UNLOADED, type ModelEntry } from '../../core/models/model-registry.js';
import { modelKey } from '../../core/models/model-spec.js';
import { bearerCheck } from '../admin-auth.js';
import { toServiceError } from '../http-errors.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import { indexRequestSchema, repositoryIndexRoute, repositoryLoadRoute, repositoryUnloadRoute, type IndexEntry } from './repository-schemas.js';

/**
 * The control API, in the shape of the OIP model repository extension (Triton's): index, load
 * and unload. Registered only when ADMIN_TOKEN is set; every call needs it as a bearer token, and
 * every call is logged with its outcome (never the token). Handlers translate; the registry and
 * its rescan decide.
 */
const repository: FastifyPluginAsync<{ adminToken: string }> = async (app, { adminToken }) => {
  const check = bearerCheck(adminToken);
  const outcomes = new WeakMap<FastifyRequest, string>();
  // Bodies are read as bytes whatever their Content-Type, or with none, as on the other /v2 routes (Triton's client sends none).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('onRequest', async (request, reply) => {
    const outcome = check(request.headers.authorization);
    if (outcome === 'ok') return;
    reply.header('www-authenticate', outcome === 'missing' ? 'Bearer realm="onnx-serve control API"' : 'Bearer realm="onnx-serve control API", error="invalid_token"');
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
    const fields = { action: request.routeOptions.url, model, status: reply.statusCode, outcome };
    if (reply.statusCode < 400) request.log.info(fields, 'control API call');
    else request.log.warn(fields, 'control API call refused');
  });

  const registry = app.models;
  const rescanError = (error: string) =>
    registry.phase !== 'loaded' ? new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200') : new ServiceError('REPOSITORY_UNAVAILABLE', error);

  const routes = app.withTypeProvider<DescribedRoutes>();
  routes.post('/v2/repository/index', { schema: repositoryIndexRoute }, async (request) => {
    const { ready } = indexRequest(request.body);
    const result = await registry.rescan();
    if (result.error) throw rescanError(result.error);
    const listed = [...registry.all().map(indexEntry), ...registry.unloadedVersions().map((v) => ({ ...v, state: 'UNAVAILABLE' as const, reason: UNLOADED }))];
    return listed.filter((e) => !ready || e.state === 'READY').sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  });

  routes.post('/v2/repository/models/:model/load', { schema: repositoryLoadRoute }, async (request: FastifyRequest<{ Params: { model: string } }>) => {
    const { model } = request.params;
    if (registry.phase !== 'loaded') throw rescanError('');
    const result = await registry.loadModel(model);
    if (result.error) throw rescanError(result.error);
    const entries = registry.entries(model);
    if (entries.length === 0) throw new ServiceError('MODEL_NOT_FOUND', `no model "${model}" in the repository (MODEL_DIR)`);
    for (const entry of entries) loadFailure(entry);
    return {};
  });

  routes.post('/v2/repository/models/:model/unload', { schema: repositoryUnloadRoute }, async (request: FastifyRequest<{ Params: { model: string } }>) => {
    const { model } = request.params;
    if (registry.phase !== 'loaded') throw rescanError('');
    if (!(await registry.unloadModel(model))) throw new ServiceError('MODEL_NOT_FOUND', `model "${model}" is not loaded`);
    return {};
  });
};

/** The index request: an empty body, or `{"ready": true}` for the ready versions only. */
function indexRequest(body: unknown): { ready?: boolean } {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  if (bytes.length === 0) return {};
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ServiceError('INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = indexRequestSchema.safeParse(json);
  if (!parsed.success) throw new ServiceError('INVALID_REQUEST', 'the index request is {"ready": true|false}', parsed.error.issues.map((i) => ({ path: i.path.join('.') || 'body', message: i.message })));
  return parsed.data;
}

function indexEntry(entry: ModelEntry): IndexEntry {
  if (entry.state === 'ready') return { name: entry.name, version: entry.version, state: 'READY', reason: entry.reload?.state === 'failed' ? `a changed file failed to load, this one serves: ${entry.reload.reason}` : '' };
  if (entry.state === 'loading') return { name: entry.name, version: entry.version, state: 'LOADING', reason: '' };
  return { name: entry.name, version: entry.version, state: 'UNAVAILABLE', reason: entry.reason ?? entry.state };
}

/** Throws why a version did not load, if it did not. */
function loadFailure(entry: ModelEntry): void {
  const label = modelKey(entry.name, entry.version);
  if (entry.state === 'failed') throw new ServiceError('MODEL_FAILED', `model ${label} failed to load: ${entry.reason}`);
  if (entry.state === 'unsupported') throw new ServiceError('UNSUPPORTED_MODEL', `model ${label} cannot be served: ${entry.reason}`);
  if (entry.state === 'loading') throw new ServiceError('MODEL_NOT_READY', `model ${label} is still loading`);
  if (entry.reload?.state === 'failed') throw new ServiceError('MODEL_FAILED', `a changed file of model ${label} failed to load; the loaded one keeps serving: ${entry.reload.reason}`);
}

export default repository;
