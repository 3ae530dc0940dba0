import { afterEach, describe, expect, it, vi } from 'vitest';
import { Batcher, type BatchPolicy } from '../../src/core/serving/batcher.js';
import type { EncodedInput } from '../../src/core/codec/input-codec.js';
import { modelConfigSchema } from '../../src/core/models/model-config.js';
import { buildModelSpec } from '../../src/core/models/model-spec.js';
import type { RowOutputs } from '../../src/core/cache/row-outputs.js';
import { ServiceError } from '../../src/errors.js';

const spec = buildModelSpec(
  { name: 'm', version: '1', path: '/m', sha256: 'x' },
  modelConfigSchema.parse({}),
  { inputs: [{ name: 'x', dtype: 'float32', shape: [null, 2] }], outputs: [{ name: 'y', dtype: 'float32', shape: [null, 1] }] },
  'strict',
);
const policy: BatchPolicy = { maxBatchRows: 4, maxDelayMs: 5, maxQueueRows: 6 };
const input = (...values: number[][]): EncodedInput => ({
  dtype: 'float32',
  data: new Float32Array(values.flat()),
  dims: [values.length, 2],
  rows: values.length,
  warnings: [],
});

/** A stand-in for the worker pool: records every batch and answers when the test says so. */
function fakeRuns() {
  const batches: { rows: number; data: number[]; finish(err?: Error): void }[] = [];
  const run = (_: unknown, batch: EncodedInput) =>
    new Promise<RowOutputs[]>((resolve, reject) => {
      const data = [...batch.data] as number[];
      batches.push({
        rows: batch.rows,
        data,
        finish: (err) => (err ? reject(err) : resolve(Array.from({ length: batch.rows }, (_, r) => ({ y: { dims: [1], data: [data[r * 2]! + data[r * 2 + 1]!] } })))),
      });
    });
  return { batches, run };
}

const observer = { batch: vi.fn(), queueWait: vi.fn() };
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  afterEach(() => vi.useRealTimers());

  it('merges requests that arrive while the worker is busy into one batch, and splits the answers back', async () => {
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    const first = batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([1, 1]), 1000);
    const second = batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([2, 2], [3, 3]), 1000);
    const third = batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([4, 4]), 1000);
    expect(batches).toHaveLength(1); // the worker is busy with the first request
    batches[0]!.finish();
    await first;
    await tick(); // the freed slot is refilled once the finished batch settles
    expect(batches).toHaveLength(2);
    expect(batches[1]!.rows).toBe(3);
    batches[1]!.finish();
    expect((await second).map((r) => r.y!.data[0])).toEqual([4, 6]);
    expect((await third).map((r) => r.y!.data[0])).toEqual([8]);
    expect(observer.batch).toHaveBeenLastCalledWith('m', '1', 3, 2);
  });

  it('waits up to maxDelayMs for a fuller batch while a worker is free', async () => {
    vi.useFakeTimers();
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(2, run, observer, () => Date.now());
    void batcher.submit(spec, policy, input([1, 1]), 1000);
    void batcher.submit(spec, policy, input([2, 2]), 1000);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(5);
    expect(batches.map((b) => b.rows)).toEqual([2]);
  });

  it('dispatches at once when a full batch is queued, and never exceeds maxBatchRows', async () => {
    vi.useFakeTimers();
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(2, run, observer, () => Date.now());
    void batcher.submit(spec, policy, input([1, 1], [1, 1], [1, 1]), 1000);
    void batcher.submit(spec, policy, input([2, 2], [2, 2]), 1000);
    expect(batches.map((b) => b.rows)).toEqual([3]);
    vi.advanceTimersByTime(5);
    expect(batches.map((b) => b.rows)).toEqual([3, 2]);
  });

  it('answers QUEUE_FULL at once when the queue holds max_queue_size rows', async () => {
    const { run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    void batcher.submit(spec, policy, input([0, 0]), 1000); // running
    void batcher.submit(spec, policy, input([1, 1], [1, 1], [1, 1], [1, 1]), 1000); // queued: 4 rows
    const full = batcher.submit(spec, policy, input([2, 2], [2, 2], [2, 2]), 1000);
    await expect(full).rejects.toMatchObject({ code: 'QUEUE_FULL' });
  });

  it('answers DEADLINE_EXCEEDED for a request past its deadline, which then never reaches a worker', async () => {
    vi.useFakeTimers();
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(1, run, observer, () => Date.now());
    void batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([0, 0]), 10_000);
    const late = batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([9, 9]), 50);
    vi.advanceTimersByTime(60);
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    batches[0]!.finish();
    await vi.runAllTimersAsync();
    expect(batches).toHaveLength(1);
    expect(batcher.stats()[0]!.queuedRows).toBe(0);
  });

  it('gives every request in a failed batch the error', async () => {
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    const running = batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([0, 0]), 1000);
    const a = batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([1, 1]), 1000);
    const b = batcher.submit(spec, { ...policy, maxDelayMs: 0 }, input([2, 2]), 1000);
    batches[0]!.finish();
    await running;
    await tick();
    batches[1]!.finish(new ServiceError('INFERENCE_FAILED', 'boom'));
    await expect(a).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    await expect(b).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
  });
});
