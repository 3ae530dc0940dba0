import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { appFor, postJson } from '../helpers/app.js';
import { bundled, fixture, TempRepository } from '../helpers/repository.js';

/**
 * iris's model.json without its card (the versions are other files), with a 90/10 split and a
 * variant whose version is not there.
 */
const CONFIG = (() => {
  const config = JSON.parse(readFileSync(new URL('../../models/iris/model.json', import.meta.url), 'utf8'));
  delete config.card;
  config.traffic = {
    variants: [
      { name: 'stable', version: 1, weight: 90 },
      { name: 'canary', version: 2, weight: 10 },
      { name: 'next', version: 3, weight: 50 }, // no folder 3: takes no traffic until it is there and ready
    ],
  };
  return config;
})();
const ROW = [5.1, 3.5, 1.4, 0.2]; // version 1 (iris) answers setosa, version 2 (iris_like.onnx) virginica
const LABEL_OF = { '1': 'setosa', '2': 'virginica' } as Record<string, string>;

describe('traffic split: model.json `traffic` spreads requests that name no version (real sessions)', () => {
  const repo = new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), CONFIG)
    .addOnnx('iris', '2', fixture('iris_like.onnx'));
  const app = appFor({ CACHE_ENABLED: 'false' }, repo);

  it('keeps one routing key on one variant, and answers with the variant and the version that served it', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const { status, body } = await postJson(
        app(),
        '/predict',
        { model: 'iris', instances: [ROW] },
        { 'x-routing-key': 'user-42' },
      );
      expect(status).toBe(200);
      expect(body.predictions[0].label).toBe(LABEL_OF[body.version]);
      expect(body.variant).toBe(body.version === '1' ? 'stable' : 'canary');
      seen.add(body.variant);
    }
    expect(seen.size).toBe(1);
    // The body's routing_key and OIP's parameters.routing_key pick as the header does.
    const [variant] = [...seen];
    const byField = await postJson(app(), '/predict', {
      model: 'iris',
      routing_key: 'user-42',
      features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
    });
    expect(byField.body.variant).toBe(variant);
    const oip = await postJson(app(), '/v2/models/iris/infer', {
      parameters: { routing_key: 'user-42' },
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: ROW }],
    });
    expect(oip.status).toBe(200);
    expect(oip.body.parameters.variant).toBe(variant);
  });

  it("lands 10,000 random keys within 2 points of the ready variants' weights (90/10: the unready one's share goes to the rest)", () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const { variant } = app().router.route('iris', undefined, `k-${Math.random().toString(36).slice(2)}-${i}`);
      counts[variant!] = (counts[variant!] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['canary', 'stable']);
    expect(Math.abs(counts.canary! / 100 - 10)).toBeLessThanOrEqual(2);
  });

  it('lets a request that names a version bypass the split', async () => {
    const { body } = await postJson(
      app(),
      '/predict',
      { model: 'iris', version: 2, instances: [ROW] },
      { 'x-routing-key': 'user-42' },
    );
    expect(body.version).toBe('2');
    expect(body.variant).toBeUndefined();
  });

  it('refuses a routing key longer than 256 characters with 400 INVALID_REQUEST naming the header', async () => {
    const { status, body } = await postJson(
      app(),
      '/predict',
      { model: 'iris', instances: [ROW] },
      { 'x-routing-key': 'k'.repeat(257) },
    );
    expect(status).toBe(400);
    expect(body.code).toBe('INVALID_REQUEST');
    expect(body.details[0].path).toBe('x-routing-key');
  });

  it('reads a UTF-8 key in X-Routing-Key as the same key in the body: one user, one variant, whichever carries it (real HTTP)', async () => {
    await app().listen({ host: '127.0.0.1', port: 0 });
    const { port } = app().server.address() as AddressInfo;
    /** /predict over HTTP with the key's UTF-8 bytes in the header, as curl or a browser sends them. */
    const viaHeader = (key: string) =>
      new Promise<{ status: number; body: { variant?: string; details?: { path: string }[] } }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/predict',
            headers: { 'content-type': 'application/json', 'x-routing-key': Buffer.from(key).toString('latin1') },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.end(Buffer.from(JSON.stringify({ model: 'iris', instances: [ROW] }))); // a Buffer: a string body would have Node write the header as UTF-8 of each character
      });
    const keys = Array.from({ length: 40 }, (_, i) => `usér-${i}-日本`);
    for (const key of [...keys, 'ü'.repeat(256)]) {
      const header = await viaHeader(key);
      const body = await postJson(app(), '/predict', { model: 'iris', routing_key: key, instances: [ROW] });
      expect([header.status, body.status], key).toEqual([200, 200]);
      expect(header.body.variant, key).toBe(body.body.variant);
    }
    // Bytes that are not UTF-8 (a Latin-1 client) are still a key, read as they come.
    expect((await viaHeader(Buffer.from([0x75, 0xfc]).toString('latin1'))).status).toBe(200);
  });
});
