import { describe, expect, it } from 'vitest';
import { appFor } from '../helpers/app.js';

/** One JSON parser for every route: the same refusal, in the same words, whichever protocol a body comes in by. */
describe('JSON bodies, parsed alike on every route, inline and on a decode worker', () => {
  for (const [where, env] of [
    ['inline', { JSON_OFFLOAD_BYTES: '0' }],
    ['on a decode worker', { JSON_OFFLOAD_BYTES: '1' }],
  ] as const) {
    const app = appFor({ CACHE_ENABLED: 'false', ...env });
    const routes = ['/predict', '/v2/models/iris/infer', '/feedback'];
    const send = (url: string, payload: string) =>
      app().inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });

    it(`${where}: a prototype key is refused with 400 INVALID_JSON, not dropped`, async () => {
      for (const url of routes) {
        const response = await send(url, '{"__proto__": {"polluted": true}, "model": "iris"}');
        expect(response.statusCode, url).toBe(400);
        expect(response.json(), url).toMatchObject({
          code: 'INVALID_JSON',
          error: expect.stringMatching(/^the body is not valid JSON: .*prototype/) as unknown,
        });
      }
    });

    it(`${where}: an empty or blank body gets the same message everywhere`, async () => {
      for (const url of routes) {
        const response = await send(url, ' \n');
        expect(response.statusCode, url).toBe(400);
        expect(response.json(), url).toMatchObject({
          code: 'INVALID_JSON',
          error: 'the body is empty: send a JSON object',
        });
      }
    });

    it(`${where}: broken JSON names the parser's reason, in the same words everywhere`, async () => {
      const errors = [];
      for (const url of routes) {
        const response = await send(url, '{"model": "iris", ');
        expect(response.statusCode, url).toBe(400);
        errors.push(response.json<{ error: string }>().error);
      }
      expect(errors[0]).toMatch(/^the body is not valid JSON: /);
      expect(new Set(errors).size).toBe(1);
    });
  }
});
