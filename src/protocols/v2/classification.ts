import { getElement } from '../../core/tensors/dtypes.js';
import type { Tensor } from '../../core/tensors/tensor.js';
import { ServiceError } from '../../errors.js';

/**
 * The classification extension: instead of an output's values, its top `count` classes per row as
 * BYTES "value:index[:label]", highest first (ties keep the lower index), shape [rows, count], or
 * [count] for an output without rows. Labels come from model.json where they name this output's classes.
 */
export function classify(
  name: string,
  tensor: Tensor,
  count: number,
  batched: boolean,
  labels: string[] | undefined,
): Tensor {
  if (tensor.dtype === 'string' || tensor.dtype === 'bool') {
    throw new ServiceError('INVALID_REQUEST', `output "${name}" holds ${tensor.dtype} values, which cannot be ranked`, [
      { path: 'outputs', message: name },
    ]);
  }
  const rows = batched ? tensor.shape[0]! : 1;
  const width = rows === 0 ? 0 : tensor.data.length / rows;
  const k = Math.min(count, width);
  const names = labels?.length === width ? labels : undefined;
  const data: string[] = [];
  for (let r = 0; r < rows; r++) {
    const values = Array.from({ length: width }, (_, i) => getElement(tensor.data, tensor.dtype, r * width + i));
    const order = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
    for (const i of order.slice(0, k)) data.push(names ? `${values[i]}:${i}:${names[i]}` : `${values[i]}:${i}`);
  }
  return { dtype: 'string', shape: batched ? [rows, k] : [k], data };
}
