import { createHash } from 'node:crypto';
import type { ModelSpec } from '../models/model-spec.js';
import type { BatchPlan } from '../models/batch-plan.js';
import { sliceAlong } from '../tensors/batch-axis.js';
import type { NamedTensors, Tensor } from '../tensors/tensor.js';

/** Rows up to this many bytes are keyed by the bytes themselves (exact, and cheaper than a hash). */
const EXACT_BYTES = 128;

/** Per model version and output selection: the part of every key that never changes, computed once. */
const prefixes = new WeakMap<ModelSpec, Map<string, string>>();

function prefixOf(spec: ModelSpec, fetch: string[]): string {
  let known = prefixes.get(spec);
  if (!known) prefixes.set(spec, (known = new Map<string, string>()));
  const selection = fetch.join('\0');
  let prefix = known.get(selection);
  if (prefix === undefined) {
    const identity = createHash('sha256')
      .update(JSON.stringify([spec.sha256, fetch]))
      .digest('base64url')
      .slice(0, 16);
    prefix = `pred:${spec.name}:${spec.version}:${identity}:`;
    if (known.size < 64) known.set(selection, prefix);
  }
  return prefix;
}

/**
 * The cache keys of a request: one per row where the model has a batch dim (a row seen before
 * hits whatever batch it arrives in), else one for the whole request. A key covers everything
 * that changes the outputs: model name and version, the ONNX file's content hash (a replaced
 * file never hits old entries) and the outputs fetched (in the prefix, computed once per model
 * version), then for every input its dtype and dims without the batch dim, and the row's values
 * as the model receives them (after permissive clamping): the bytes themselves, base64, for rows
 * of up to 128 bytes, else their sha256. Exact keys cannot collide, and a hash cannot be made to
 * collide: no client can plant an answer under another's input. Inputs without the batch dim (a
 * scalar sample rate) are in every row's key. Triton's response cache hashes the input bytes
 * without shape, dtype or requested outputs; ours does not.
 */
export function cacheKeys(
  spec: ModelSpec,
  plan: BatchPlan | undefined,
  tensors: NamedTensors,
  rows: number,
  fetch: string[],
): string[] {
  let head = prefixOf(spec, fetch);
  const batched: [Tensor, number][] = [];
  for (const input of spec.inputs) {
    const t = tensors[input.name]!;
    const axis = plan?.inputs[input.name];
    head += `${t.dtype}[${(axis === undefined ? t.shape : t.shape.filter((_, i) => i !== axis)).join(',')}]`;
    if (axis === undefined) head += `${valuesKey(t)}|`;
    else {
      head += '|';
      batched.push([t, axis]);
    }
  }
  if (!plan) return [head];
  const keys = new Array<string>(rows);
  for (let r = 0; r < rows; r++) {
    let key = head;
    for (const [t, axis] of batched) key += `${valuesKey(rowOf(t, axis, r))}|`;
    keys[r] = key;
  }
  return keys;
}

/** Row r along the axis: a view without copying on axis 0, a copy elsewhere. */
function rowOf(tensor: Tensor, axis: number, r: number): Tensor {
  if (axis !== 0 || Array.isArray(tensor.data)) return sliceAlong(tensor, axis, r, r + 1);
  const size = tensor.data.length / tensor.shape[0]!;
  return { ...tensor, data: tensor.data.subarray(r * size, (r + 1) * size) };
}

/** The values themselves when small ("=" + base64, or the strings as JSON), else "#" + their sha256. */
function valuesKey(tensor: Tensor): string {
  if (Array.isArray(tensor.data)) {
    const json = JSON.stringify(tensor.data);
    return json.length <= EXACT_BYTES ? `=${json}` : `#${createHash('sha256').update(json).digest('base64url')}`;
  }
  const data = tensor.data;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return bytes.length <= EXACT_BYTES
    ? `=${bytes.toString('base64')}`
    : `#${createHash('sha256').update(bytes).digest('base64url')}`;
}
