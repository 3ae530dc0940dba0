import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { trafficSplitSchema } from '../../../src/protocols/v2/traffic-schemas.js';
import { appFor } from '../../helpers/app.js';
import { bundled, fixture, TempRepository } from '../../helpers/repository.js';
import { irisConfig } from '../../helpers/traffic.js';

const TOKEN = 'traffic-api-test-token-0123456789';
const URL = '/v2/repository/models/iris/traffic';

/**
 * iris with a split over version 1 and 2, and a third variant whose version 3 is not there;
 * diabetes without a split.
 */
function repository(): TempRepository {
  const config = irisConfig([
    { name: 'stable', version: 1, weight: 90 },
    { name: 'canary', version: 2, weight: 10 },
    { name: 'next', version: 3, weight: 0 },
  ]);
  return new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), config)
    .addOnnx('iris', '2', fixture('iris_like.onnx'))
    .addOnnx('diabetes', '1', bundled('diabetes'));
}

const get = (app: FastifyInstance, url: string, token?: string) =>
  app.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
const post = (app: FastifyInstance, url: string, token: string | undefined, body: unknown) =>
  app.inject({
    method: 'POST',
    url,
    payload: typeof body === 'string' ? body : JSON.stringify(body),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
const weightsOf = (body: { variants: { name: string; weight: number }[] }) =>
  Object.fromEntries(body.variants.map((v) => [v.name, v.weight]));

describe('traffic control API off (no ADMIN_TOKEN)', () => {
  const app = appFor({}, repository());

  it('answers 404 ROUTE_NOT_FOUND on both routes, as any unknown route, even with a token', async () => {
    for (const response of [await get(app(), URL, TOKEN), await post(app(), URL, TOKEN, { weights: { canary: 50 } })]) {
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('ROUTE_NOT_FOUND');
    }
    expect(
      app()
        .models.router.traffic.get('iris')!
        .list()
        .map((v) => v.weight),
    ).toEqual([90, 10, 0]);
  });
});

describe('traffic control API: GET and POST /v2/repository/models/{model}/traffic', () => {
  const repo = repository();
  const app = appFor({ ADMIN_TOKEN: TOKEN, CACHE_ENABLED: 'false' }, repo);

  it('refuses a call without a token (401, WWW-Authenticate: Bearer) and a wrong token (403), on both routes, changing nothing', async () => {
    for (const send of [
      (token?: string) => get(app(), URL, token),
      (token?: string) => post(app(), URL, token, { weights: { canary: 50 } }),
    ]) {
      const none = await send();
      expect([none.statusCode, none.json().code]).toEqual([401, 'UNAUTHORIZED']);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
      for (const wrong of ['not-the-token', TOKEN.slice(0, -1), `${TOKEN}x`]) {
        const refused = await send(wrong);
        expect([refused.statusCode, refused.json().code]).toEqual([403, 'FORBIDDEN']);
      }
    }
    expect(
      app()
        .router.traffic.get('iris')!
        .list()
        .map((v) => v.weight),
    ).toEqual([90, 10, 0]);
  });

  it("GET with the right token: the split in model.json order, each variant's version, weight, and readiness with why not", async () => {
    const response = await get(app(), URL, TOKEN);
    expect(response.statusCode).toBe(200);
    const body = trafficSplitSchema.parse(response.json());
    expect(body).toEqual({
      model: 'iris',
      variants: [
        { name: 'stable', version: '1', weight: 90, ready: true },
        { name: 'canary', version: '2', weight: 10, ready: true },
        { name: 'next', version: '3', weight: 0, ready: false, reason: 'version 3 is not in the repository' },
      ],
    });
  });

  it('POST with the right token sets the weights named, keeps the others, and answers the split as it now is', async () => {
    const response = await post(app(), URL, TOKEN, { weights: { stable: 50, canary: 50 } });
    expect(response.statusCode).toBe(200);
    expect(weightsOf(trafficSplitSchema.parse(response.json()))).toEqual({ stable: 50, canary: 50, next: 0 });
    expect(weightsOf((await get(app(), URL, TOKEN)).json())).toEqual({ stable: 50, canary: 50, next: 0 });
    const changed = app().logs.lines.find((l) => l.msg === 'traffic split weights changed');
    expect(changed).toMatchObject({
      model: 'iris',
      before: { stable: 90, canary: 10, next: 0 },
      after: { stable: 50, canary: 50, next: 0 },
    });
  });

  it('refuses bad weights with 400 INVALID_REQUEST naming the field, and changes nothing', async () => {
    const cases: [unknown, string, string][] = [
      [{ weights: { nope: 5 } }, 'weights.nope', 'no such variant'],
      [{ weights: { 'canary.2': 5, stable: 1 } }, 'weights["canary.2"]', 'no such variant'],
      [{ weights: { canary: -1 } }, 'weights.canary', ''],
      [{ weights: { canary: 'ten' } }, 'weights.canary', ''],
      [{ weights: {} }, 'weights', 'at least one'],
      [{ weights: { stable: 0, canary: 0 } }, 'weights', 'at least one variant needs a weight above 0'],
      [{ weights: { canary: 5 }, extra: true }, '(body)', ''],
      [{}, 'weights', ''],
      ['', 'weights', 'required'],
    ];
    for (const [body, path, message] of cases) {
      const response = await post(app(), URL, TOKEN, body);
      expect([JSON.stringify(body), response.statusCode, response.json().code]).toEqual([
        JSON.stringify(body),
        400,
        'INVALID_REQUEST',
      ]);
      expect(response.json().details).toContainEqual({ path, message: expect.stringContaining(message) });
    }
    const malformed = await post(app(), URL, TOKEN, '{"weights": {"canary": 5}');
    expect([malformed.statusCode, malformed.json().code]).toEqual([400, 'INVALID_JSON']);
    const poisoned = await post(app(), URL, TOKEN, '{"weights": {"__proto__": {"weight": 5}}}');
    expect([poisoned.statusCode, poisoned.json().code]).toEqual([400, 'INVALID_JSON']);
    expect(weightsOf((await get(app(), URL, TOKEN)).json())).toEqual({ stable: 50, canary: 50, next: 0 });
  });

  it('404 NO_TRAFFIC_SPLIT for a model without a split, 404 MODEL_NOT_FOUND for an unknown model, on both routes', async () => {
    for (const [model, code] of [
      ['diabetes', 'NO_TRAFFIC_SPLIT'],
      ['nope', 'MODEL_NOT_FOUND'],
    ]) {
      const url = `/v2/repository/models/${model}/traffic`;
      for (const response of [
        await get(app(), url, TOKEN),
        await post(app(), url, TOKEN, { weights: { canary: 5 } }),
      ]) {
        expect([response.statusCode, response.json().code, response.json().details?.[0]?.path]).toEqual([
          404,
          code,
          'model',
        ]);
      }
    }
  });

  it("an unloaded model has no split to read (404); loaded again, it starts from model.json's weights", async () => {
    expect(weightsOf((await post(app(), URL, TOKEN, { weights: { canary: 70 } })).json())).toEqual({
      stable: 50,
      canary: 70,
      next: 0,
    });
    expect((await post(app(), '/v2/repository/models/iris/unload', TOKEN, '')).statusCode).toBe(200);
    for (const response of [await get(app(), URL, TOKEN), await post(app(), URL, TOKEN, { weights: { canary: 5 } })])
      expect([response.statusCode, response.json().code]).toEqual([404, 'MODEL_NOT_FOUND']);
    expect((await post(app(), '/v2/repository/models/iris/load', TOKEN, '')).statusCode).toBe(200);
    expect(weightsOf((await get(app(), URL, TOKEN)).json())).toEqual({ stable: 90, canary: 10, next: 0 });
  });

  it('logs every call with its method and outcome, and never the token', async () => {
    const calls = app().logs.lines.filter((l) => String(l.msg).startsWith('control API call'));
    expect(calls).toContainEqual(
      expect.objectContaining({
        action: '/v2/repository/models/:model/traffic',
        method: 'POST',
        model: 'iris',
        status: 200,
        outcome: 'ok',
      }),
    );
    expect(calls).toContainEqual(expect.objectContaining({ method: 'GET', status: 401, outcome: 'UNAUTHORIZED' }));
    expect(calls.map((l) => l.outcome)).toEqual(
      expect.arrayContaining(['FORBIDDEN', 'INVALID_REQUEST', 'NO_TRAFFIC_SPLIT', 'MODEL_NOT_FOUND']),
    );
    expect(
      app()
        .logs.lines.map((l) => JSON.stringify(l))
        .join('\n'),
    ).not.toContain(TOKEN.slice(0, -1));
  });
});
