import { describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { appFor } from '../helpers/app.js';
import { expectedForVersion, oipInfer, versionPaths } from '../helpers/version-requests.js';

/**
 * A version is served only by its one spelling, the one its folder has (`1`), on every protocol
 * path: /predict JSON (decoded here and on a decode worker), /predict binary (the query), and OIP
 * infer (both ways), metadata and ready. Digits that name no version (`01`, `0`, 20 digits) are a
 * 404 VERSION_NOT_FOUND listing the versions; anything else is no version number at all: 400
 * INVALID_REQUEST naming the field.
 */
const OFFLOAD_BYTES = 350; // between version-requests.ts's small bodies and its large ones

const notFound = ['01', '00', '0', '007', '12345678901234567890', '9007199254740993'];
const notAVersion = ['1.0', '0x1', ' 1', '1 ', '+1', '1e0', '-0', '-1', '０１', '１', 'v1', 'latest'];

type Answer = [status: number, code: string | undefined, path: string | undefined];

describe('a version is served only by its one spelling, on every protocol path', () => {
  const app = appFor({ JSON_OFFLOAD_BYTES: String(OFFLOAD_BYTES), CACHE_ENABLED: 'false' });

  const send = async (request: InjectOptions): Promise<Answer> => {
    const response = await app().inject(request);
    const body = response.json();
    return [response.statusCode, body.code, body.details?.[0]?.path];
  };

  it.each(versionPaths)(
    '$name: 200 for `1`; 404 VERSION_NOT_FOUND for digits that name no version; 400 INVALID_REQUEST at the field for the rest',
    async ({ field, offloaded, request }) => {
      expect(
        app().decodeWorkers.wants(Buffer.byteLength((request('1').payload as string | Buffer | undefined) ?? '')),
      ).toBe(offloaded); // decoded where the case means it to be
      expect(await send(request('1'))).toEqual([200, undefined, undefined]);

      const spellings = [...notFound, ...notAVersion];
      const answers = await Promise.all(spellings.map(async (v) => [v, ...(await send(request(v)))]));
      expect(answers).toEqual(spellings.map((v) => [v, ...expectedForVersion(v, field)]));
      expect(answers.map(([, status]) => status)).toEqual([...notFound.map(() => 404), ...notAVersion.map(() => 400)]);
      const { details, error } = (await app().inject(request('01'))).json();
      expect(details).toEqual([{ path: 'version', message: 'versions: 1' }]);
      expect(error).toBe('model "iris" has no version "01": not the canonical spelling of version 1');
    },
  );

  it('reads an OIP path the client percent-encoded: %20%31 is " 1", no version', async () => {
    for (const url of ['/v2/models/iris/versions/%20%31', '/v2/models/iris/versions/%20%31/ready']) {
      expect(await send({ method: 'GET', url })).toEqual([400, 'INVALID_REQUEST', 'version']);
    }
    expect(
      await send({ method: 'POST', url: '/v2/models/iris/versions/%20%31/infer', payload: oipInfer('1', 1).payload }),
    ).toEqual([400, 'INVALID_REQUEST', 'version']);
    expect(
      await send({ method: 'POST', url: '/v2/models/iris/versions/%30%31/infer', payload: oipInfer('1', 1).payload }),
    ).toEqual([404, 'VERSION_NOT_FOUND', 'version']);
  });

  it('takes a JSON number by its value on /predict: 1 (and 1.0, the same number) is version 1; 0 and 12345678901 are none; 1.5, -1, 1e20 are no version', async () => {
    const body = (version: string) => ({
      method: 'POST' as const,
      url: '/predict',
      payload: `{"model":"iris","version":${version},"instances":[[5.1,3.5,1.4,0.2]]}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(await send(body('1'))).toEqual([200, undefined, undefined]);
    expect(await send(body('1.0'))).toEqual([200, undefined, undefined]);
    // versions go up to 2^53-1, as their folders do: a larger JSON number cannot name one exactly
    for (const version of ['0', '12345678901'])
      expect(await send(body(version))).toEqual([404, 'VERSION_NOT_FOUND', 'version']);
    for (const version of ['1.5', '-1', '1e20', 'true', '[1]'])
      expect(await send(body(version))).toEqual([400, 'INVALID_REQUEST', 'version']);
  });
});
