import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestHead } from '../../../src/protocols/codec.js';
import { postJson, startApp } from '../../helpers/app.js';
import { buildRequest } from '../../helpers/oip-client.js';
import { bundled, fixture, TempRepository } from '../../helpers/repository.js';
import { IRIS_ROW, irisConfig, irisSplitRepository, keyFor, LABEL_OF_FILE } from '../../helpers/traffic.js';

/**
 * iris split 50/50 over version 1 (stable) and version 2 (canary, iris_like.onnx). Version 2 is the
 * default (the highest ready), so `stable` is the variant a decode worker used to decode for wrongly.
 * Every body of 64 bytes or more is decoded on a decode worker.
 */
describe("large bodies on a decode worker are decoded for the traffic split's variant they run on", () => {
  const repo = irisSplitRepository();
  let app: FastifyInstance;
  let stableKeys: string[];
  let canaryKey: string;
  beforeAll(async () => {
    app = await startApp({ MODEL_DIR: repo.dir, JSON_OFFLOAD_BYTES: '64', CACHE_ENABLED: 'false' });
    stableKeys = Array.from({ length: 1000 }, (_, i) => `user-${i}`)
      .filter((key) => app.router.route('iris', undefined, key).variant === 'stable')
      .slice(0, 8);
    canaryKey = keyFor(app, 'iris', 'canary');
  });
  afterAll(async () => {
    await app.close();
    repo.remove();
  });

  const rows = (n: number) => Array.from({ length: n }, () => IRIS_ROW);
  const head = (routingHeader?: string, extra: Partial<RequestHead> = {}): RequestHead => ({
    params: {},
    query: undefined,
    binary: false,
    ...(routingHeader !== undefined ? { routingHeader } : {}),
    ...extra,
  });
  const runnerKey = (version: string) =>
    app.router.entries('iris').find((e) => e.version === version)!.runner!.spec.key;

  it("the worker decodes /predict rows for the variant: the body's routing_key first, then the header", async () => {
    const body = Buffer.from(JSON.stringify({ model: 'iris', routing_key: stableKeys[0], instances: rows(50) }));
    const decoded = await workerDecode(app, 'predict', body, head(canaryKey));
    expect(decoded).toMatchObject({ kind: 'decoded', variant: 'stable', key: runnerKey('1') });
    const byHeader = await workerDecode(
      app,
      'predict',
      Buffer.from(JSON.stringify({ model: 'iris', instances: rows(50) })),
      head(canaryKey),
    );
    expect(byHeader).toMatchObject({ kind: 'decoded', variant: 'canary', key: runnerKey('2') });
    // A version named bypasses the split, on the worker too.
    const named = await workerDecode(
      app,
      'predict',
      Buffer.from(JSON.stringify({ model: 'iris', version: 1, routing_key: canaryKey, instances: rows(50) })),
      head(canaryKey),
    );
    expect(named).toMatchObject({ kind: 'decoded', key: runnerKey('1') });
    expect(named).not.toHaveProperty('variant');
  });

  it('/predict answers a large body routed to the non-default variant from that variant', async () => {
    for (const key of stableKeys) {
      const { status, body } = await postJson(
        app,
        '/predict',
        { model: 'iris', instances: rows(50) },
        { 'x-routing-key': key },
      );
      expect(status).toBe(200);
      expect([body.variant, body.version]).toEqual(['stable', '1']);
      expect(new Set(body.predictions.map((p: { label: string }) => p.label))).toEqual(new Set([LABEL_OF_FILE.iris]));
      const byField = await postJson(
        app,
        '/predict',
        { model: 'iris', routing_key: key, instances: rows(50) },
        { 'x-routing-key': canaryKey },
      );
      expect([byField.body.variant, byField.body.version, byField.body.predictions[0].label]).toEqual([
        'stable',
        '1',
        LABEL_OF_FILE.iris,
      ]);
    }
  });

  it("OIP: a large body's parameters.routing_key picks the variant on the worker, with no header", async () => {
    for (const key of stableKeys) {
      const request = {
        parameters: { routing_key: key },
        inputs: [{ name: 'input', shape: [50, 4], datatype: 'FP32', data: rows(50) }],
      };
      const { status, body } = await postJson(app, '/v2/models/iris/infer', request);
      expect(status).toBe(200);
      expect([body.parameters.variant, body.model_version]).toEqual(['stable', '1']);
    }
    const { body, headerLength } = buildRequest(
      [{ name: 'input', datatype: 'FP32', shape: [50, 4], data: rows(50).flat() }],
      { parameters: { routing_key: stableKeys[0] } },
    );
    const decoded = await workerDecode(
      app,
      'infer',
      body,
      head(canaryKey, { params: { model: 'iris' }, headerLength: String(headerLength) }),
    );
    expect(decoded).toMatchObject({ kind: 'decoded', variant: 'stable', key: runnerKey('1') });
    const binary = await app.inject({
      method: 'POST',
      url: '/v2/models/iris/infer',
      payload: body,
      headers: { 'inference-header-content-length': String(headerLength), 'x-routing-key': canaryKey },
    });
    expect([binary.statusCode, binary.json().parameters.variant, binary.json().model_version]).toEqual([
      200,
      'stable',
      '1',
    ]);
  });

  it("without a key, the worker's weighted draw is the variant that serves (drawn once)", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const { body } = await postJson(app, '/predict', { model: 'iris', instances: rows(20) });
      expect(body.variant).toBe(body.version === '1' ? 'stable' : 'canary');
      expect(body.predictions[0].label).toBe(body.version === '1' ? LABEL_OF_FILE.iris : LABEL_OF_FILE.iris_like);
      seen.add(body.variant);
    }
    expect(seen).toEqual(new Set(['stable', 'canary'])); // 40 draws at 50/50: one-sided with odds 2^-39
  });
});

/** A body decoded on a decode worker, routed by the app's router as it is now. */
function workerDecode(app: FastifyInstance, codec: string, body: Buffer, head: RequestHead) {
  return app.decodeWorkers.decode({ codec, body, head, routing: app.router.snapshot((r) => r.spec.key) });
}

describe('decode workers learn the versions a rescan adds', () => {
  const repo = new TempRepository().addOnnx(
    'iris',
    '1',
    bundled('iris'),
    irisConfig([
      { name: 'stable', version: 1, weight: 90 },
      { name: 'canary', version: 2, weight: 10 },
    ]),
  );
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp({ MODEL_DIR: repo.dir, JSON_OFFLOAD_BYTES: '64', CACHE_ENABLED: 'false' });
  });
  afterAll(async () => {
    await app.close();
    repo.remove();
  });

  it('decodes on a worker for a version loaded after the workers started, and answers from it', async () => {
    const body = Buffer.from(
      JSON.stringify({ model: 'iris', version: 2, instances: Array.from({ length: 50 }, () => IRIS_ROW) }),
    );
    const plain = { params: {}, query: undefined, binary: false };
    const before = await workerDecode(app, 'predict', body, plain);
    expect(before).not.toHaveProperty('key'); // no version 2 yet: the main thread would decode it
    repo.addOnnx('iris', '2', fixture('iris_like.onnx'));
    expect((await app.models.rescan()).added).toEqual(['iris@2']);
    const after = await workerDecode(app, 'predict', body, plain);
    expect(after).toMatchObject({
      kind: 'decoded',
      key: app.router.entries('iris').find((e) => e.version === '2')!.runner!.spec.key,
    });
    const { status, body: answer } = await postJson(app, '/predict', JSON.parse(body.toString()));
    expect([status, answer.version, answer.predictions[0].label]).toEqual([200, '2', LABEL_OF_FILE.iris_like]);
  });
});
