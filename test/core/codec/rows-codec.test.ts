import { describe, expect, it } from 'vitest';
import type { ValidationLevel } from '../../../src/core/codec/input-checks.js';

import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { buildModelSpec, type TensorInfo } from '../../../src/core/models/model-spec.js';
import { buildRunner } from '../../../src/core/serving/model-runner.js';
import { thrownServiceError } from '../../helpers/errors.js';
import { FEATURES, INSTANCES } from '../../../src/protocols/v1/rows-places.js';

const base = { name: 'm', version: '1', path: '/m.onnx', sha256: 'x' };

/** JSON rows through the rows codec, then the model's input checks: what /predict does with them. */
function codec(input: TensorInfo, config: unknown = {}) {
  const outputs: TensorInfo[] = [{ name: 'out', dtype: 'float32', shape: ['batch', 3] }];
  const runner = buildRunner(
    buildModelSpec(base, modelConfigSchema.parse(config), { inputs: [input], outputs }, 'strict'),
    { maxBatchRows: 64, maxDelayMs: 0, maxQueueRows: 100 },
  );
  if ('refusal' in runner.rowInput) throw new Error(runner.rowInput.refusal);
  const rows = runner.rowInput;
  return {
    encode(values: unknown[], root: 'features' | 'instances', level: ValidationLevel) {
      const decoded = rows.codec.decode(values, root === 'features' ? FEATURES : INSTANCES, level);
      const checked = runner.checks.check({ [rows.input]: decoded.tensor }, level, decoded.locator);
      const tensor = checked.tensors[rows.input]!;
      return { data: tensor.data, dims: tensor.shape, warnings: [...decoded.warnings, ...checked.warnings] };
    },
  };
}

const iris = codec(
  { name: 'input', dtype: 'float32', shape: ['batch', 4] },
  {
    task: 'classification',
    labels: ['a', 'b', 'c'],
    features: [
      { name: 'sepal_length', min: 4, max: 8 },
      { name: 'sepal_width', min: 2, max: 4.5 },
      { name: 'petal_length', min: 1, max: 7 },
      { name: 'petal_width', min: 0.1, max: 2.5 },
    ],
  },
);
const image = codec({ name: 'image', dtype: 'float32', shape: ['batch', 3, 4, 5] });
const ids = codec({ name: 'ids', dtype: 'int64', shape: ['batch', 'length'] });

const failure = thrownServiceError;

const row = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

describe('JSON rows: the rows codec and the input checks', () => {
  it('puts named features in the model input order', () => {
    const out = iris.encode(
      [{ petal_width: 0.2, petal_length: 1.4, sepal_width: 3.5, sepal_length: 5.1 }],
      'features',
      'strict',
    );
    expect(out.dims).toEqual([1, 4]);
    expect([...out.data]).toEqual([5.1, 3.5, 1.4, 0.2].map(Math.fround));
  });

  it('accepts array rows and named rows in one request', () => {
    const out = iris.encode([[5.1, 3.5, 1.4, 0.2], row], 'instances', 'strict');
    expect(out.dims).toEqual([2, 4]);
    expect([...out.data.slice(4)]).toEqual([...out.data.slice(0, 4)]);
  });

  it('rejects a missing, an unknown and a non-numeric feature with their paths', () => {
    const err = failure(() =>
      iris.encode([{ sepal_length: 5.1, sepal_width: '3.5', petal_length: 1.4, extra: 1 }], 'features', 'strict'),
    );
    expect(err.code).toBe('INVALID_INPUT');
    const byPath = Object.fromEntries(err.details!.map((d) => [d.path, d.message]));
    expect(byPath['features.petal_width']).toMatch(/expected a finite number/);
    expect(byPath['features.sepal_width']).toMatch(/string "3.5"/);
    expect(byPath['features']).toMatch(/unknown feature "extra"/);
  });

  it('rejects non-finite numbers (JSON 1e999 parses to Infinity)', () => {
    const parsed = JSON.parse('{"sepal_length":1e999,"sepal_width":3,"petal_length":1,"petal_width":1}');
    const err = failure(() => iris.encode([parsed], 'features', 'strict'));
    expect(err.details).toEqual([{ path: 'features.sepal_length', message: 'expected a finite number, got Infinity' }]);
  });

  it('strict rejects values outside the feature range; permissive clamps them and warns', () => {
    const wide = { ...row, sepal_length: 9.5 };
    const err = failure(() => iris.encode([wide], 'instances', 'strict'));
    expect(err.details![0]!.path).toBe('instances[0].sepal_length');
    const out = iris.encode([{ ...wide, petal_width: '0.3' }], 'instances', 'permissive');
    expect(out.data[0]).toBe(8);
    expect(out.data[3]).toBeCloseTo(0.3);
    // the rows codec's warnings (numeric strings) come before the input checks' (clamps)
    expect(out.warnings.map((w) => w.path)).toEqual(['instances[0].petal_width', 'instances[0].sepal_length']);
  });

  it('permissive still rejects strings that are not numbers', () => {
    const err = failure(() => iris.encode([{ ...row, sepal_length: 'NaN' }], 'features', 'permissive'));
    expect(err.details![0]!.path).toBe('features.sepal_length');
  });

  it('checks array row length against the feature count', () => {
    const err = failure(() => iris.encode([[5.1, 3.5, 1.4]], 'instances', 'strict'));
    expect(err.details![0]!.path).toBe('instances[0]');
  });

  it('takes image rows nested or flat, and names the wrong dim', () => {
    const nested = Array.from({ length: 3 }, (_, c) =>
      Array.from({ length: 4 }, (_, y) => Array.from({ length: 5 }, (_, x) => c * 20 + y * 5 + x)),
    );
    const flat = Array.from({ length: 60 }, (_, i) => i);
    const out = image.encode([nested, flat], 'instances', 'strict');
    expect(out.dims).toEqual([2, 3, 4, 5]);
    expect([...out.data.slice(0, 60)]).toEqual(flat);
    expect([...out.data.slice(60)]).toEqual(flat);

    nested[1]![2]!.pop();
    const err = failure(() => image.encode([nested], 'instances', 'strict'));
    expect(err.details![0]!.path).toBe('instances[0][1][2]');
    expect(failure(() => image.encode([flat.slice(1)], 'instances', 'strict')).details![0]!.path).toBe('instances[0]');
  });

  it('refuses named features for a model without feature names', () => {
    const err = failure(() => image.encode([{ a: 1 }], 'instances', 'strict'));
    expect(err.details![0]!.message).toMatch(/no named features/);
  });

  it('builds int64 tensors from integers, with open dims taken from the rows', () => {
    const out = ids.encode(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      'instances',
      'strict',
    );
    expect(out.data).toBeInstanceOf(BigInt64Array);
    expect(out.dims).toEqual([2, 3]);
    expect(failure(() => ids.encode([[1.5, 2]], 'instances', 'strict')).details![0]!.message).toMatch(/integer/);
    expect(failure(() => ids.encode([[1, 2], [3]], 'instances', 'strict')).details![0]!.path).toBe('instances[1]');
  });

  it('caps the number of details so a huge bad body gets a bounded answer', () => {
    const rows = Array.from({ length: 500 }, () => ({ bad: true }));
    const err = failure(() => iris.encode(rows, 'instances', 'strict'));
    expect(err.details!.length).toBeLessThanOrEqual(20);
  });
});
