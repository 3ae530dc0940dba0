import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { appFor } from '../helpers/app.js';

const setosa = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
/** A valid body for each route that takes one (feedback's id is unknown: 404, past parsing). */
const bodies: [string, string, number][] = [
  ['/predict', JSON.stringify({ model: 'iris', features: setosa }), 200],
  ['/feedback', JSON.stringify({ id: 'no-such-prediction', label: 'setosa' }), 404],
  [
    '/v2/models/iris/infer',
    JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }),
    200,
  ],
];

describe('charsets and Content-Encoding on every route that takes a body', () => {
  const app = appFor({ LOG_LEVEL: 'silent', BODY_LIMIT_BYTES: '65536' });

  const post = (url: string, payload: string | Buffer, headers: Record<string, string>) =>
    app().inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...headers } });

  describe.each(bodies)('%s', (url, body, ok) => {
    it.each(['utf-8', 'UTF-8', 'utf8', '"utf-8"', 'us-ascii'])('reads charset=%s', async (charset) => {
      expect((await post(url, body, { 'content-type': `application/json; charset=${charset}` })).statusCode).toBe(ok);
    });

    it.each(['utf-16', 'UTF-16LE', 'iso-8859-1', '"latin1"', 'x-made-up'])(
      'refuses charset=%s with 415, naming it',
      async (charset) => {
        const response = await post(url, body, { 'content-type': `application/json; charset=${charset}` });
        expect(response.statusCode).toBe(415);
        expect(response.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', details: [{ path: 'Content-Type' }] });
        expect(response.json().error).toContain(charset.replaceAll('"', '').toLowerCase());
      },
    );

    it.each([
      ['gzip', gzipSync],
      ['deflate', deflateSync],
      ['identity', (b: Buffer) => b],
    ] as const)('inflates Content-Encoding: %s', async (encoding, encode) => {
      expect((await post(url, encode(Buffer.from(body)), { 'content-encoding': encoding })).statusCode).toBe(ok);
    });

    it.each(['br', 'zstd', 'compress', 'gzip, gzip', 'x-unknown'])(
      'refuses Content-Encoding: %s with 415',
      async (encoding) => {
        const response = await post(url, body, { 'content-encoding': encoding });
        expect(response.statusCode).toBe(415);
        expect(response.json()).toMatchObject({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          details: [{ path: 'Content-Encoding' }],
        });
      },
    );

    it('refuses a gzip body that inflates past BODY_LIMIT_BYTES (413), and a broken stream (400)', async () => {
      const bomb = gzipSync(Buffer.concat([Buffer.from(body), Buffer.alloc(1_000_000, 32)]));
      expect(bomb.length).toBeLessThan(65536);
      const inflated = await post(url, bomb, { 'content-encoding': 'gzip' });
      expect(inflated.statusCode).toBe(413);
      expect(inflated.json().code).toBe('PAYLOAD_TOO_LARGE');
      const broken = await post(url, 'not gzip at all', { 'content-encoding': 'gzip' });
      expect(broken.statusCode).toBe(400);
      expect(broken.json().code).toBe('INVALID_REQUEST');
    });
  });

  it('ignores a charset on requests without a body', async () => {
    expect(
      (await app().inject({ url: '/health', headers: { 'content-type': 'text/plain; charset=utf-16' } })).statusCode,
    ).toBe(200);
  });
});
