import { afterEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../../src/core/serving/batcher.js';
import type { BatchPolicy } from '../../../src/core/serving/model-runner.js';
import { buildRunner } from '../../../src/core/serving/model-runner.js';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { buildModelSpec, type TensorInfo } from '../../../src/core/models/model-spec.js';
import type { NamedTensors } from '../../../src/core/tensors/tensor.js';
import { ServiceError } from '../../../src/errors.js';

const specOf = (inputs: TensorInfo[], outputs: TensorInfo[]) =>
  buildModelSpec(
    { name: 'm', version: '1', path: '/m', sha256: 'x' },
    modelConfigSchema.parse({}),
    { inputs, outputs },
    'strict',
  );
const spec = specOf(
  [{ name: 'x', dtype: 'float32', shape: ['batch', 2] }],
  [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }],
);
const policy: BatchPolicy = { maxBatchRows: 4, maxDelayMs: 5, maxQueueRows: 6 };
const runner = (overrides: Partial<BatchPolicy> = {}) => buildRunner(spec, { ...policy, ...overrides });
const request = (...values: number[][]) => ({
  tensors: { x: { dtype: 'float32' as const, shape: [values.length, 2], data: new Float32Array(values.flat()) } },
  rows: values.length,
  fetch: ['y'],
});

/** A stand-in for the worker pool: records every batch and answers (y = x0 + x1 per row) when the test says so. */
function fakeRuns() {
  const batches: { rows: number; inputs: NamedTensors; background?: boolean; finish(err?: Error): void }[] = [];
  const run = (
    _: unknown,
    inputs: NamedTensors,
    _fetch: string[],
    rows: number,
    _traces?: unknown,
    background?: boolean,
  ) =>
    new Promise<NamedTensors>((resolve, reject) => {
      const x = inputs.x!.data as Float32Array;
      batches.push({
        rows,
        inputs,
        background,
        finish: (err) =>
          err
            ? reject(err)
            : resolve({
                y: {
                  dtype: 'float32',
                  shape: [rows, 1],
                  data: Float32Array.from({ length: rows }, (_, r) => x[r * 2]! + x[r * 2 + 1]!),
                },
              }),
      });
    });
  return { batches, run };
}

const observer = { batch: vi.fn(), queueWait: vi.fn() };
const tick = () => new Promise((resolve) => setImmediate(resolve));
const ys = (outputs: NamedTensors) => [...(outputs.y!.data as Float32Array)];

describe('Batcher', () => {
  afterEach(() => vi.useRealTimers());

  it('merges requests that arrive while the worker is busy into one batch, and splits the answers back', async () => {
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    const now = runner({ maxDelayMs: 0 });
    const first = batcher.submit(now, request([1, 1]), 1000);
    const second = batcher.submit(now, request([2, 2], [3, 3]), 1000);
    const third = batcher.submit(now, request([4, 4]), 1000);
    expect(batches).toHaveLength(1); // the worker is busy with the first request
    batches[0]!.finish();
    await first;
    await tick(); // the freed slot is refilled once the finished batch settles
    expect(batches).toHaveLength(2);
    expect(batches[1]!.rows).toBe(3);
    batches[1]!.finish();
    expect(ys(await second)).toEqual([4, 6]);
    expect(ys(await third)).toEqual([8]);
    expect((await third).y!.shape).toEqual([1, 1]);
    expect(observer.batch).toHaveBeenLastCalledWith('m', '1', 3, 2);
  });

  it('waits up to maxDelayMs for a fuller batch while a worker is free', async () => {
    vi.useFakeTimers();
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(2, run, observer, () => Date.now());
    void batcher.submit(runner(), request([1, 1]), 1000);
    void batcher.submit(runner(), request([2, 2]), 1000);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(5);
    expect(batches.map((b) => b.rows)).toEqual([2]);
  });

  it('dispatches at once when a full batch is queued, and never exceeds maxBatchRows', async () => {
    vi.useFakeTimers();
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(2, run, observer, () => Date.now());
    void batcher.submit(runner(), request([1, 1], [1, 1], [1, 1]), 1000);
    void batcher.submit(runner(), request([2, 2], [2, 2]), 1000);
    expect(batches.map((b) => b.rows)).toEqual([3]);
    vi.advanceTimersByTime(5);
    expect(batches.map((b) => b.rows)).toEqual([3, 2]);
  });

  it('answers QUEUE_FULL at once when the queue holds max_queue_size rows', async () => {
    const { run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    void batcher.submit(runner(), request([0, 0]), 1000); // running
    void batcher.submit(runner(), request([1, 1], [1, 1], [1, 1], [1, 1]), 1000); // queued: 4 rows
    const full = batcher.submit(runner(), request([2, 2], [2, 2], [2, 2]), 1000);
    await expect(full).rejects.toMatchObject({ code: 'QUEUE_FULL' });
  });

  it('admits a request run in parts whole or not at all: admit() refuses rows the queue cannot hold, and nothing is queued', () => {
    const { run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    void batcher.submit(runner(), request([0, 0]), 1000); // running
    void batcher.submit(runner(), request([1, 1], [1, 1], [1, 1], [1, 1]), 1000); // queued: 4 rows of 6
    expect(() => batcher.admit(runner(), 3)).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    expect(batcher.stats()[0]!.queuedRows).toBe(4);
    expect(() => batcher.admit(runner(), 2)).not.toThrow();
  });

  it('answers DEADLINE_EXCEEDED for a request past its deadline, which then never reaches a worker', async () => {
    vi.useFakeTimers();
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(1, run, observer, () => Date.now());
    void batcher.submit(runner({ maxDelayMs: 0 }), request([0, 0]), 10_000);
    const late = batcher.submit(runner({ maxDelayMs: 0 }), request([9, 9]), 50);
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
    const now = runner({ maxDelayMs: 0 });
    const running = batcher.submit(now, request([0, 0]), 1000);
    const a = batcher.submit(now, request([1, 1]), 1000);
    const b = batcher.submit(now, request([2, 2]), 1000);
    batches[0]!.finish();
    await running;
    await tick();
    batches[1]!.finish(new ServiceError('INFERENCE_FAILED', 'boom'));
    await expect(a).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    await expect(b).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
  });

  it('runs a merged batch the model refused again request by request, so only the one at fault gets the error', async () => {
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    const now = runner({ maxDelayMs: 0 });
    const running = batcher.submit(now, request([0, 0]), 1000);
    const good = batcher.submit(now, request([1, 1]), 1000);
    const bad = batcher.submit(now, request([-1, -1]), 1000);
    batches[0]!.finish();
    await running;
    await tick();
    expect(batches[1]!.rows).toBe(2);
    batches[1]!.finish(
      new ServiceError('MODEL_REJECTED_INPUT', 'the model could not run on this input: Gather: idx=-1'),
    );
    await tick();
    expect(batches.map((b) => b.rows)).toEqual([1, 2, 1]); // the first of the two, alone
    batches[2]!.finish();
    expect(ys(await good)).toEqual([2]);
    await tick();
    batches[3]!.finish(
      new ServiceError('MODEL_REJECTED_INPUT', 'the model could not run on this input: Gather: idx=-1'),
    );
    await expect(bad).rejects.toMatchObject({ code: 'MODEL_REJECTED_INPUT' });
    expect(batches).toHaveLength(4);
  });

  it('merges only requests whose shared inputs are identical, and never those of a model without a batch dim', async () => {
    const withScale = specOf(
      [
        { name: 'x', dtype: 'float32', shape: ['batch', 2] },
        { name: 'scale', dtype: 'float32', shape: [] },
      ],
      [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }],
    );
    const scaled = (scale: number, ...values: number[][]) => {
      const r = request(...values);
      return {
        ...r,
        tensors: { ...r.tensors, scale: { dtype: 'float32' as const, shape: [], data: new Float32Array([scale]) } },
      };
    };
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(1, run, observer);
    const shared = buildRunner(withScale, { ...policy, maxDelayMs: 0 });
    void batcher.submit(shared, scaled(1, [0, 0]), 1000); // running
    void batcher.submit(shared, scaled(2, [1, 1]), 1000);
    void batcher.submit(shared, scaled(3, [2, 2]), 1000);
    void batcher.submit(shared, scaled(2, [3, 3]), 1000);
    batches[0]!.finish();
    await tick();
    await tick();
    expect(batches[1]!.rows).toBe(2); // scale 2 twice; scale 3 waits for its own run
    expect([...(batches[1]!.inputs.x!.data as Float32Array)]).toEqual([1, 1, 3, 3]);

    const alone = buildRunner(
      specOf([{ name: 'x', dtype: 'float32', shape: [2, 2] }], [{ name: 'y', dtype: 'float32', shape: [2, 1] }]),
      { ...policy, maxDelayMs: 0 },
    );
    expect(alone.plan).toBeUndefined();
    const solo = fakeRuns();
    const soloBatcher = new Batcher(1, solo.run, observer);
    for (let i = 0; i < 3; i++) void soloBatcher.submit(alone, request([i, i], [i, i]), 1000);
    for (let i = 0; i < 3; i++) {
      expect(solo.batches).toHaveLength(i + 1);
      solo.batches[i]!.finish();
      await tick();
      await tick();
    }
    expect(solo.batches.map((b) => b.rows)).toEqual([2, 2, 2]);
  });

  it("runnerIdle() waits for the runner's queued and running batches, even one whose request timed out; other runners do not count", async () => {
    const { batches, run } = fakeRuns();
    const batcher = new Batcher(2, run, observer);
    const old = runner({ maxDelayMs: 0, maxBatchRows: 1 });
    const other = buildRunner({ ...spec, key: 'm@1#2' }, { ...policy, maxDelayMs: 0 });
    // Answered 504, still running
    const late = batcher.submit(old, request([1, 1]), 1).catch((err: ServiceError) => err.code);
    const queued = batcher.submit(old, request([2, 2]), 1000);
    batcher.submit(old, request([3, 3]), 1000).catch(() => undefined);
    void batcher.submit(other, request([4, 4]), 1000);
    expect(await late).toBe('DEADLINE_EXCEEDED');
    let idle = false;
    const waiting = batcher.runnerIdle(old).then(() => (idle = true));
    expect(batcher.stats()).toEqual([{ model: 'm', version: '1', queuedRows: 2, inflightBatches: 2 }]); // both runners of m@1, summed (one row queued each)
    batches[0]!.finish(); // the timed-out one
    await tick();
    expect(idle).toBe(false); // two of the old runner's requests remain
    batches.slice(1).forEach((b) => b.finish());
    await tick();
    batches.slice(3).forEach((b) => b.finish());
    await queued;
    await waiting;
    expect(idle).toBe(true);
    expect(batcher.stats().map((s) => s.queuedRows + s.inflightBatches)).toEqual([0]); // the old queue is forgotten
  });

  describe('the background lane (shadow traffic)', () => {
    const background = (...values: number[][]) => ({ ...request(...values), background: true });

    it('runs a background request beside the client slots, but only while no client batch is due and waiting', async () => {
      const { batches, run } = fakeRuns();
      const batcher = new Batcher(1, run, observer);
      const now = runner({ maxDelayMs: 0 });
      const client = batcher.submit(now, request([1, 1]), 1000); // takes the one client slot
      expect(batcher.clientsWaiting()).toBe(false);
      const waiting = batcher.submit(now, request([2, 2]), 1000); // due, and waiting for the slot
      expect(batcher.clientsWaiting()).toBe(true);
      let dispatched = 0;
      const shadow = batcher.submit(now, { ...background([5, 5]), onDispatch: () => dispatched++ }, 1000);
      expect(batches).toHaveLength(1); // a client waits: the shadow too, behind it
      batches[0]!.finish();
      await client;
      await tick();
      expect(batches.map((b) => b.rows)).toEqual([1, 1, 1]); // the waiting client, and now the shadow beside it
      // The runtime is told which run no client waits for
      expect(batches.map((b) => b.background)).toEqual([false, false, true]);
      expect(dispatched).toBe(1);
      batches[1]!.finish();
      batches[2]!.finish();
      expect(ys(await waiting)).toEqual([4]);
      expect(ys(await shadow)).toEqual([10]);
    });

    it("never takes a client's queue rows: a full background queue refuses only background requests", async () => {
      const { run } = fakeRuns();
      const batcher = new Batcher(1, run, observer);
      const now = runner({ maxDelayMs: 0 });
      void batcher.submit(now, request([0, 0]), 1000); // running
      void batcher.submit(now, request([1, 1]), 1000); // waiting: the background lane stays queued
      void batcher.submit(now, background([1, 1], [1, 1], [1, 1], [1, 1]), 1000).catch(() => undefined);
      await expect(batcher.submit(now, background([2, 2], [2, 2], [2, 2]), 1000)).rejects.toMatchObject({
        code: 'QUEUE_FULL',
      });
      expect(() => batcher.admit(now, 5)).not.toThrow(); // the client queue holds 1 row of 6
    });

    it('runs one background batch at a time, merging what queued meanwhile, and reports no client queue wait for it', async () => {
      const { batches, run } = fakeRuns();
      const wait = vi.fn();
      const batcher = new Batcher(2, run, { batch: vi.fn(), queueWait: wait });
      const now = runner({ maxDelayMs: 0 });
      const shadows = [
        batcher.submit(now, background([1, 1]), 1000),
        batcher.submit(now, background([2, 2]), 1000),
        batcher.submit(now, background([3, 3]), 1000),
      ];
      // A second worker is free, but background work takes one at a time
      expect(batches.map((b) => b.rows)).toEqual([1]);
      batches[0]!.finish();
      await tick();
      expect(batches.map((b) => b.rows)).toEqual([1, 2]);
      batches[1]!.finish();
      expect((await Promise.all(shadows)).map(ys)).toEqual([[2], [4], [6]]);
      expect(wait).not.toHaveBeenCalled();
    });

    it('counts in runnerIdle() and idle(): a version is not released under a queued shadow', async () => {
      const { batches, run } = fakeRuns();
      const batcher = new Batcher(1, run, observer);
      const now = runner({ maxDelayMs: 0 });
      const shadow = batcher.submit(now, background([1, 1]), 1000);
      let idle = false;
      const released = batcher.runnerIdle(now).then(() => (idle = true));
      await tick();
      expect(idle).toBe(false);
      batches[0]!.finish();
      await shadow;
      await released;
      await batcher.idle();
      expect(idle).toBe(true);
    });
  });
});
