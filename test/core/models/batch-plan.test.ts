import { describe, expect, it } from 'vitest';
import type { TensorSpec } from '../../../src/core/models/model-spec.js';
import { planBatching } from '../../../src/core/models/batch-plan.js';

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

  it('takes axis 0 where the file leaves it unnamed everywhere, and runs a row at a time where it is fixed at 1', () => {
    expect(planBatching([t('x', [null, 4])], [t('y', [null, 2])])).toEqual({
      dim: 'axis 0',
      inputs: { x: 0 },
      outputs: { y: 0 },
      fixedOne: false,
    });
    expect(planBatching([t('x', [1, 4])], [t('y', [1, 2])])?.fixedOne).toBe(true);
    expect(planBatching([t('x', [null, 4]), t('k', [])], [t('y', [null])])).toBeUndefined();
  });
});
