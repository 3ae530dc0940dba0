import { dtypes } from './dtypes.js';
import { copyElements, elementCount, type Tensor } from './tensor.js';

/**
 * Slicing and stacking along one axis, the batch axis, wherever it sits: axis 0 for most models,
 * axis 1 for state tensors shaped [layers, batch, hidden]. One module does it for every caller
 * (the batcher, the cache, chunking), so rows are cut and joined the same way everywhere.
 */

/** outer: the product of the dims before the axis; inner: the product of the dims after it. */
function layout(shape: readonly number[], axis: number) {
  return { outer: elementCount(shape.slice(0, axis)), size: shape[axis]!, inner: elementCount(shape.slice(axis + 1)) };
}

/** A copy of positions [start, end) along the axis. */
export function sliceAlong(tensor: Tensor, axis: number, start: number, end: number): Tensor {
  const { outer, size, inner } = layout(tensor.shape, axis);
  const rows = end - start;
  const shape = tensor.shape.slice();
  shape[axis] = rows;
  if (axis === 0 && !Array.isArray(tensor.data))
    return { dtype: tensor.dtype, shape, data: tensor.data.slice(start * inner, end * inner) };
  const data = dtypes[tensor.dtype].create(outer * rows * inner);
  for (let o = 0; o < outer; o++)
    copyElements(tensor.data, (o * size + start) * inner, data, o * rows * inner, rows * inner);
  return { dtype: tensor.dtype, shape, data };
}

/** The tensors joined along the axis; every other dim must agree (the caller checked it). */
export function concatAlong(tensors: Tensor[], axis: number): Tensor {
  if (tensors.length === 1) return tensors[0]!;
  const first = tensors[0]!;
  const sizes = tensors.map((t) => t.shape[axis]!);
  const total = sizes.reduce((a, b) => a + b, 0);
  const { outer, inner } = layout(first.shape, axis);
  const shape = first.shape.slice();
  shape[axis] = total;
  const data = dtypes[first.dtype].create(outer * total * inner);
  for (let o = 0; o < outer; o++) {
    let at = o * total * inner;
    tensors.forEach((t, i) => {
      const block = sizes[i]! * inner;
      copyElements(t.data, o * block, data, at, block);
      at += block;
    });
  }
  return { dtype: first.dtype, shape, data };
}

/** The tensor cut into consecutive parts of the given sizes along the axis. */
export function splitAlong(tensor: Tensor, axis: number, sizes: number[]): Tensor[] {
  if (sizes.length === 1) return [tensor];
  let start = 0;
  return sizes.map((size) => {
    const part = sliceAlong(tensor, axis, start, start + size);
    start += size;
    return part;
  });
}

/** The given positions along the axis, in that order, as one tensor. */
export function takeAlong(tensor: Tensor, axis: number, positions: number[]): Tensor {
  if (positions.length === tensor.shape[axis] && positions.every((p, i) => p === i)) return tensor;
  return concatAlong(
    positions.map((p) => sliceAlong(tensor, axis, p, p + 1)),
    axis,
  );
}
