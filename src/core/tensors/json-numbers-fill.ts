import { dtypes, toHalf, type DType, type NumericArray } from './dtypes.js';
import type { JsonNumbers } from './json-numbers.js';
import { formatPath, unravel } from './paths.js';
import { elementCount, type Tensor } from './tensor.js';
import { invalidAt } from './tensor-errors.js';

/**
 * A relative margin far wider than the scan's approximation error (a few units in the last place
 * of a double, 2^-52 each): a number whose whole margin rounds to one float32 or float16 rounds so
 * from its exact value too, and only one on a boundary is read again from its text.
 */
const MARGIN = 2 ** -44;

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The range of the 64-bit integers, exact. */
const BIG_RANGE = {
  int64: { min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint64: { min: 0n, max: 2n ** 64n - 1n },
} as const;

/**
 * The tensor of shape `shape` and type `dtype` from JSON numbers, as the old path
 * (json-data.ts's tensorFromJson on JSON.parse's arrays) would make it, or undefined where that
 * path refuses it (a count, a range, an integer that is not one, numbers for BOOL or BYTES): the
 * caller runs it then, so the refusal is worded as it always was. Two things only this reader
 * can do: INT64 and UINT64 over their whole range (JSON.parse rounds past 2^53), refused in its
 * own words; and data nested otherwise than the shape (flat is always fine), refused here.
 */
export function tensorFromNumbers(
  numbers: JsonNumbers,
  dtype: DType,
  shape: number[],
  where: string,
  maxElements: number,
): Tensor | undefined {
  const count = elementCount(shape);
  const kind = dtypes[dtype].kind;
  if (count > maxElements || kind === 'bool' || kind === 'string') return undefined;
  if (kind === 'bigint') return { dtype, shape, data: bigIntegers(numbers, dtype as 'int64' | 'uint64', shape, where) };
  if (numbers.count !== count) return undefined;
  let data;
  if (kind === 'float') data = dtype === 'float32' ? float32s(numbers) : float64s(numbers);
  else if (kind === 'half') data = float16s(numbers);
  else data = integers(numbers, dtype);
  if (!data) return undefined;
  checkDims(numbers.dims, shape, where);
  return { dtype, shape, data };
}

/**
 * The numbers' doubles, each exact or, for FP32 and FP16, one that rounds to the type as the
 * exact one does and is on the same side of its range: what a row of /predict is filled from.
 */
export function valuesFor(numbers: JsonNumbers, dtype: DType): Float64Array {
  if (dtype === 'float32') settle(numbers, Math.fround, dtypes.float32.max);
  else if (dtype === 'float16') settle(numbers, toHalf, dtypes.float16.max);
  else exact(numbers);
  return numbers.values;
}

/** Data nested as `dims` (undefined: unevenly) is flat, or nested exactly as the shape; else 400. */
export function checkDims(dims: number[] | undefined, shape: number[], where: string): void {
  if (dims && (dims.length === 1 || dims.join() === shape.join())) return;
  const nested = dims ? `nested as [${dims.join(',')}]` : 'nested unevenly';
  throw invalidAt(where, `the data is ${nested}; send it flat, or nested as the shape [${shape.join(',')}]`);
}

/** Each inexact number's double made exact, where `rounded` of its margin is not one value. */
function settle(numbers: JsonNumbers, rounded: (x: number) => number, bound: number): void {
  const { values, inexact } = numbers;
  for (let k = 0; k < inexact.length; k += 2) {
    const index = inexact[k]!;
    const a = values[index]!;
    const low = a * (1 - MARGIN);
    const high = a * (1 + MARGIN);
    const sure =
      Number.isFinite(a) &&
      Math.abs(a) > 1e-290 &&
      rounded(low) === rounded(high) &&
      Math.abs(low) <= bound === Math.abs(high) <= bound;
    if (!sure) values[index] = Number(numbers.textAt(inexact[k + 1]!));
  }
}

/** Every inexact number read again from its text. */
function exact(numbers: JsonNumbers): void {
  const { values, inexact } = numbers;
  for (let k = 0; k < inexact.length; k += 2) values[inexact[k]!] = Number(numbers.textAt(inexact[k + 1]!));
}

/** false where a finite value is outside ±bound (infinities are left for the input checks). */
function inRange(values: Float64Array, bound: number): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if ((v > bound || v < -bound) && Number.isFinite(v)) return false;
  }
  return true;
}

function float32s(numbers: JsonNumbers): Float32Array | undefined {
  const bound = dtypes.float32.max;
  settle(numbers, Math.fround, bound);
  if (!inRange(numbers.values, bound)) return undefined;
  const data = new Float32Array(numbers.count);
  data.set(numbers.values); // rounds each to nearest, ties to even: Math.fround
  return data;
}

function float64s(numbers: JsonNumbers): Float64Array {
  exact(numbers);
  return numbers.values.slice();
}

function float16s(numbers: JsonNumbers): Uint16Array | undefined {
  const bound = dtypes.float16.max;
  settle(numbers, toHalf, bound);
  const { values } = numbers;
  if (!inRange(values, bound)) return undefined;
  const data = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = toHalf(values[i]!);
  return data;
}

function integers(numbers: JsonNumbers, dtype: DType): NumericArray | undefined {
  exact(numbers);
  const { min, max, create } = dtypes[dtype];
  const { values } = numbers;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= min && v <= max) || !Number.isInteger(v)) return undefined;
  }
  const data = create(values.length) as NumericArray;
  data.set(values);
  return data;
}

/**
 * INT64 or UINT64 exactly as written: a double serves where it is an integer below 2^53 and was
 * read exactly; any other number is read again from its text. Refusals are in the old path's
 * order (each element, then the count) and words, with the exact range.
 */
function bigIntegers(numbers: JsonNumbers, dtype: 'int64' | 'uint64', shape: number[], where: string) {
  const count = elementCount(shape);
  const data = dtype === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
  // An integer below 2^53 goes in as its two 32-bit halves: BigInt(v) per element was half the time
  const halves = LITTLE_ENDIAN ? new Int32Array(data.buffer) : undefined;
  const { values, inexact } = numbers;
  const { min, max } = BIG_RANGE[dtype];
  const n = Math.min(count, numbers.count);
  let next = 0; // the next inexact pair
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const isInexact = next < inexact.length && inexact[next] === i;
    let value: bigint | undefined;
    let text: string | undefined;
    if (isInexact) {
      text = numbers.textAt(inexact[next + 1]!);
      next += 2;
    } else if (Number.isInteger(v) && (v >= 0 || dtype === 'int64') && halves) {
      const high = Math.floor(v / 2 ** 32); // below 2^53: the scan lists larger ones as inexact
      halves[2 * i] = v - high * 2 ** 32;
      halves[2 * i + 1] = high;
      continue;
    } else if (Number.isInteger(v)) value = BigInt(v);
    if (text !== undefined) value = integerOf(text);
    if (value === undefined || value < min || value > max) {
      const path = formatPath([where, ...unravel(i, shape)]);
      if (value === undefined)
        throw invalidAt(path, `expected an integer for ${dtype}, got ${text === undefined ? v : Number(text)}`);
      throw invalidAt(path, `${text ?? v} is outside the range of ${dtype} (${min} to ${max})`);
    }
    data[i] = value;
  }
  if (numbers.count !== count)
    throw invalidAt(
      where,
      `shape [${shape.join(',')}] holds ${count} elements; the data has ${numbers.count > count ? 'more' : numbers.count}`,
    );
  checkDims(numbers.dims, shape, where);
  return data;
}

/**
 * A JSON number's exact value when it is an integer (1e18 and 2.50e1 are), else undefined. One
 * beyond any 64-bit integer is given as 2^70 with its sign, which every range refuses.
 */
export function integerOf(text: string): bigint | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return undefined;
  const [, sign, whole, fraction = '', e = '0'] = match;
  const digits = (whole! + fraction).replace(/^0+(?=\d)/, '');
  let exp = Number(e) - fraction.length;
  if (/^0+$/.test(digits)) return 0n;
  let mantissa = digits;
  while (exp < 0 && mantissa.endsWith('0')) {
    mantissa = mantissa.slice(0, -1);
    exp++;
  }
  if (exp < 0) return undefined;
  const huge = 2n ** 70n;
  const value = mantissa.length + exp > 40 ? huge : BigInt(mantissa) * 10n ** BigInt(exp);
  return sign === '-' ? -value : value;
}
