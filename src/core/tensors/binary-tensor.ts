import { endianness } from 'node:os';
import { ServiceError } from '../../errors.js';
import { dtypes, isSupportedDType, type DType, type TypedArray } from './dtypes.js';

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8 };

/** What a binary request says about its body: the element type and the full shape, batch dim first. */
export interface TensorHeader {
  dtype: string;
  shape: number[];
}

/**
 * Raw little-endian bytes into a typed array of the declared dtype and shape. Kept apart from
 * HTTP so the Open Inference Protocol's binary-data extension can feed it slices of one body.
 */
export function tensorFromBytes(bytes: Uint8Array, header: TensorHeader, modelDtype: DType): { data: TypedArray; dims: number[] } {
  if (!isSupportedDType(header.dtype)) throw bad('dtype', `unknown dtype "${header.dtype}"`);
  if (header.dtype !== modelDtype) throw bad('dtype', `the model input is ${modelDtype}, the body says ${header.dtype}`);
  const count = header.shape.reduce((a, b) => a * b, 1);
  const expected = count * BYTES[modelDtype];
  if (bytes.byteLength !== expected) {
    throw bad('body', `shape [${header.shape}] of ${modelDtype} needs ${expected} bytes, the body has ${bytes.byteLength}`);
  }
  const data = dtypes[modelDtype].create(count);
  // A copy: the body's buffer may be unaligned for the element size, and is not ours to transfer.
  new Uint8Array(data.buffer).set(bytes);
  if (endianness() === 'BE' && BYTES[modelDtype] > 1) swapBytes(new Uint8Array(data.buffer), BYTES[modelDtype]);
  return { data, dims: header.shape };
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

function bad(path: string, message: string): ServiceError {
  return new ServiceError('INVALID_INPUT', `invalid tensor ${path}: ${message}`, [{ path, message }]);
}
