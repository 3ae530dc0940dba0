import { copyFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { InferenceTask } from '../../src/core/serving/model-runtime.js';
import { OnnxRuntime } from '../../src/runtime/onnx-runtime.js';
import { bundled, TempRepository } from '../helpers/repository.js';

/** `rows` distinct 8x8 digit images (pixels 0..16), numbered from `seed`. */
function digitsTask(key: string, seed: number, rows = 4): InferenceTask {
  const data = Float32Array.from(
    { length: rows * 64 },
    (_, i) => (Math.imul(seed * 64 + i + 1, 2654435761) >>> 0) % 17,
  );
  return { key, inputs: { input: { dtype: 'float32', shape: [rows, 1, 8, 8], data } }, fetch: ['probabilities'], rows };
}
const irisTask = (key: string): InferenceTask => ({
  key,
  inputs: { input: { dtype: 'float32', shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) } },
  fetch: ['probabilities'],
  rows: 1,
});
const answer = async (runtime: OnnxRuntime, task: InferenceTask) =>
  Array.from((await runtime.run(task)).outputs.probabilities!.data as Float32Array);

describe('OnnxRuntime.recycle: fresh inference workers (real sessions, 2 workers)', () => {
  let runtime: OnnxRuntime | undefined;
  let repo: TempRepository | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
    repo?.remove();
    repo = undefined;
  });

  it('serves every request under load while the workers are replaced, with the same answers', async () => {
    runtime = new OnnxRuntime({ workers: 2, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
    runtime.start([{ key: 'digits@1', path: bundled('digits') }]);
    const SEEDS = 16;
    const expected = await Promise.all(
      Array.from({ length: SEEDS }, (_, s) => answer(runtime!, digitsTask('digits@1', s))),
    );
    const before = runtime.workerThreadIds;

    // Four clients keep sending until both recycles are over, then ten more requests each.
    let recycling = true;
    const outcomes = { ok: 0, wrong: 0, duringRecycle: 0 };
    const failures: string[] = [];
    const client = async (c: number) => {
      for (let i = 0, after = 0; recycling || after++ < 10; i++) {
        const seed = (c * 7 + i) % SEEDS;
        const during = recycling;
        try {
          const got = await answer(runtime!, digitsTask('digits@1', seed));
          if (JSON.stringify(got) === JSON.stringify(expected[seed])) outcomes.ok++;
          else outcomes.wrong++;
          if (during) outcomes.duringRecycle++;
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const clients = Promise.all([0, 1, 2, 3].map(client));
    const recycled = [await runtime.recycle()];
    const between = runtime.workerThreadIds;
    recycled.push(await runtime.recycle());
    recycling = false;
    await clients;

    expect(recycled).toEqual([true, true]);
    expect(failures).toEqual([]);
    expect(outcomes.wrong).toBe(0);
    expect(outcomes.duringRecycle).toBeGreaterThan(0);
    // every worker is new each time
    expect(before).toHaveLength(2);
    for (const [old, fresh] of [
      [before, between],
      [between, runtime.workerThreadIds],
    ] as const) {
      expect(fresh).toHaveLength(2);
      expect(fresh.filter((id) => old.includes(id))).toEqual([]);
    }
  });

  it('the fresh workers hold the versions of the moment: one added after start, not one removed', async () => {
    runtime = new OnnxRuntime({ workers: 2, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
    runtime.start([{ key: 'iris@1', path: bundled('iris') }]);
    repo = new TempRepository();
    const copy = `${repo.dir}/iris.onnx`;
    copyFileSync(bundled('iris'), copy);
    await runtime.add({ key: 'iris@2', path: copy });
    await runtime.remove('iris@1');
    expect(await runtime.recycle()).toBe(true);
    const served = await Promise.allSettled(Array.from({ length: 4 }, () => runtime!.run(irisTask('iris@2'))));
    expect(served.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    await expect(runtime.run(irisTask('iris@1'))).rejects.toThrow('iris@1 is not loaded on this worker');
  });

  it('does not recycle while a file changed on disk since it loaded: the old workers keep the bytes they loaded', async () => {
    repo = new TempRepository();
    const file = `${repo.dir}/model.onnx`;
    copyFileSync(bundled('iris'), file);
    runtime = new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
    runtime.start([{ key: 'm@1', path: file }]);
    const irisAnswer = await answer(runtime, irisTask('m@1'));
    const threads = runtime.workerThreadIds;
    copyFileSync(bundled('diabetes'), file); // replaced in place under the same version
    expect(await runtime.recycle()).toBe(false);
    expect(runtime.workerThreadIds).toEqual(threads);
    expect(await answer(runtime, irisTask('m@1'))).toEqual(irisAnswer);
  });

  it('recycles on its own once idle after a burst of large batches (INFERENCE_IDLE_RECYCLE_S)', async () => {
    let recycled!: (info: { rssBefore: number; rssAfter: number }) => void;
    const done = new Promise<{ rssBefore: number; rssAfter: number }>((resolve) => (recycled = resolve));
    runtime = new OnnxRuntime({
      workers: 1,
      intraOpThreads: 1,
      interOpThreads: 1,
      inlineMaxRowMicros: 0,
      nice: 0,
      idleRecycleS: 0.2,
      onRecycled: recycled,
    });
    runtime.start([{ key: 'digits_large@1', path: bundled('digits_large') }]);
    const threads = runtime.workerThreadIds;
    // 64-row batches grow onnxruntime's arena in the worker by ~60 MiB
    for (let i = 0; i < 4; i++) {
      const data = new Float32Array(64 * 1024).fill(i);
      await runtime.run({
        key: 'digits_large@1',
        inputs: { input: { dtype: 'float32', shape: [64, 1, 32, 32], data } },
        fetch: ['probabilities'],
        rows: 64,
      });
    }
    const info = await done;
    expect(info.rssAfter).toBeLessThan(info.rssBefore);
    expect(runtime.workerThreadIds.filter((id) => threads.includes(id))).toEqual([]);
    expect((await runtime.run(digitsLargeRow())).outputs.probabilities!.shape).toEqual([1, 10]);
  });
});

const digitsLargeRow = (): InferenceTask => ({
  key: 'digits_large@1',
  inputs: { input: { dtype: 'float32', shape: [1, 1, 32, 32], data: new Float32Array(1024).fill(3) } },
  fetch: ['probabilities'],
  rows: 1,
});
