import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxServeGrpcClient } from '../../../src/client/grpc.js';
import { appFor } from '../../helpers/app.js';
import { bundled, fixture, TempRepository } from '../../helpers/repository.js';
import { IRIS_ROW, irisConfig } from '../../helpers/traffic.js';

const input = [
  { name: 'input', tensor: { dtype: 'float32' as const, shape: [1, 4], data: Float32Array.from(IRIS_ROW) } },
];
const labelOf = (scores: Float32Array) => ['setosa', 'versicolor', 'virginica'][scores.indexOf(Math.max(...scores))];

/** The gRPC twin of hot-reload's "a changed file replaces its version": calls on an open stream while it happens. */
describe('gRPC while a version is replaced under it', () => {
  const repo = new TempRepository().addOnnx('iris', '1', bundled('iris'), irisConfig());
  const app = appFor({ CACHE_ENABLED: 'false' }, repo);
  let grpc: OnnxServeGrpcClient;
  beforeAll(async () => {
    grpc = new OnnxServeGrpcClient(`127.0.0.1:${await app().grpc.listen('127.0.0.1', 0)}`);
  });
  afterAll(() => grpc.close());

  it('a ModelStreamInfer stream open across the swap answers every request, then only from the new file', async () => {
    const stream = grpc.stream();
    const answers: { label?: string; error?: string; afterSwap: boolean }[] = [];
    let swapped = false;
    let stop = false;
    const caller = async () => {
      while (!stop) {
        const afterSwap = swapped;
        const answer = await stream.infer('iris', input).then(
          (r) => ({ label: labelOf(r.outputs.probabilities!.data as Float32Array) }),
          (e: unknown) => ({ error: String(e) }),
        );
        answers.push({ ...answer, afterSwap });
      }
    };
    const until = async (n: number) => {
      while (answers.length < n) await new Promise((r) => setTimeout(r, 10));
    };
    const callers = Array.from({ length: 4 }, caller);
    try {
      await until(40);
      // Written beside, renamed in, as a deploy does; then the rescan a poll would run.
      copyFileSync(fixture('iris_like.onnx'), join(repo.dir, 'iris', '.staged'));
      renameSync(join(repo.dir, 'iris', '.staged'), join(repo.dir, 'iris', '1', 'model.onnx'));
      expect(await app().models.rescan()).toMatchObject({ replaced: ['iris@1'], failed: [] });
      swapped = true;
      await until(answers.length + 40);
    } finally {
      stop = true;
      await Promise.all(callers);
      stream.close();
    }
    expect(answers.filter((a) => a.error)).toEqual([]);
    expect(answers[0]!.label).toBe('setosa');
    expect(new Set(answers.filter((a) => a.afterSwap).map((a) => a.label))).toEqual(new Set(['virginica']));
  });
});
