import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectedOutputs, readOutputs, type ExpectedOutputs } from '../../../src/core/cache/expected-outputs.js';
import { encodeStored } from '../../../src/core/cache/stored-outputs.js';
import { ValueSigner } from '../../../src/core/cache/value-signer.js';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { buildModelSpec, type Dim, type TensorInfo } from '../../../src/core/models/model-spec.js';
import { planBatching } from '../../../src/core/models/batch-plan.js';
import { dtypes, setElement, type DType, type TypedArray } from '../../../src/core/tensors/dtypes.js';
import { elementCount, type NamedTensors, type Tensor } from '../../../src/core/tensors/tensor.js';

const signer = new ValueSigner(Buffer.from('a test key of at least thirty-two characters'));
const DTYPES = Object.keys(dtypes) as DType[];

/** What readOutputs is given for outputs this service wrote: the fields of their signed entry. */
function fieldsOf(outputs: NamedTensors): unknown {
  const verified = signer.verify('k', 3, encodeStored(signer, 'k', outputs));
  if (!('fields' in verified)) throw new Error('not verified');
  return verified.fields;
}

/** A model whose outputs are `outputs` ([batch, ...dims]), and what its per-row entries must hold. */
function modelWith(outputs: TensorInfo[]): ExpectedOutputs {
  const spec = buildModelSpec(
    { name: 'm', version: '1', path: '/m', sha256: 'a'.repeat(64) },
    modelConfigSchema.parse({}),
    { inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], outputs },
    'strict',
  );
  return expectedOutputs(
    { spec, plan: planBatching(spec.inputs, spec.outputs) },
    outputs.map((o) => o.name),
  );
}

/** One row of the output: 1 along the batch axis, declared dims as they are, a symbolic dim any size. */
function rowOf({ dtype, shape }: TensorInfo, symbolic: number): Tensor {
  const dims = shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' ? d : symbolic));
  const count = elementCount(dims);
  const data = dtypes[dtype as DType].create(count);
  for (let i = 0; i < count; i++) {
    if (Array.isArray(data)) data[i] = `s${i}`;
    else setElement(data, dtype as DType, i, i % 2);
  }
  return { dtype: dtype as DType, shape: dims, data };
}

const dim: fc.Arbitrary<Dim> = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant('n'), fc.constant(null));
const outputInfos = fc.uniqueArray(
  fc.record({
    name: fc.stringMatching(/^[a-z]{1,6}$/),
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(dim, { maxLength: 3 }).map((dims): Dim[] => ['batch', ...dims]),
  }),
  { minLength: 1, maxLength: 3, selector: (o) => o.name },
);

/** Ways a planted entry can differ from what the model makes; each must be refused. */
const plantings: [string, (fields: { outputs: Record<string, Record<string, unknown>> }, first: string) => void][] = [
  ['an output missing', (f, first) => delete f.outputs[first]],
  ['an extra output', (f) => (f.outputs.extra = f.outputs[Object.keys(f.outputs)[0]!]!)],
  ['a __proto__ output', (f) => Object.defineProperty(f.outputs, '__proto__', { value: {}, enumerable: true })],
  ['no outputs', (f) => (f.outputs = {})],
  [
    'another dtype',
    (f, first) => (f.outputs[first]!.dtype = f.outputs[first]!.dtype === 'float32' ? 'int8' : 'float32'),
  ],
  [
    'the string dtype',
    (f, first) => (f.outputs[first]!.dtype = f.outputs[first]!.dtype === 'string' ? 'float32' : 'string'),
  ],
  ['another rank', (f, first) => (f.outputs[first]!.shape = [...(f.outputs[first]!.shape as number[]), 1])],
  ['no row along the batch axis', (f, first) => ((f.outputs[first]!.shape as number[])[0] = 0)],
  ['two rows along the batch axis', (f, first) => ((f.outputs[first]!.shape as number[])[0] = 2)],
  [
    'a wrong element count',
    (f, first) =>
      (f.outputs[first]!.data = Array.isArray(f.outputs[first]!.data)
        ? [...f.outputs[first]!.data, 'x']
        : `${f.outputs[first]!.data as string}AAAA`),
  ],
  [
    'strings for numbers or numbers for strings',
    (f, first) => (f.outputs[first]!.data = Array.isArray(f.outputs[first]!.data) ? 'AAAA' : ['1']),
  ],
  ['an extra field', (f, first) => (f.outputs[first]!.extra = 1)],
];

describe('readOutputs', () => {
  it('reads back, exactly, every row any model writes', () => {
    fc.assert(
      fc.property(outputInfos, fc.integer({ min: 0, max: 3 }), (infos, symbolic) => {
        const row = Object.fromEntries(infos.map((info) => [info.name, rowOf(info, symbolic)]));
        const expected = modelWith(infos);
        expect(readOutputs(fieldsOf(row), expected)).toEqual(row);
        expect(encodeStored(signer, 'k'.repeat(100), row).length).toBeLessThanOrEqual(expected.maxChars ?? Infinity);
      }),
    );
  });

  it('refuses every way a planted entry differs from the model, and says why without echoing it', () => {
    fc.assert(
      fc.property(
        outputInfos,
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(...plantings),
        (infos, symbolic, [, plant]) => {
          const row = Object.fromEntries(infos.map((info) => [info.name, rowOf(info, symbolic)]));
          const fields = fieldsOf(row) as Parameters<typeof plant>[0];
          plant(fields, infos[0]!.name);
          const read = readOutputs(JSON.parse(JSON.stringify(fields)), modelWith(infos));
          expect(typeof read).toBe('string');
          expect(read).not.toMatch(/AAAA|extra|__proto__/);
        },
      ),
    );
  });

  it('never throws on any JSON, and never makes it outputs', () => {
    const expected = modelWith([{ name: 'y', dtype: 'float32', shape: ['batch', 3] }]);
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        expect(typeof readOutputs(json, expected)).toBe('string');
        expect(typeof readOutputs({ outputs: json }, expected)).toBe('string');
        expect(typeof readOutputs({ outputs: { y: json } }, expected)).toBe('string');
      }),
    );
  });

  it('refuses the entries planted in the issue against iris (probabilities float32 [batch, 3])', () => {
    const iris = modelWith([{ name: 'probabilities', dtype: 'float32', shape: ['batch', 3] }]);
    const b64 = (values: number[], Type: new (v: number[]) => TypedArray = Float32Array) =>
      Buffer.from((new Type(values) as Float32Array).buffer).toString('base64');
    const planted = (probabilities: unknown) => ({ outputs: { probabilities } });
    expect(readOutputs(planted({ dtype: 'float32', shape: [1, 3], data: b64([0.1, 0.2, 0.7]) }), iris)).toHaveProperty(
      'probabilities',
    ); // well-formed: only the signature tells it apart
    expect(readOutputs({ outputs: {} }, iris)).toBe('not the 1 output(s) fetched');
    expect(readOutputs({ outputs: { label: { dtype: 'float32', shape: [1, 3], data: b64([0, 0, 1]) } } }, iris)).toBe(
      'no output "probabilities"',
    );
    expect(readOutputs(JSON.parse('{"outputs":{"__proto__":{"dtype":"float32","shape":[1,3],"data":""}}}'), iris)).toBe(
      'no output "probabilities"',
    );
    expect(readOutputs(planted({ dtype: 'string', shape: [1, 3], data: ['a', 'b', 'c'] }), iris)).toBe(
      'output "probabilities": not float32',
    );
    expect(readOutputs(planted({ dtype: 'int8', shape: [1, 3], data: b64([3, 2, 1], Int8Array as never) }), iris)).toBe(
      'output "probabilities": not float32',
    );
    expect(readOutputs(planted({ dtype: 'float32', shape: [0, 3], data: '' }), iris)).toBe(
      'output "probabilities": dim 0 is not 1',
    );
    expect(
      readOutputs(planted({ dtype: 'float32', shape: [1, 100], data: b64(new Array(100).fill(0.01)) }), iris),
    ).toBe('output "probabilities": dim 1 is not 3');
  });

  it('checks the batch axis where the model has it, and leaves the dims of a whole-request entry free but its declared ones', () => {
    const stateful = modelWith([{ name: 'state', dtype: 'float32', shape: [2, 'batch', 4] }]);
    const state = (shape: number[]) => ({
      outputs: { state: { dtype: 'float32', shape, data: Buffer.alloc(elementCount(shape) * 4).toString('base64') } },
    });
    expect(readOutputs(state([2, 1, 4]), stateful)).toHaveProperty('state');
    expect(readOutputs(state([1, 2, 4]), stateful)).toBe('output "state": dim 0 is not 2');
    const spec = buildModelSpec(
      { name: 'w', version: '1', path: '/w', sha256: 'b'.repeat(64) },
      modelConfigSchema.parse({}),
      {
        inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 4] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: ['n', 'm', 2] }],
      },
      'strict',
    );
    const whole = expectedOutputs({ spec }, ['y']); // no plan: one entry per request
    const y = (shape: number[]) => ({
      outputs: { y: { dtype: 'float32', shape, data: Buffer.alloc(elementCount(shape) * 4).toString('base64') } },
    });
    expect(readOutputs(y([3, 5, 2]), whole)).toHaveProperty('y');
    expect(readOutputs(y([3, 5, 1]), whole)).toBe('output "y": dim 2 is not 2');
  });
});
