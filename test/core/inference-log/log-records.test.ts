import { describe, expect, it } from 'vitest';
import {
  headOf,
  isoTime,
  predictionLines,
  recordLine,
  versionText,
} from '../../../src/core/inference-log/log-records.js';
import type { ModelSpec } from '../../../src/core/models/model-spec.js';
import type { NamedTensors } from '../../../src/core/tensors/tensor.js';

const spec = {
  name: 'credit "scoring"',
  version: '2',
  featureInput: 'x',
  features: [{ name: 'income' }, { name: 'age' }],
} as unknown as ModelSpec;
const inputs: NamedTensors = { x: { dtype: 'float32', shape: [1, 2], data: Float32Array.of(52000.5, Number.NaN) } };
const outputs: NamedTensors = {
  label: { dtype: 'int64', shape: [1], data: BigInt64Array.of(-9223372036854775808n) },
  p: { dtype: 'float64', shape: [1, 2], data: Float64Array.of(0.25, Number.POSITIVE_INFINITY) },
};
const time = Date.UTC(2026, 11, 7, 1, 2, 3, 4);

describe('a prediction’s records written as text', () => {
  it.each([
    ['all', 'canary', true],
    ['request', undefined, true],
    ['response', 'b', false],
    ['all', undefined, false],
  ] as const)(
    'equal the records built as objects and stringified (mode %s, variant %s, inputs %s)',
    (mode, variant, withInputs) => {
      const predictions = [{ label: 'no', confidence: 0.75 }];
      const lines = predictionLines(
        { id: 'p-1', ...(variant && { variant }), outputs, predictions, cached: true, latencyMs: 0.12345 },
        time,
        withInputs ? inputs : undefined,
        versionText(spec),
        mode,
      );
      const expected: string[] = [];
      if (mode !== 'response')
        expected.push(
          recordLine(
            {
              ...headOf('request', 'p-1', spec, time, variant),
              ...(withInputs ? { feature_input: 'x', features: ['income', 'age'] } : {}),
            },
            withInputs ? { field: 'inputs', values: inputs } : undefined,
          ),
        );
      if (mode !== 'request')
        expected.push(
          recordLine(
            { ...headOf('response', 'p-1', spec, time, variant), cached: true, latency_ms: 0.123, predictions },
            { field: 'outputs', values: outputs },
          ),
        );
      expect(lines).toEqual(expected);
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    },
  );

  it('writes times as toISOString() does, whatever the milliseconds and seconds before', () => {
    const times = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, time, time + 1, time - 1, time + 61_000, -1, 253402300799999];
    for (const ms of [...times, ...times.reverse()]) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('writes NaN and infinities as null, 64-bit integers in all their digits', () => {
    const [request, response] = predictionLines(
      { id: 'p', outputs, cached: false, latencyMs: 1 },
      time,
      inputs,
      versionText(spec),
      'all',
    );
    expect(request).toContain('"data":[52000.5,null]');
    expect(response).toContain('"data":[-9223372036854775808]');
    expect(response).toContain('"data":[0.25,null]');
  });
});
