import { dtypes } from '../tensors/dtypes.js';
import type { EncodedInput } from '../codec/input-codec.js';

/** Rows of several requests stacked into one input tensor; `offsets[i]` is where request i's rows start. */
export interface MergedBatch {
  input: EncodedInput;
  offsets: number[];
}

/** Requests can share a batch only when their rows have the same dtype and dims. */
export function batchKey(input: EncodedInput): string {
  return `${input.dtype}:${input.dims.slice(1).join('x')}`;
}

/** Stacks the inputs (all with one batchKey) along the batch dim. One input is passed through untouched. */
export function mergeInputs(inputs: EncodedInput[]): MergedBatch {
  if (inputs.length === 1) return { input: inputs[0]!, offsets: [0] };
  const first = inputs[0]!;
  const rows = inputs.reduce((sum, i) => sum + i.rows, 0);
  const rowSize = first.data.length / first.rows;
  const merged = dtypes[first.dtype].create(rows * rowSize);
  const offsets: number[] = [];
  let row = 0;
  for (const input of inputs) {
    offsets.push(row);
    merged.set(input.data as never, row * rowSize);
    row += input.rows;
  }
  return { input: { ...first, data: merged, rows, dims: [rows, ...first.dims.slice(1)], warnings: [] }, offsets };
}

/** The per-row results of a merged batch, cut back into one list per request. */
export function splitBatch<T>(results: T[], inputs: EncodedInput[], offsets: number[]): T[][] {
  return inputs.map((input, i) => results.slice(offsets[i]!, offsets[i]! + input.rows));
}
