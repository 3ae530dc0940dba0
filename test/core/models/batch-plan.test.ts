import { describe, expect, it } from 'vitest';
import type { TensorSpec } from '../../../src/core/models/model-spec.js';
import { decideBatching, planBatching } from '../../../src/core/models/batch-plan.js';

const t = (name: string, shape: TensorSpec['shape']): TensorSpec => ({ name, dtype: 'float32', shape });

describe('where a model batches, if anywhere', () => {
  it('batches along a symbol every output and each batched input carry once, at whatever axis', () => {
    const plan = planBatching(
      [t('audio', ['batch', 'seq']), t('sr', []), t('state', [2, 'batch', 64])],
      [t('out', ['batch', 1]), t('stateN', [2, 'batch', 64])],
    );
    expect(plan).toEqual({
      dim: 'batch',
      inputs: { audio: 0, state: 1 },
      outputs: { out: 0, stateN: 1 },
      fixedOne: false,
    });
  });

  it('prefers the dim nearest the front when several qualify, and takes model.json’s choice', () => {
    const inputs = [t('ids', ['batch', 'seq']), t('mask', ['batch', 'seq'])];
    const outputs = [t('hidden', ['batch', 'seq', 8])];
    expect(planBatching(inputs, outputs)?.dim).toBe('batch');
    expect(planBatching(inputs, outputs, { dim: 'seq' })?.inputs).toEqual({ ids: 1, mask: 1 });
    expect(() => planBatching(inputs, [t('pooled', ['batch', 8])], { dim: 'seq' })).toThrow(/batching.dim "seq"/);
  });

  it('does not batch when an output lacks the dim, an input carries it twice, or model.json says no', () => {
    expect(planBatching([t('x', ['batch', 4])], [t('mean', [4])])).toBeUndefined();
    expect(planBatching([t('square', ['n', 'n'])], [t('y', ['n'])])).toBeUndefined();
    expect(planBatching([t('x', ['batch', 4])], [t('y', ['batch'])], { enabled: false })).toBeUndefined();
    expect(planBatching([t('a', [2, 2])], [t('b', [2, 2])])).toBeUndefined();
  });

  it('runs a row at a time where the file fixes dim 0 at 1, and names no plan where dim 0 is open but unnamed', () => {
    expect(planBatching([t('x', [1, 4])], [t('y', [1, 2])])).toEqual({
      dim: 'axis 0',
      inputs: { x: 0 },
      outputs: { y: 0 },
      fixedOne: true,
    });
    expect(planBatching([t('x', [null, 4])], [t('y', [1, 2])])?.fixedOne).toBe(true);
    expect(planBatching([t('x', [null, 4])], [t('y', [null, 2])])).toBeUndefined();
  });
});

describe('how a batch dim is established: named, to be probed, configured, or none', () => {
  it('calls a shared dim name named, and says which', () => {
    expect(decideBatching([t('x', ['batch', 4])], [t('y', ['batch', 2])])).toEqual({
      source: 'named',
      plan: { dim: 'batch', inputs: { x: 0 }, outputs: { y: 0 }, fixedOne: false },
      reason: 'every output and each batched input carry the dim "batch"',
    });
    expect(decideBatching([t('x', ['n', 4])], [t('y', ['n'])], { dim: 'n' }).reason).toBe(
      'batching.dim "n" in model.json',
    );
  });

  it('leaves dim 0 to the probe where it is open everywhere under different names or none', () => {
    const paddle = decideBatching(
      [t('x', ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'])],
      [t('probabilities', ['p2o.DynamicDimension.3', 2])],
    );
    expect(paddle).toEqual({
      source: 'probed',
      unproven: { dim: 'batch', inputs: { x: 0 }, outputs: { probabilities: 0 }, fixedOne: false },
      reason: 'dim 0 is open on every tensor, under different names or none',
    });
    expect(paddle.plan).toBeUndefined(); // nothing merges before the probe proves it
    expect(
      decideBatching([t('a', [null, 2]), t('b', ['unk__1', 2])], [t('s', ['unk__2', 2])]).unproven?.inputs,
    ).toEqual({
      a: 0,
      b: 0,
    });
  });

  it('says why there is no batch dim', () => {
    expect(decideBatching([t('x', ['unk__1', 4])], [t('mean', [4])])).toEqual({
      source: 'none',
      reason: 'no dim name is carried by every output and each batched input, and output "mean" [4] has no open dim 0',
    });
    expect(decideBatching([t('x', ['a', 4]), t('k', [])], [t('y', ['b'])]).reason).toMatch(
      /input "k" \[\] has no open dim 0/,
    );
    expect(decideBatching([t('x', ['batch', 4])], [t('y', ['batch'])], { enabled: false })).toEqual({
      source: 'none',
      reason: 'batching.enabled is false in model.json',
    });
  });

  it('takes batching.axes for any axis, and refuses axes the file contradicts', () => {
    const inputs = [t('state', [2, 'unk__1', 4]), t('sr', [])];
    const outputs = [t('next', [2, 'unk__2', 4])];
    expect(decideBatching(inputs, outputs, { axes: { state: 1, next: 1 } })).toEqual({
      source: 'configured',
      unproven: { dim: 'batch', inputs: { state: 1 }, outputs: { next: 1 }, fixedOne: false },
      reason: 'batching.axes in model.json',
    });
    const refusal = (axes: Record<string, number>) => () => decideBatching(inputs, outputs, { axes });
    expect(refusal({ state: 1, nxt: 1 })).toThrow(
      'model.json batching.axes: "nxt" is neither an input (state, sr) nor an output (next) of the model',
    );
    expect(refusal({ state: 1 })).toThrow('it gives no axis for output "next"; every output needs one');
    expect(refusal({ state: 0, next: 1 })).toThrow('"state" [2,unk__1,4] fixes axis 0 at 2');
    expect(refusal({ state: 3, next: 1 })).toThrow('"state" [2,unk__1,4] has no axis 3');
    expect(refusal({ next: 1 })).toThrow('it gives no axis for any input');
  });
});
