import { describe, expect, it, vi } from 'vitest';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { buildModelSpec, type TensorInfo } from '../../../src/core/models/model-spec.js';
import { buildRunner } from '../../../src/core/serving/model-runner.js';
import type { NamedTensors } from '../../../src/core/tensors/tensor.js';
import { thrownServiceError } from '../../helpers/errors.js';

const runnerOf = (inputs: TensorInfo[], outputs: TensorInfo[], config: unknown = {}, onAnomaly = vi.fn()) =>
  buildRunner(
    buildModelSpec(
      { name: 'm', version: '1', path: '', sha256: '' },
      modelConfigSchema.parse(config),
      { inputs, outputs },
      'strict',
    ),
    { maxBatchRows: 8, maxDelayMs: 0, maxQueueRows: 64 },
    onAnomaly,
  );

const vad = runnerOf(
  [
    { name: 'audio', dtype: 'float32', shape: ['batch', 'seq'] },
    { name: 'sr', dtype: 'int64', shape: [] },
    { name: 'state', dtype: 'float32', shape: [2, 'batch', 4] },
  ],
  [{ name: 'out', dtype: 'float32', shape: ['batch', 1] }],
);
const f32 = (shape: number[], fill = 0) => ({
  dtype: 'float32' as const,
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
});
const good = (): NamedTensors => ({
  audio: f32([3, 10]),
  sr: { dtype: 'int64', shape: [1], data: new BigInt64Array([16000n]) },
  state: f32([2, 3, 4]),
});

const failure = thrownServiceError;

describe('input checks compiled from the model metadata', () => {
  it('accept a good request, take a [1] scalar as [], and count rows along the batch axis', () => {
    const checked = vad.checks.check(good(), 'strict');
    expect(checked.rows).toBe(3);
    expect(checked.tensors.sr!.shape).toEqual([]);
  });

  it('name a missing and an unknown input, each with what the model takes', () => {
    const { sr: _, ...rest } = good();
    const err = failure(() => vad.checks.check({ ...rest, extra: f32([1]) }, 'strict'));
    expect(err.details!.map((d) => d.path)).toEqual(['extra', 'sr']);
    expect(err.details![0]!.message).toMatch(
      /unknown input "extra"; the model takes audio float32\[batch,seq\], sr int64\[\], state float32\[2,batch,4\]/,
    );
  });

  it('refuse the wrong dtype, rank, fixed dim, element count and an empty batch', () => {
    const cases: [NamedTensors, string][] = [
      [
        { ...good(), audio: { dtype: 'float64', shape: [3, 10], data: new Float64Array(30) } },
        'input "audio" takes float32, got float64',
      ],
      [{ ...good(), audio: f32([30]) }, 'shape [30] has rank 1; the model takes float32[batch,seq]'],
      [{ ...good(), state: f32([3, 3, 4]) }, 'dim 0 is 3; the model takes float32[2,batch,4]'],
      [{ ...good(), audio: { ...f32([3, 10]), data: new Float32Array(29) } }, 'shape [3,10] holds 30 elements; got 29'],
      [{ ...good(), audio: f32([0, 10]), state: f32([2, 0, 4]) }, 'dim 0 (batch) is 0; send at least one row'],
      [
        { ...good(), sr: { dtype: 'int64', shape: [2], data: new BigInt64Array(2) } },
        'shape [2] has rank 1; the model takes int64[]',
      ],
    ];
    for (const [tensors, message] of cases)
      expect(failure(() => vad.checks.check(tensors, 'strict')).details![0]!.message).toBe(message);
  });

  it('hold one value per symbolic dim across inputs', () => {
    const err = failure(() => vad.checks.check({ ...good(), state: f32([2, 2, 4]) }, 'strict'));
    expect(err.details).toEqual([{ path: 'state', message: 'dim 1 (batch) is 2, but input "audio" has batch = 3' }]);
  });

  it('hold one row count across inputs whose batch dims the file names differently (a probed plan)', () => {
    const spec = buildModelSpec(
      { name: 'm', version: '1', path: '', sha256: '' },
      {},
      {
        inputs: [
          { name: 'a', dtype: 'float32', shape: ['unk__1', 2] },
          { name: 'b', dtype: 'float32', shape: ['unk__2', 2] },
        ],
        outputs: [{ name: 'sum', dtype: 'float32', shape: ['unk__3', 2] }],
      },
      'strict',
    );
    const plan = { dim: 'batch', inputs: { a: 0, b: 0 }, outputs: { sum: 0 }, fixedOne: false };
    const runner = buildRunner(spec, { maxBatchRows: 8, maxDelayMs: 0, maxQueueRows: 64 }, undefined, {
      source: 'probed',
      plan,
      reason: 'proven',
    });
    expect(runner.checks.check({ a: f32([3, 2]), b: f32([3, 2]) }, 'strict').rows).toBe(3);
    const err = failure(() => runner.checks.check({ a: f32([3, 2]), b: f32([2, 2]) }, 'strict'));
    expect(err.details).toEqual([{ path: 'b', message: 'dim 0 (batch) is 2, but input "a" has batch = 3' }]);
  });

  it('refuse NaN and Infinity in any float input, naming the position; count them', () => {
    const onAnomaly = vi.fn();
    const runner = runnerOf(
      [{ name: 'x', dtype: 'float32', shape: ['batch', 2, 2] }],
      [{ name: 'y', dtype: 'float32', shape: ['batch'] }],
      {},
      onAnomaly,
    );
    const x = f32([2, 2, 2]);
    (x.data as Float32Array)[6] = Number.NaN;
    (x.data as Float32Array)[1] = -Infinity;
    const err = failure(() => runner.checks.check({ x }, 'permissive'));
    expect(err.details).toEqual([
      { path: 'x[0][0][1]', message: 'expected a finite number, got -Infinity' },
      { path: 'x[1][1][0]', message: 'expected a finite number, got NaN' },
    ]);
    expect(onAnomaly).toHaveBeenCalledWith('non_finite', 2);
  });

  it('apply model.json feature ranges to the input they describe: strict refuses, permissive clamps and warns', () => {
    const runner = runnerOf(
      [
        { name: 'features', dtype: 'float32', shape: ['batch', 2] },
        { name: 'other', dtype: 'float32', shape: ['batch', 2] },
      ],
      [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
      {
        input: 'features',
        features: [
          { name: 'a', min: 0, max: 1 },
          { name: 'b', min: 0, max: 7.9 },
        ],
      },
    );
    const tensors = () => ({
      features: { dtype: 'float32' as const, shape: [1, 2], data: new Float32Array([2, 7.9]) },
      other: f32([1, 2], 100),
    });
    expect(failure(() => runner.checks.check(tensors(), 'strict')).details).toEqual([
      { path: 'features[0][0]', message: 'must be between 0 and 1 (the range of a in model.json)' },
    ]);
    const clamped = runner.checks.check(tensors(), 'permissive');
    expect([...(clamped.tensors.features!.data as Float32Array)]).toEqual([1, Math.fround(7.9)]);
    expect(clamped.warnings).toEqual([
      { path: 'features[0][0]', message: '2 clamped to 1 (the range of a in model.json)' },
    ]);
  });

  it('let a model fixed at batch 1 take any number of rows (they run one at a time)', () => {
    const one = runnerOf(
      [{ name: 'x', dtype: 'float32', shape: [1, 3] }],
      [{ name: 'y', dtype: 'float32', shape: [1, 2] }],
    );
    expect(one.policy.maxBatchRows).toBe(1);
    expect(one.checks.check({ x: f32([5, 3]) }, 'strict').rows).toBe(5);
  });
});
