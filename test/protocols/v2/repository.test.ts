import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFor, BUNDLED_MODELS, postJson } from '../../helpers/app.js';
import { TempRepository, bundled } from '../../helpers/repository.js';
import type { FastifyInstance } from 'fastify';

const TOKEN = 'control-api-test-token-0123456789';
const ROUTES = ['/v2/repository/index', '/v2/repository/models/iris/load', '/v2/repository/models/iris/unload'];
const ROW = [5.1, 3.5, 1.4, 0.2];

/** iris (versions 1 and 2, the same file) and diabetes, copied from the bundled models. */
function repository(): TempRepository {
  const repo = new TempRepository();
  const config = (name: string) => readFileSync(join(BUNDLED_MODELS, name, 'model.json'), 'utf8');
  const iris = JSON.parse(config('iris'));
  delete iris.card?.versions; // version 2 is a copy of version 1: no per-version sha256 to match
  repo.addOnnx('iris', '1', bundled('iris'), iris).addOnnx('iris', '2', bundled('iris'));
  return repo.addOnnx('diabetes', '1', bundled('diabetes'), config('diabetes'));
}

const call = (app: FastifyInstance, url: string, token?: string, body?: unknown) =>
  app.inject({
    method: 'POST',
    url,
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
const infer = (app: FastifyInstance, version?: string) =>
  postJson(app, `/v2/models/iris${version ? `/versions/${version}` : ''}/infer`, {
    inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: ROW }],
  });

describe('control API off (no ADMIN_TOKEN)', () => {
  const repo = repository();
  const app = appFor({}, repo);

  it('answers 404 ROUTE_NOT_FOUND on every route, as any unknown route, even with a token', async () => {
    for (const url of ROUTES) {
      const response = await call(app(), url, TOKEN);
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('ROUTE_NOT_FOUND');
    }
  });

  it('does not list the model_repository extension on GET /v2', async () => {
    expect((await app().inject('/v2')).json().extensions).not.toContain('model_repository');
  });
});

describe('control API on', () => {
  const repo = repository();
  const app = appFor({ ADMIN_TOKEN: TOKEN }, repo);

  it('lists the model_repository extension on GET /v2, as Triton does', async () => {
    expect((await app().inject('/v2')).json().extensions).toEqual([
      'binary_tensor_data',
      'classification',
      'model_repository',
    ]);
  });

  it('refuses a call without a token: 401 UNAUTHORIZED with WWW-Authenticate: Bearer, on every route', async () => {
    for (const url of ROUTES) {
      const response = await call(app(), url);
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(response.json().code).toBe('UNAUTHORIZED');
      const basic = await app().inject({
        method: 'POST',
        url,
        headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
      });
      expect(basic.statusCode).toBe(401);
    }
  });

  it('refuses a wrong token: 403 FORBIDDEN, on every route (a prefix of the right one too)', async () => {
    for (const url of ROUTES) {
      for (const wrong of ['not-the-token-at-all', TOKEN.slice(0, -1), `${TOKEN}x`]) {
        const response = await call(app(), url, wrong);
        expect(response.statusCode).toBe(403);
        expect(response.json().code).toBe('FORBIDDEN');
      }
    }
    expect((await infer(app())).status).toBe(200); // nothing was unloaded
  });

  it('index: every model version with its state', async () => {
    const response = await call(app(), '/v2/repository/index', TOKEN);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual([
      { name: 'diabetes', version: '1', state: 'READY', reason: '' },
      { name: 'iris', version: '1', state: 'READY', reason: '' },
      { name: 'iris', version: '2', state: 'READY', reason: '' },
    ]);
    const bad = await call(app(), '/v2/repository/index', TOKEN, { ready: 'yes' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('INVALID_REQUEST');
  });

  it('unload stops serving the model, a rescan does not bring it back, load serves it again', async () => {
    const unload = await call(app(), '/v2/repository/models/iris/unload', TOKEN);
    expect(unload.statusCode).toBe(200);
    const gone = await infer(app());
    expect(gone.status).toBe(404);
    expect(gone.body.error).toContain('unloaded through the control API');
    expect((await infer(app(), '2')).status).toBe(404);

    expect(await app().models.rescan()).toMatchObject({ added: [], failed: [] });
    expect((await infer(app())).status).toBe(404);
    const index = await call(app(), '/v2/repository/index', TOKEN); // a rescan too
    expect(index.json()).toEqual([
      { name: 'diabetes', version: '1', state: 'READY', reason: '' },
      { name: 'iris', version: '1', state: 'UNAVAILABLE', reason: 'unloaded through the control API' },
      { name: 'iris', version: '2', state: 'UNAVAILABLE', reason: 'unloaded through the control API' },
    ]);
    expect((await call(app(), '/v2/repository/index', TOKEN, { ready: true })).json()).toEqual([
      { name: 'diabetes', version: '1', state: 'READY', reason: '' },
    ]);
    expect((await infer(app())).status).toBe(404);
    expect((await call(app(), '/v2/repository/models/iris/unload', TOKEN)).statusCode).toBe(200); // again: nothing to do

    const load = await call(app(), '/v2/repository/models/iris/load', TOKEN);
    expect(load.statusCode).toBe(200);
    const back = await infer(app());
    expect(back.status).toBe(200);
    expect(back.body.model_version).toBe('2');
    expect((await infer(app(), '1')).status).toBe(200);
  });

  it('load of a model the repository does not have: 404; unload of an unknown model: 404', async () => {
    const load = await call(app(), '/v2/repository/models/nope/load', TOKEN);
    expect(load.statusCode).toBe(404);
    expect(load.json().code).toBe('MODEL_NOT_FOUND');
    expect((await call(app(), '/v2/repository/models/nope/unload', TOKEN)).json().code).toBe('MODEL_NOT_FOUND');
  });

  it('load of a model that fails to load: 503 MODEL_FAILED with the reason', async () => {
    repo.addBytes('broken', '1', 'not an onnx file');
    const load = await call(app(), '/v2/repository/models/broken/load', TOKEN);
    expect(load.statusCode).toBe(503);
    expect(load.json()).toMatchObject({
      code: 'MODEL_FAILED',
      error: expect.stringContaining('broken@1 failed to load'),
    });
  });

  it('logs every call with its outcome, and never the token', async () => {
    const calls = app().logs.lines.filter((l) => String(l.msg).startsWith('control API call'));
    expect(calls.map((l) => l.outcome)).toEqual(
      expect.arrayContaining(['ok', 'UNAUTHORIZED', 'FORBIDDEN', 'MODEL_NOT_FOUND', 'MODEL_FAILED']),
    );
    expect(calls).toContainEqual(
      expect.objectContaining({
        action: '/v2/repository/models/:model/unload',
        model: 'iris',
        status: 200,
        outcome: 'ok',
      }),
    );
    const text = app()
      .logs.lines.map((l) => JSON.stringify(l))
      .join('\n');
    expect(text).toContain('/v2/repository/index');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(TOKEN.slice(0, -1)); // nor the wrong tokens sent
  });
});
