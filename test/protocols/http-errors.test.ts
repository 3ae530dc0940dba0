import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorStatus } from '../../src/errors.js';
import { appFor } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { rawRequest } from '../helpers/raw-http.js';

const request = (head: string, body = '') =>
  `${head}\r\nHost: localhost\r\n${body === '' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`;

/** Requests refused by Node's HTTP parser or by fastify's router, before any route runs. */
const refusals: [string, string, number, string][] = [
  [
    'headers over 16 KB',
    `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    431,
    'HEADERS_TOO_LARGE',
  ],
  [
    'a Content-Length that is not a number',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}',
    400,
    'INVALID_REQUEST',
  ],
  [
    'two Content-Lengths',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    400,
    'INVALID_REQUEST',
  ],
  [
    'Content-Length and Transfer-Encoding',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}',
    400,
    'INVALID_REQUEST',
  ],
  [
    'a body shorter than its Content-Length',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}',
    400,
    'INVALID_REQUEST',
  ],
  [
    'a broken chunk size',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    400,
    'INVALID_REQUEST',
  ],
  ['a method the parser does not know', 'BREW /health HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'INVALID_REQUEST'],
  ['bytes that are not HTTP', '\u0000\u0001\u0002garbage\r\n\r\n', 400, 'INVALID_REQUEST'],
  ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, 'INVALID_REQUEST'],
  [
    'a URL whose percent-escape does not decode',
    request('GET /v2/models/%E0%A4%A/ready HTTP/1.1'),
    400,
    'INVALID_REQUEST',
  ],
  [
    'a path parameter over 100 characters',
    request(`GET /v2/models/${'m'.repeat(200)}/ready HTTP/1.1`),
    414,
    'URI_TOO_LONG',
  ],
  ['an unknown route', request('GET /nope HTTP/1.1'), 404, 'ROUTE_NOT_FOUND'],
  ['a known route, another method', request('DELETE /predict HTTP/1.1'), 404, 'ROUTE_NOT_FOUND'],
  ['a WebDAV method', request('PROPFIND /predict HTTP/1.1'), 404, 'ROUTE_NOT_FOUND'],
];

describe('HTTP the parser or the router refuses answers in our error shape, over real sockets', () => {
  const app = appFor({ LOG_LEVEL: 'silent' });
  let port: number;
  beforeAll(async () => {
    await app().listen({ port: 0, host: '127.0.0.1' });
    port = (app().server.address() as AddressInfo).port;
  });

  it.each(refusals)('%s: %i %s', async (_name, bytes, status, code) => {
    const answer = await rawRequest(port, bytes);
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(answer.body);
    expect(body).toMatchObject({ code, error: expect.any(String) });
    expect(errorStatus[body.code as keyof typeof errorStatus]).toBe(status);
  });

  it('counts each refusal under its code, and keeps nothing in flight', async () => {
    const metrics = await scrape(app());
    expect(sample(metrics, 'http_request_errors_total', { code: 'HEADERS_TOO_LARGE' })).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'http_request_errors_total', { code: 'URI_TOO_LONG' })).toBeGreaterThanOrEqual(1);
    // the scrape itself; clients that gave up mid-body are not left in flight
    expect(sample(metrics, 'http_requests_in_flight')).toBe(1);
  });

  it('answers HTTP/1.0 and keep-alive requests after a refused one as usual', async () => {
    const answer = await rawRequest(port, 'GET /health HTTP/1.0\r\n\r\n');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).status).toBe('ok');
  });
});

describe('metric series a client cannot grow', () => {
  const app = appFor({ LOG_LEVEL: 'silent' });

  const series = async () =>
    new Set(
      (await scrape(app()))
        .split('\n')
        .filter((l) => l.startsWith('http_'))
        .map((l) => l.slice(0, l.lastIndexOf(' '))),
    );
  const methods = [
    'PROPFIND',
    'PROPPATCH',
    'MKCOL',
    'COPY',
    'MOVE',
    'LOCK',
    'UNLOCK',
    'SEARCH',
    'REPORT',
    'MKACTIVITY',
    'CHECKOUT',
    'MERGE',
    'M-SEARCH',
    'NOTIFY',
    'SUBSCRIBE',
    'UNSUBSCRIBE',
    'PURGE',
    'LINK',
    'UNLINK',
    'TRACE',
    'PUT',
    'DELETE',
    'PATCH',
    'OPTIONS',
    'QUERY',
    'ACL',
    'BIND',
    'REBIND',
    'UNBIND',
    'MKCALENDAR',
  ];

  it('folds unusual methods into method="other" and unknown URLs into route="unmatched"', async () => {
    // one round first, so every fixed series (other/unmatched/404 included) exists before counting
    for (const method of ['PROPFIND', 'QUERY', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'])
      await app().inject({ method: method as 'GET', url: '/a' });
    await scrape(app());
    const before = await series();
    for (const [i, method] of methods.entries()) {
      for (const url of [`/x${i}`, `/predict/${i}`, `/v2/models/m${i}/nope`, '/predict', '/health']) {
        const response = await app().inject({ method: method as 'GET', url });
        expect(response.statusCode).toBeGreaterThanOrEqual(400);
        // QUERY, a method with a body, is refused first for its missing Content-Type
        if (method !== 'HEAD')
          expect(response.json().code).toBe(method === 'QUERY' ? 'INVALID_REQUEST' : 'ROUTE_NOT_FOUND');
      }
    }
    const after = await series();
    expect([...after].filter((s) => !before.has(s))).toEqual([]);
    expect(
      sample(await scrape(app()), 'http_request_duration_seconds_count', {
        method: 'other',
        route: 'unmatched',
        status_code: '404',
      }),
    ).toBeGreaterThan(methods.length);
  });
});
