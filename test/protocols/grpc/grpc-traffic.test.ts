import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxServeGrpcClient } from '../../../src/client/grpc.js';
import { appFor, postJson } from '../../helpers/app.js';
import { IRIS_ROW, irisSplitRepository, keyFor, LABEL_OF_FILE } from '../../helpers/traffic.js';

const input = [
  { name: 'input', tensor: { dtype: 'float32' as const, shape: [1, 4], data: Float32Array.from(IRIS_ROW) } },
];
const labelOf = (scores: Float32Array) => ['setosa', 'versicolor', 'virginica'][scores.indexOf(Math.max(...scores))];

/** The gRPC twins of the traffic-split and feedback tests: the same router, the same feedback store. */
describe('gRPC on a traffic split: routing keys pick the variant; prediction_id takes feedback', () => {
  const repo = irisSplitRepository();
  const app = appFor({ CACHE_ENABLED: 'false' }, repo);
  let grpc: OnnxServeGrpcClient;
  let address: string;
  beforeAll(async () => {
    address = `127.0.0.1:${await app().grpc.listen('127.0.0.1', 0)}`;
    grpc = new OnnxServeGrpcClient(address);
  });
  afterAll(() => grpc.close());

  it('parameters.routing_key and x-routing-key metadata keep a caller on one variant, which the answer names', async () => {
    for (const [variant, version, file] of [
      ['canary', '2', 'iris_like'],
      ['stable', '1', 'iris'],
    ] as const) {
      const key = keyFor(app(), 'iris', variant);
      for (let i = 0; i < 5; i++) {
        const answer = await grpc.infer('iris', input, { routingKey: key });
        expect([answer.model_version, answer.parameters?.variant]).toEqual([version, variant]);
        expect(labelOf(answer.outputs.probabilities!.data as Float32Array)).toBe(LABEL_OF_FILE[file]);
      }
      const viaMetadata = new OnnxServeGrpcClient(address, { metadata: { 'x-routing-key': key } });
      const answer = await viaMetadata.infer('iris', input);
      viaMetadata.close();
      expect(answer.parameters?.variant).toBe(variant);
    }
    // A named version bypasses the split: no variant in the answer.
    const pinned = await grpc.infer('iris', input, { version: '2' });
    expect([pinned.model_version, pinned.parameters?.variant]).toEqual(['2', undefined]);
  });

  it("a gRPC answer's prediction_id is joined by POST /feedback, once", async () => {
    const answer = await grpc.infer('iris', input, { version: '1' });
    const id = answer.parameters?.prediction_id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const first = await postJson(app(), '/feedback', { id, label: 'setosa' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id, model: 'iris', version: '1', correct: true });
    expect((await postJson(app(), '/feedback', { id, label: 'setosa' })).status).toBe(409);
  });
});
