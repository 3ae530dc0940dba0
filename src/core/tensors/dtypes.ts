/**
 * Input element types we can build from JSON numbers, with the range a value must fit so that
 * the cast into the typed array is exact (integers) or finite (floats).
 */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array;

interface DTypeInfo {
  integer: boolean;
  min: number;
  max: number;
  create(length: number): TypedArray;
}

const F32_MAX = 3.4028234663852886e38;

export const dtypes = {
  float32: { integer: false, min: -F32_MAX, max: F32_MAX, create: (n) => new Float32Array(n) },
  float64: { integer: false, min: -Number.MAX_VALUE, max: Number.MAX_VALUE, create: (n) => new Float64Array(n) },
  int8: { integer: true, min: -128, max: 127, create: (n) => new Int8Array(n) },
  uint8: { integer: true, min: 0, max: 255, create: (n) => new Uint8Array(n) },
  int16: { integer: true, min: -32768, max: 32767, create: (n) => new Int16Array(n) },
  uint16: { integer: true, min: 0, max: 65535, create: (n) => new Uint16Array(n) },
  int32: { integer: true, min: -2147483648, max: 2147483647, create: (n) => new Int32Array(n) },
  uint32: { integer: true, min: 0, max: 4294967295, create: (n) => new Uint32Array(n) },
  int64: {
    integer: true,
    min: Number.MIN_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
    create: (n) => new BigInt64Array(n),
  },
} as const satisfies Record<string, DTypeInfo>;

export type DType = keyof typeof dtypes;

export function isSupportedDType(name: string): name is DType {
  return Object.hasOwn(dtypes, name);
}

/** Writes a checked number into any supported typed array (int64 needs a BigInt). */
export function setElement(array: TypedArray, index: number, value: number): void {
  if (array instanceof BigInt64Array) array[index] = BigInt(value);
  else array[index] = value;
}
