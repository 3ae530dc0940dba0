import { concatAlong, splitAlong } from '../tensors/batch-axis.js';
import { copyTensor, tensorBytes, type NamedTensors } from '../tensors/tensor.js';
import type { BatchPlan } from '../models/batch-plan.js';

/** Shared inputs up to this size go into the merge key; a request with a larger one runs alone. */
const SHARED_KEY_BYTES = 1024;

/**
 * The key under which requests may share one inference: the same outputs fetched, the same dtype
 * and dims (batch dim aside) for every batched input, and identical shared inputs.
 * undefined: the request runs alone.
 */
export function mergeKey(plan: BatchPlan | undefined, tensors: NamedTensors, fetch: string[]): string | undefined {
  if (!plan) return undefined;
  // Built by concatenation: this runs on every request, and JSON.stringify of nested arrays costs more.
  let key = fetch.join(',');
  for (const name in tensors) {
    const t = tensors[name]!;
    const axis = plan.inputs[name];
    key += `|${name}:${t.dtype}:`;
    if (axis !== undefined) {
      for (let i = 0; i < t.shape.length; i++) key += i === axis ? '*,' : `${t.shape[i]},`;
      continue;
    }
    if (tensorBytes(t) > SHARED_KEY_BYTES) return undefined;
    key += `${t.shape.join(',')}:${Array.isArray(t.data) ? JSON.stringify(t.data) : Array.prototype.join.call(t.data, ',')}`;
  }
  return key;
}

/**
 * Requests (all with one mergeKey) stacked along each batched input's axis; shared inputs copied
 * from the first (small, by mergeKey's rule). Every buffer is new, so the requests' own tensors
 * stay whole after the merged ones move to a worker, to be run again alone if need be.
 */
export function mergeRequests(plan: BatchPlan | undefined, requests: NamedTensors[]): NamedTensors {
  if (requests.length === 1 || !plan) return requests[0]!;
  return Object.fromEntries(
    Object.keys(requests[0]!).map((name) => {
      const axis = plan.inputs[name];
      return [
        name,
        axis === undefined
          ? copyTensor(requests[0]![name]!)
          : concatAlong(
              requests.map((r) => r[name]!),
              axis,
            ),
      ];
    }),
  );
}

/** A merged run's outputs cut back into one set per request, along each output's batch axis. */
export function splitOutputs(plan: BatchPlan | undefined, outputs: NamedTensors, sizes: number[]): NamedTensors[] {
  if (sizes.length === 1 || !plan) return [outputs];
  const parts = Object.entries(outputs).map(([name, t]) => [name, splitAlong(t, plan.outputs[name]!, sizes)] as const);
  return sizes.map((_, i) => Object.fromEntries(parts.map(([name, split]) => [name, split[i]!])));
}

/** A request of many rows cut into consecutive parts of at most `size` rows; shared inputs copied into each. */
export function chunkRequest(
  plan: BatchPlan,
  tensors: NamedTensors,
  rows: number,
  size: number,
): { tensors: NamedTensors; rows: number }[] {
  const sizes: number[] = [];
  for (let start = 0; start < rows; start += size) sizes.push(Math.min(size, rows - start));
  const split = Object.fromEntries(
    Object.entries(tensors).map(([name, t]) => {
      const axis = plan.inputs[name];
      return [name, axis === undefined ? sizes.map(() => copyTensor(t)) : splitAlong(t, axis, sizes)];
    }),
  );
  return sizes.map((chunkRows, i) => ({
    rows: chunkRows,
    tensors: Object.fromEntries(Object.entries(split).map(([name, parts]) => [name, parts[i]!])),
  }));
}

/** Rows of a request's outputs (or several requests' rows) joined along each output's batch axis. */
export function joinOutputs(plan: BatchPlan | undefined, parts: NamedTensors[]): NamedTensors {
  if (parts.length === 1 || !plan) return parts[0]!;
  return Object.fromEntries(
    Object.keys(parts[0]!).map((name) => [
      name,
      concatAlong(
        parts.map((p) => p[name]!),
        plan.outputs[name]!,
      ),
    ]),
  );
}
