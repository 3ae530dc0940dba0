import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatAlong, sliceAlong, splitAlong, takeAlong } from '../../../src/core/tensors/batch-axis.js';
import { tensorFromBytes, tensorToBytes } from '../../../src/core/tensors/binary.js';
import { dtypes, fromHalf, toHalf, type DType } from '../../../src/core/tensors/dtypes.js';
import { tensorFromJson } from '../../../src/core/tensors/json-data.js';
import { elementCount, type Tensor } from '../../../src/core/tensors/tensor.js';

/** A float32 tensor of a random shape (rank 1-4, dims 1-4) with distinct values, and an axis of it. */
const tensorAndAxis = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
  .chain((shape) => fc.record({ shape: fc.constant(shape), axis: fc.integer({ min: 0, max: shape.length - 1 }) }))
  .map(({ shape, axis }): { tensor: Tensor; axis: number } => ({
    tensor: { dtype: 'float32', shape, data: Float32Array.from({ length: elementCount(shape) }, (_, i) => i) },
    axis,
  }));

/** The element at a multi-index, read the slow way. */
function at(t: Tensor, index: number[]): unknown {
  let flat = 0;
  for (let d = 0; d < t.shape.length; d++) flat = flat * t.shape[d]! + index[d]!;
  return t.data[flat];
}

describe('slicing and joining along any axis', () => {
  it('a slice holds exactly the elements at those positions of the axis', () => {
    fc.assert(
      fc.property(tensorAndAxis, fc.nat(), ({ tensor, axis }, pick) => {
        const size = tensor.shape[axis]!;
        const start = pick % size;
        const part = sliceAlong(tensor, axis, start, size);
        expect(part.shape).toEqual(tensor.shape.map((d, i) => (i === axis ? size - start : d)));
        for (let flat = 0; flat < part.data.length; flat++) {
          const index = part.shape.reduceRight<number[]>((acc, d, i) => {
            acc.unshift(Math.floor(flat / elementCount(part.shape.slice(i + 1))) % d);
            return acc;
          }, []);
          expect(part.data[flat]).toBe(
            at(
              tensor,
              index.map((v, i) => (i === axis ? v + start : v)),
            ),
          );
        }
      }),
    );
  });

  it('split then concat gives the tensor back, for any cut of the axis; take reorders rows', () => {
    fc.assert(
      fc.property(tensorAndAxis, fc.nat(), ({ tensor, axis }, seed) => {
        const size = tensor.shape[axis]!;
        const sizes: number[] = [];
        for (let left = size, s = seed; left > 0; s = Math.floor(s / 3)) {
          const next = Math.min(left, 1 + (s % 3));
          sizes.push(next);
          left -= next;
        }
        const parts = splitAlong(tensor, axis, sizes);
        expect(parts.map((p) => p.shape[axis])).toEqual(sizes);
        const joined = concatAlong(parts, axis);
        expect(joined.shape).toEqual(tensor.shape);
        expect([...(joined.data as Float32Array)]).toEqual([...(tensor.data as Float32Array)]);
        const reversed = takeAlong(
          tensor,
          axis,
          Array.from({ length: size }, (_, i) => size - 1 - i),
        );
        expect(
          at(
            reversed,
            tensor.shape.map(() => 0),
          ),
        ).toBe(
          at(
            tensor,
            tensor.shape.map((_, i) => (i === axis ? size - 1 : 0)),
          ),
        ); // the first row is the last
      }),
    );
  });

  it('handles string tensors the same way', () => {
    const words: Tensor = { dtype: 'string', shape: [2, 3], data: ['a', 'b', 'c', 'd', 'e', 'f'] };
    expect(sliceAlong(words, 1, 1, 3).data).toEqual(['b', 'c', 'e', 'f']);
    expect(concatAlong(splitAlong(words, 1, [1, 2]), 1).data).toEqual(words.data);
  });
});

describe('float16', () => {
  it('every half value survives a round trip through a number', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && bits & 0x3ff) continue; // NaN payloads
      const back = toHalf(fromHalf(bits));
      expect(back === bits || (bits === 0x8000 && back === 0x8000)).toBe(true);
    }
  });

  it('rounds a number to the nearest half value, ties to even', () => {
    fc.assert(
      fc.property(fc.double({ min: -65504, max: 65504, noNaN: true }), (x) => {
        const bits = toHalf(x);
        const value = fromHalf(bits);
        const up = fromHalf(bits + (value >= 0 ? 1 : -1));
        const down = fromHalf(bits - (value >= 0 ? 1 : -1));
        const gap = Math.abs(Math.fround(x) - value);
        expect(gap).toBeLessThanOrEqual(Math.abs(Math.fround(x) - up));
        if (bits & 0x7fff) expect(gap).toBeLessThanOrEqual(Math.abs(Math.fround(x) - down));
      }),
    );
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(fromHalf(toHalf(-Infinity))).toBe(-Infinity);
  });
});

describe('binary and JSON tensor data', () => {
  const samples: Record<Exclude<DType, 'string'>, number[]> = {
    float32: [1.5, -2.25],
    float64: [Math.PI, -1e300],
    float16: [0.5, 65504],
    int8: [-128, 127],
    uint8: [0, 255],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-(2 ** 31), 2 ** 31 - 1],
    uint32: [0, 2 ** 32 - 1],
    int64: [-(2 ** 53) + 1, 2 ** 53 - 1],
    uint64: [0, 2 ** 53 - 1],
    bool: [0, 1],
  };

  it.each(Object.entries(samples))('%s: JSON values into bytes and back, exactly', (dtype, values) => {
    const json = dtype === 'bool' ? values.map(Boolean) : values;
    const tensor = tensorFromJson([json], dtype as DType, [1, 2], 'x');
    const bytes = tensorToBytes(tensor);
    expect(bytes.byteLength).toBe(2 * dtypes[dtype as DType].bytes);
    expect(tensorFromBytes(Uint8Array.from(bytes), dtype as DType, [1, 2], 'x')).toEqual(tensor);
  });

  it('strings as length-prefixed UTF-8, and back', () => {
    const tensor = tensorFromJson(['', 'ü', 'two words'], 'string', [3], 'x');
    const bytes = tensorToBytes(tensor);
    expect([...bytes.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    expect([...bytes.subarray(4, 8)]).toEqual([2, 0, 0, 0]);
    expect(tensorFromBytes(bytes, 'string', [3], 'x')).toEqual(tensor);
  });

  it('names the element that does not fit, by its position in the shape', () => {
    expect(() =>
      tensorFromJson(
        [
          [1, 2],
          [3, 300],
        ],
        'int8',
        [2, 2],
        'x',
      ),
    ).toThrow(/x\[1\]\[1\]: 300 is outside the range of int8/);
    expect(() => tensorFromJson([1, 2, 3], 'float32', [2, 2], 'x')).toThrow(/holds 4 elements; the data has 3/);
    expect(() => tensorFromJson([1, 2], 'float32', [1e6, 1e6], 'x', 100)).toThrow(/more than the body could carry/);
    expect(() => tensorFromBytes(new Uint8Array(7), 'float32', [2], 'x')).toThrow(/needs 8 bytes, got 7/);
    expect(() => tensorFromBytes(new Uint8Array([5, 0, 0, 0, 97]), 'string', [1], 'x')).toThrow(
      /element 0 says 5 bytes, 1 are left/,
    );
  });
});
