import { createHash } from 'node:crypto';
import type { TypedArray } from '../tensors/dtypes.js';
import type { ModelSpec } from '../models/model-spec.js';

/**
 * The cache key of one input row. It covers everything that changes the output tensors: the
 * model name and version, the ONNX file's content hash (a replaced file never hits old entries),
 * the input's name, dtype and row dims, the outputs fetched, and the row's bytes as the model
 * receives them (after permissive clamping). The same numbers in another shape or dtype, or for
 * another version, give another key. Triton's response cache hashes the input bytes without
 * shape, dtype or requested outputs; ours does not.
 */
export function rowCacheKey(spec: ModelSpec, dtype: string, rowDims: number[], row: TypedArray): string {
  const input = 'name' in spec.input ? spec.input.name : '';
  const header = JSON.stringify([spec.name, spec.version, spec.sha256, input, dtype, rowDims, spec.fetch]);
  const digest = createHash('sha256')
    .update(header)
    .update('\0')
    .update(new Uint8Array(row.buffer, row.byteOffset, row.byteLength))
    .digest('base64url');
  return `pred:${spec.name}:${spec.version}:${digest}`;
}
