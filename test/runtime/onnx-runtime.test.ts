import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { OnnxRuntime } from '../../src/runtime/onnx-runtime.js';
import { bundled, TempRepository } from '../helpers/repository.js';

const irisRow = () => ({
  input: { dtype: 'float32' as const, shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) },
});
const irisTask = (key: string) => ({ key, inputs: irisRow(), fetch: ['probabilities'], rows: 1 });
/** One run per worker at once: each worker takes one task at a time, so every worker is asked. */
const onEveryWorker = (runtime: OnnxRuntime, key: string) =>
  Promise.allSettled(Array.from({ length: runtime.workers * 2 }, () => runtime.run(irisTask(key))));

/** The nice value of each thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // a thread that ended meanwhile
    }
  });
}

describe('OnnxRuntime: versions added and removed after start (real sessions, 2 workers)', () => {
  let runtime: OnnxRuntime | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
  });

  it('add() loads a version on every worker after start; remove() releases it everywhere', async () => {
    runtime = new OnnxRuntime({ workers: 2, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
    runtime.start([{ key: 'iris@1', path: bundled('iris') }]);
    const repo = new TempRepository();
    const copy = `${repo.dir}/iris.onnx`;
    copyFileSync(bundled('iris'), copy);
    await runtime.add({ key: 'iris@2', path: copy });
    repo.remove(); // gone from disk: only a session loaded ahead by add() can answer now
    const served = await onEveryWorker(runtime, 'iris@2');
    expect(served.map((r) => r.status)).toEqual(served.map(() => 'fulfilled'));

    await runtime.remove('iris@2');
    const gone = await onEveryWorker(runtime, 'iris@2');
    expect(gone.map((r) => r.status)).toEqual(gone.map(() => 'rejected'));
    expect(String((gone[0] as PromiseRejectedResult).reason)).toContain('iris@2 is not loaded on this worker');
    // the other version is untouched
    expect((await onEveryWorker(runtime, 'iris@1')).every((r) => r.status === 'fulfilled')).toBe(true);
  });

  it('add() starts the workers when nothing was servable at start', async () => {
    runtime = new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
    await runtime.add({ key: 'iris@1', path: bundled('iris') });
    expect((await runtime.run(irisTask('iris@1'))).outputs.probabilities!.shape).toEqual([1, 3]);
  });

  it('add() rejects a file onnxruntime cannot load, and the runtime keeps serving', async () => {
    runtime = new OnnxRuntime({ workers: 2, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
    runtime.start([{ key: 'iris@1', path: bundled('iris') }]);
    await expect(runtime.add({ key: 'bad@1', path: new URL(import.meta.url).pathname })).rejects.toThrow();
    expect((await onEveryWorker(runtime, 'iris@1')).every((r) => r.status === 'fulfilled')).toBe(true);
  });

  it('remove() releases a session that moved to the main thread too', async () => {
    // Any row time is "tiny" here: after 20 measured runs the model moves to the main thread.
    runtime = new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 1e9, nice: 0 });
    runtime.start([{ key: 'iris@1', path: bundled('iris') }]);
    for (let i = 0; i < 21; i++) await runtime.run(irisTask('iris@1'));
    await runtime.run(irisTask('iris@1')); // waits for the main-thread session to exist
    expect(runtime.placement('iris@1')).toBe('main-thread');
    await runtime.remove('iris@1');
    expect(runtime.placement('iris@1')).toBe('workers');
    await expect(runtime.run(irisTask('iris@1'))).rejects.toThrow('iris@1 is not loaded on this worker');
  });

  it('runs background tasks (shadow traffic) on a worker of their own at the lowest priority, started with the first, which loads the session from its path', async () => {
    runtime = new OnnxRuntime({ workers: 1, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 });
    runtime.start([{ key: 'iris@1', path: bundled('iris') }]);
    const client = await runtime.run(irisTask('iris@1'));
    expect(threadNices()).not.toContain(19);
    const background = await runtime.run({ ...irisTask('iris@1'), background: true });
    expect(background.outputs).toEqual(client.outputs);
    expect(threadNices()).toContain(19);
    // A recycle closes the background worker (its sessions' memory goes back too); the next
    // background run starts another.
    expect(await runtime.recycle()).toBe(true);
    // Its thread exits (vitest's timeout bounds the wait)
    while (threadNices().includes(19)) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await runtime.run({ ...irisTask('iris@1'), background: true })).outputs).toEqual(client.outputs);
    await runtime.remove('iris@1');
    await expect(runtime.run({ ...irisTask('iris@1'), background: true })).rejects.toThrow(
      'iris@1 is not loaded on this worker',
    );
  });
});
