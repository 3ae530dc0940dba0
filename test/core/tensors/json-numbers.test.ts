import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dtypes, fromHalf, type DType } from '../../../src/core/tensors/dtypes.js';
import { tensorFromJson } from '../../../src/core/tensors/json-data.js';
import { JsonNumbers } from '../../../src/core/tensors/json-numbers.js';
import { integerOf } from '../../../src/core/tensors/json-numbers-fill.js';
import { ServiceError } from '../../../src/errors.js';
import { parseJson } from '../../../src/protocols/json-body.js';
import { OIP_TENSORS, parsePackedJson } from '../../../src/protocols/packed-json.js';

/**
 * Issue #23's differential tests: the byte reader (packed-json.ts, json-numbers.ts,
 * json-numbers-fill.ts) against JSON.parse and the old fill (tensorFromJson on JS arrays), on
 * generated bodies. They must agree on every value JSON.parse reads exactly, and refuse alike.
 */

const NUMERIC: DType[] = ['float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32'];
const OIP: Record<string, string> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  uint8: 'UINT8',
  int16: 'INT16',
  uint16: 'UINT16',
  int32: 'INT32',
  uint32: 'UINT32',
  int64: 'INT64',
  uint64: 'UINT64',
};

/**
 * A JSON number's text, as clients write them: shortest doubles, float32s as numpy prints them,
 * decimals of any length, exponents.
 */
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => JSON.stringify(v)),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map((v) => JSON.stringify(v)),
  fc.integer({ min: -70_000, max: 70_000 }).map(String),
  fc.constantFrom('-0', '0', '1e39', '-1e39', '3.4028235e38', '3.4028234663852886e38', '65504', '65520', '1e999'),
  fc.constantFrom(
    '5e-324',
    '2.2250738585072014e-308',
    '1e-400',
    '1.401298464324817e-45',
    '7e-46',
    '5.960464477539063e-8',
  ),
  fc
    .record({
      sign: fc.constantFrom('', '-'),
      whole: fc.stringMatching(/^(0|[1-9][0-9]{0,24})$/),
      fraction: fc.option(fc.stringMatching(/^[0-9]{1,25}$/), { nil: undefined }),
      exp: fc.option(fc.integer({ min: -330, max: 330 }), { nil: undefined }),
      e: fc.constantFrom('e', 'E', 'e+'),
    })
    .map(
      ({ sign, whole, fraction, exp, e }) =>
        `${sign}${whole}${fraction !== undefined ? `.${fraction}` : ''}${exp !== undefined ? `${exp < 0 ? 'e' : e}${exp}` : ''}`,
    ),
);

const space = fc.constantFrom('', ' ', '\n', '\t ', '\r\n  ');

/** A shape of 1-3 dims of 1-3 and its data, flat or nested as the shape, with whitespace anywhere. */
const tensorBody = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
    dtype: fc.constantFrom(...NUMERIC),
    nested: fc.boolean(),
    name: fc.constantFrom('x', 'in\\u0070ut', 'a\\"b', 'é'),
  })
  .chain((t) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    return fc.record({
      t: fc.constant(t),
      values: fc.array(numberText, { minLength: count, maxLength: count }),
      gaps: fc.array(space, { minLength: 4 * count + 8, maxLength: 4 * count + 8 }),
    });
  })
  .map(({ t, values, gaps }) => {
    let g = 0;
    const gap = () => gaps[g++ % gaps.length]!;
    const nest = (dims: number[], at: { i: number }): string =>
      dims.length === 0
        ? `${gap()}${values[at.i++]}${gap()}`
        : `[${Array.from({ length: dims[0]! }, () => nest(dims.slice(1), at)).join(',')}]`;
    const data = t.nested ? nest(t.shape, { i: 0 }) : `[${values.map((v) => `${gap()}${v}${gap()}`).join(',')}]`;
    const body = `{${gap()}"inputs"${gap()}:[{"name":"${t.name}","shape":[${t.shape.join(',')}],"datatype":"${OIP[t.dtype]}",${gap()}"data":${gap()}${data}}]}`;
    return { ...t, body: Buffer.from(body), values };
  });

interface Outcome {
  values?: string[];
  error?: string;
}

/** A body's first input as a tensor, by the JSON reader given. */
function decode(body: Buffer, dtype: DType, shape: number[], packed: boolean): Outcome {
  try {
    const json = parseJson(body, 64, 'the body', packed ? OIP_TENSORS : undefined) as {
      inputs: { data: unknown }[];
    };
    const tensor = tensorFromJson(json.inputs[0]!.data, dtype, shape, 'inputs.x', body.length);
    expect(tensor.shape).toEqual(shape);
    expect(tensor.dtype).toBe(dtype);
    return {
      values: Array.from(tensor.data as ArrayLike<number | bigint>, (v) => (Object.is(v, -0) ? '-0' : String(v))),
    };
  } catch (err) {
    if (err instanceof ServiceError) return { error: `${err.code}: ${err.message}` };
    throw err;
  }
}

describe('JSON tensor data read from the bytes, against JSON.parse and the old fill', () => {
  it('agrees on every dtype, flat or nested, any number text, any whitespace: the same values or the same refusal', () => {
    fc.assert(
      fc.property(tensorBody, ({ body, dtype, shape }) => {
        expect(decode(body, dtype, shape, true)).toEqual(decode(body, dtype, shape, false));
      }),
      { numRuns: 3000 },
    );
  });

  it('FP32 and FP16 round from the double JSON.parse reads, at and near every rounding boundary', () => {
    // Halfway between two neighbours of the type, and a hair either side, in 17 or 18 digits:
    // where an approximate double could round the other way
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) });
    const [float32, float16]: DType[] = ['float32', 'float16'];
    const neighbours = fc.oneof(
      f32.map((f) => ({
        dtype: float32!,
        low: f,
        high: Math.fround(f + Math.abs(f) * 2 ** -23) || 2 ** -149,
      })),
      fc
        .integer({ min: 0, max: 0x7bfe })
        .map((bits) => ({ dtype: float16!, low: fromHalf(bits), high: fromHalf(bits + 1) })),
    );
    fc.assert(
      fc.property(neighbours, fc.integer({ min: -3, max: 3 }), fc.boolean(), ({ dtype, low, high }, hair, negative) => {
        const mid = ((low + high) / 2) * (1 + hair * 2 ** -58) * (negative ? -1 : 1);
        const body = Buffer.from(`{"inputs":[{"data":[${mid.toPrecision(17)}, ${mid.toPrecision(18)}]}]}`);
        expect(decode(body, dtype, [2], true)).toEqual(decode(body, dtype, [2], false));
      }),
      { numRuns: 3000 },
    );
  });

  it('INT64 and UINT64: exact over their whole range, refused past it in the exact bounds', () => {
    const big = fc.oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
      fc.constantFrom(
        2n ** 63n - 1n,
        -(2n ** 63n),
        2n ** 64n - 1n,
        2n ** 63n,
        2n ** 53n + 1n,
        -(2n ** 63n) - 1n,
        2n ** 64n,
      ),
    );
    fc.assert(
      fc.property(
        fc.array(big, { minLength: 1, maxLength: 6 }),
        fc.constantFrom<DType>('int64', 'uint64'),
        (ints, dtype) => {
          const body = Buffer.from(`{"inputs":[{"data":[${ints.join(', ')}]}]}`);
          const { min, max } =
            dtype === 'int64' ? { min: -(2n ** 63n), max: 2n ** 63n - 1n } : { min: 0n, max: 2n ** 64n - 1n };
          const bad = ints.findIndex((v) => v < min || v > max);
          const outcome = decode(body, dtype, [ints.length], true);
          if (bad === -1) expect(outcome).toEqual({ values: ints.map(String) });
          else
            expect(outcome.error).toBe(
              `INVALID_INPUT: invalid input at inputs.x[${bad}]: ${ints[bad]} is outside the range of ${dtype} (${min} to ${max})`,
            );
          // Where JSON.parse reads them exactly, the old path agrees
          if (bad === -1 && ints.every((v) => v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n))
            expect(decode(body, dtype, [ints.length], false)).toEqual(outcome);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('INT64 reads integers written with a point or an exponent, and refuses fractions as the old path words it', () => {
    expect(integerOf('1e18')).toBe(10n ** 18n);
    expect(integerOf('2.50e1')).toBe(25n);
    expect(integerOf('-0.0')).toBe(0n);
    expect(integerOf('2.5')).toBeUndefined();
    const body = Buffer.from('{"inputs":[{"data":[1e18, 12.5]}]}');
    expect(decode(body, 'int64', [2], true)).toEqual({
      error: 'INVALID_INPUT: invalid input at inputs.x[1]: expected an integer for int64, got 12.5',
    });
  });

  it('refuses data nested otherwise than the shape, and takes it flat', () => {
    const nested = Buffer.from('{"inputs":[{"data":[[1,2,3,4]]}]}');
    expect(decode(nested, 'float32', [2, 2], true).error).toBe(
      'INVALID_INPUT: invalid input at inputs.x: the data is nested as [1,4]; send it flat, or nested as the shape [2,2]',
    );
    const ragged = Buffer.from('{"inputs":[{"data":[[1,2],[3],[4]]}]}');
    expect(decode(ragged, 'float32', [2, 2], true).error).toContain('the data is nested unevenly');
    expect(decode(Buffer.from('{"inputs":[{"data":[1,2,3,4]}]}'), 'float32', [2, 2], true).values).toEqual([
      '1',
      '2',
      '3',
      '4',
    ]);
  });
});

describe('the byte reader against JSON.parse, on any JSON and on broken JSON', () => {
  /** JsonNumbers replaced by the arrays they stand for. */
  const plain = (value: unknown): unknown => {
    if (value instanceof JsonNumbers) return value.materialize();
    if (Array.isArray(value)) return value.map(plain);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    return value;
  };

  const bodies = fc.oneof(
    fc.json({ maxDepth: 6 }),
    fc
      .record({ inputs: fc.array(fc.record({ name: fc.string(), data: fc.jsonValue({ maxDepth: 4 }) })) })
      .map((v) => JSON.stringify(v)),
    // Duplicated keys, escapes, unicode: text JSON.stringify would not write
    fc.constantFrom(
      '{"inputs":[{"data":[1,2]}],"inputs":[{"data":[3]}]}',
      '{"inputs":[{"data":[1],"data":[2.5e-3]}]}',
      '{"a\\u0062":"\\ud83d\\ude00","inputs":[]}',
      '{"inputs":[{"name":"\\u005f_proto__","data":[1]}]}',
      '{"\\u005f_proto__":{"x":1}}',
      '{"constructor":{"prototype":{"x":1}}}',
      '{"inputs":[{"data":[[1,[2]],3]}]}',
      '{"inputs":[{"data":[[],[]]}]}',
      '{"inputs":[{"data":[1,"2",true,null]}]}',
      '\ufeff{"inputs":[]}',
      '  ',
    ),
  );

  it('reads what JSON.parse reads, the same, or leaves it to the old parser', () => {
    fc.assert(
      fc.property(bodies, fc.nat(), fc.boolean(), (text, cut, truncate) => {
        const sent = truncate ? text.slice(0, cut % (text.length + 1)) : text;
        const bytes = Buffer.from(sent);
        const packed = parsePackedJson(bytes, 64, OIP_TENSORS);
        let expected: unknown;
        try {
          expected = JSON.parse(bytes.toString('utf8'));
        } catch {
          expect(packed).toBeUndefined(); // never a value where JSON.parse throws
          return;
        }
        if (packed !== undefined) expect(plain(packed)).toEqual(expected);
        // Through parseJson, the answer is always the old parser's, value or refusal
        const old = outcome(() => parseJson(bytes, 64));
        expect(outcome(() => plain(parseJson(bytes, 64, 'the body', OIP_TENSORS)))).toEqual(old);
      }),
      { numRuns: 3000 },
    );
  });

  it('nesting past MAX_JSON_DEPTH is refused as before, inside tensor data too', () => {
    const deep = Buffer.from(`{"inputs":[{"data":${'['.repeat(10)}1${']'.repeat(10)}}]}`);
    expect(parsePackedJson(deep, 8, OIP_TENSORS)).toBeUndefined();
    expect(() => parseJson(deep, 8, 'the body', OIP_TENSORS)).toThrow(/nested deeper than 8 levels/);
    expect(plain(parseJson(deep, 64, 'the body', OIP_TENSORS))).toEqual(JSON.parse(deep.toString()));
  });
});

function outcome(run: () => unknown): unknown {
  try {
    return { value: run() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('dtypes of the JSON reader', () => {
  it('covers every numeric and 64-bit type the service takes', () => {
    const numeric = Object.keys(dtypes).filter((d) => !['bool', 'string'].includes(d));
    expect(new Set([...NUMERIC, 'int64', 'uint64'])).toEqual(new Set(numeric));
  });
});
