/**
 * Every element type onnxruntime-node can feed a model, by onnxruntime's own names, with what
 * holds the values in JS, their size in bytes, and the range a JSON value must fit to be stored
 * exactly (integers) or finitely (floats). float16 is held as its IEEE bits in a Uint16Array;
 * bool as one byte per element (0 or 1); string as a JS array.
 */
export type NumericArray =
  Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
export type BigIntArray = BigInt64Array | BigUint64Array;
export type TypedArray = NumericArray | BigIntArray;
export type TensorData = TypedArray | string[];

/** How a value of the type is written and checked. */
export type DTypeKind = 'float' | 'half' | 'int' | 'bigint' | 'bool' | 'string';

interface DTypeInfo {
  kind: DTypeKind;
  /** Bytes per element in binary form; 0 for strings, whose size varies. */
  bytes: number;
  min: number;
  max: number;
  create(length: number): TensorData;
}

const F32_MAX = 3.4028234663852886e38;
const F16_MAX = 65504;

export const dtypes = {
  float32: { kind: 'float', bytes: 4, min: -F32_MAX, max: F32_MAX, create: (n) => new Float32Array(n) },
  float64: {
    kind: 'float',
    bytes: 8,
    min: -Number.MAX_VALUE,
    max: Number.MAX_VALUE,
    create: (n) => new Float64Array(n),
  },
  float16: { kind: 'half', bytes: 2, min: -F16_MAX, max: F16_MAX, create: (n) => new Uint16Array(n) },
  int8: { kind: 'int', bytes: 1, min: -128, max: 127, create: (n) => new Int8Array(n) },
  uint8: { kind: 'int', bytes: 1, min: 0, max: 255, create: (n) => new Uint8Array(n) },
  int16: { kind: 'int', bytes: 2, min: -32768, max: 32767, create: (n) => new Int16Array(n) },
  uint16: { kind: 'int', bytes: 2, min: 0, max: 65535, create: (n) => new Uint16Array(n) },
  int32: { kind: 'int', bytes: 4, min: -2147483648, max: 2147483647, create: (n) => new Int32Array(n) },
  uint32: { kind: 'int', bytes: 4, min: 0, max: 4294967295, create: (n) => new Uint32Array(n) },
  // JSON numbers are doubles: beyond 2^53 they are not exact, so JSON stops there (binary input does not).
  int64: {
    kind: 'bigint',
    bytes: 8,
    min: Number.MIN_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
    create: (n) => new BigInt64Array(n),
  },
  uint64: { kind: 'bigint', bytes: 8, min: 0, max: Number.MAX_SAFE_INTEGER, create: (n) => new BigUint64Array(n) },
  bool: { kind: 'bool', bytes: 1, min: 0, max: 1, create: (n) => new Uint8Array(n) },
  string: { kind: 'string', bytes: 0, min: Number.NaN, max: Number.NaN, create: (n) => new Array<string>(n).fill('') },
} as const satisfies Record<string, DTypeInfo>;

export type DType = keyof typeof dtypes;

export function isDType(name: string): name is DType {
  return Object.hasOwn(dtypes, name);
}

/** Types whose values can be non-finite, and so are checked for it. */
export function isFloating(dtype: DType): boolean {
  const kind = dtypes[dtype].kind;
  return kind === 'float' || kind === 'half';
}

/** Writes a checked number into a numeric tensor: int64 needs a BigInt, float16 its bits. */
export function setElement(array: TypedArray, dtype: DType, index: number, value: number): void {
  const kind = dtypes[dtype].kind;
  if (kind === 'bigint') (array as BigIntArray)[index] = BigInt(value);
  else if (kind === 'half') (array as Uint16Array)[index] = toHalf(value);
  else (array as NumericArray)[index] = value;
}

/** An element as a JS number (float16 bits decoded, int64 rounded beyond 2^53, bool 0/1). */
export function getElement(data: TensorData, dtype: DType, index: number): number {
  if (dtypes[dtype].kind === 'half') return fromHalf((data as Uint16Array)[index]!);
  return Number(data[index]);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 half-precision bits of a number, rounded to nearest even; overflow gives ±Infinity. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Infinity or NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
