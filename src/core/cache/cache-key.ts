import { createHash, type Hash } from 'node:crypto';
import type { ModelSpec } from '../models/model-spec.js';
import type { BatchPlan } from '../serving/batch-plan.js';
import { sliceAlong } from '../tensors/batch-axis.js';
import type { TypedArray } from '../tensors/dtypes.js';
import type { NamedTensors, Tensor } from '../tensors/tensor.js';

/**
 * The cache keys of a request: one per row where the model has a batch dim (a row seen before
 * hits whatever batch it arrives in), else one for the whole request. A key covers everything
 * that changes the outputs: model name, version and the ONNX file's content hash (a replaced
 * file never hits old entries), the outputs fetched, and for every input its name, dtype, shape
 * (without the batch dim) and the row's bytes as the model receives them (after permissive
 * clamping). Shared inputs (a scalar sample rate) are in every row's key. Triton's response cache
 * hashes the input bytes without shape, dtype or requested outputs; ours does not.
 */
export function cacheKeys(spec: ModelSpec, plan: BatchPlan | undefined, tensors: NamedTensors, rows: number, fetch: string[]): string[] {
  const head = JSON.stringify([spec.name, spec.version, spec.sha256, fetch]);
  const names = spec.inputs.map((i) => i.name);
  const header = JSON.stringify(
    names.map((name) => {
      const t = tensors[name]!;
      const axis = plan?.inputs[name];
      return [name, t.dtype, axis === undefined ? t.shape : t.shape.filter((_, i) => i !== axis)];
    }),
  );
  return Array.from({ length: rows }, (_, r) => {
    const hash = createHash('sha256').update(head).update('\0').update(header);
    for (const name of names) {
      const t = tensors[name]!;
      const axis = plan?.inputs[name];
      hashData(hash, axis === undefined ? t : rowOf(t, axis, r));
    }
    return `pred:${spec.name}:${spec.version}:${hash.digest('base64url')}`;
  });
}

/** Row r along the axis: a view without copying on axis 0, a copy elsewhere. */
function rowOf(tensor: Tensor, axis: number, r: number): Tensor {
  if (axis !== 0 || Array.isArray(tensor.data)) return sliceAlong(tensor, axis, r, r + 1);
  const size = tensor.data.length / tensor.shape[0]!;
  return { ...tensor, data: tensor.data.subarray(r * size, (r + 1) * size) };
}

function hashData(hash: Hash, tensor: Tensor): void {
  hash.update('\0');
  if (Array.isArray(tensor.data)) {
    for (const s of tensor.data) hash.update(`${s.length}:`).update(s);
    return;
  }
  const data = tensor.data as TypedArray;
  hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}
