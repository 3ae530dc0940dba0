import { dtypes, type DType, type TensorData, type TypedArray } from './dtypes.js';

/** One tensor as the whole service passes it: element type, shape (row-major), and the values. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** A request's or a result's tensors by name. */
export type NamedTensors = Record<string, Tensor>;

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const d of shape) count *= d;
  return count;
}

/** Bytes the values hold in memory, roughly (strings at two bytes a character). */
export function tensorBytes(tensor: Tensor): number {
  if (Array.isArray(tensor.data)) return tensor.data.reduce((sum, s) => sum + 16 + s.length * 2, 0);
  return tensor.data.byteLength;
}

/** A copy with buffers of its own, which the copy owns outright (moved, not copied, to a worker). */
export function copyTensor(tensor: Tensor): Tensor {
  return { ...tensor, shape: tensor.shape.slice(), data: tensor.data.slice() };
}

/** A new, zero-filled tensor. */
export function emptyTensor(dtype: DType, shape: number[]): Tensor {
  return { dtype, shape, data: dtypes[dtype].create(elementCount(shape)) };
}

/** Copies `length` elements from src[from] to dst[to], for typed arrays and string arrays alike. */
export function copyElements(src: TensorData, from: number, dst: TensorData, to: number, length: number): void {
  if (Array.isArray(src)) {
    for (let i = 0; i < length; i++) (dst as string[])[to + i] = src[from + i]!;
  } else {
    (dst as TypedArray).set(src.subarray(from, from + length) as never, to);
  }
}
