import type { Dim, TensorSpec } from './model-spec.js';

/**
 * Where a model's batch dim is, when requests can provably be merged: every output and every
 * batched input carries the same symbolic dim, exactly once, at a known axis (axis 0 for most
 * models, axis 1 for state tensors shaped [layers, batch, hidden]). Requests are stacked along
 * each input's axis and the outputs split back along each output's axis. Inputs without the dim
 * (a scalar sample rate, say) are shared: requests merge only when theirs are identical.
 */
export interface BatchPlan {
  /** The symbolic name, or "axis 0" where the file leaves the first dim unnamed. */
  dim: string;
  /** Batch axis of each batched input; shared inputs are absent. */
  inputs: Record<string, number>;
  outputs: Record<string, number>;
  /** The file fixes that dim at 1: requests run one row per inference. */
  fixedOne: boolean;
}

export interface BatchingOptions {
  enabled?: boolean;
  dim?: string;
}

/**
 * The plan for a model, or undefined when nothing proves rows independent: each request then
 * runs alone. Throws when model.json names a dim that does not qualify.
 */
export function planBatching(
  inputs: TensorSpec[],
  outputs: TensorSpec[],
  options: BatchingOptions = {},
): BatchPlan | undefined {
  if (options.enabled === false) return undefined;
  const candidates = [...new Set(inputs.flatMap((i) => i.shape.filter((d): d is string => typeof d === 'string')))]
    .map((dim) => symbolicPlan(dim, inputs, outputs))
    .filter((p): p is BatchPlan => p !== undefined);
  if (options.dim !== undefined) {
    const chosen = candidates.find((p) => p.dim === options.dim);
    if (!chosen)
      throw new Error(
        `model.json batching.dim "${options.dim}" is not a dim every output and each batched input carry once`,
      );
    return chosen;
  }
  // Several candidates ([batch, seq] ids with [batch, seq, hidden] outputs): the dim nearest the front wins.
  const cost = (p: BatchPlan) =>
    Object.values(p.inputs).reduce((a, b) => a + b, 0) - Object.keys(p.inputs).length / 1000;
  return candidates.sort((a, b) => cost(a) - cost(b))[0] ?? firstAxisPlan(inputs, outputs);
}

function symbolicPlan(dim: string, inputs: TensorSpec[], outputs: TensorSpec[]): BatchPlan | undefined {
  const axisOf = (shape: Dim[]) =>
    shape.filter((d) => d === dim).length === 1 ? shape.indexOf(dim) : shape.includes(dim) ? -2 : -1;
  const plan: BatchPlan = { dim, inputs: {}, outputs: {}, fixedOne: false };
  for (const input of inputs) {
    const axis = axisOf(input.shape);
    if (axis === -2) return undefined; // twice in one input: no single axis to merge along
    if (axis >= 0) plan.inputs[input.name] = axis;
  }
  for (const output of outputs) {
    const axis = axisOf(output.shape);
    if (axis < 0) return undefined;
    plan.outputs[output.name] = axis;
  }
  return plan;
}

/** Files that leave the first dim unnamed (or fix it at 1) everywhere: axis 0 is the batch. */
function firstAxisPlan(inputs: TensorSpec[], outputs: TensorSpec[]): BatchPlan | undefined {
  const all = [...inputs, ...outputs];
  if (!all.every((t) => t.shape.length > 0 && (t.shape[0] === null || t.shape[0] === 1))) return undefined;
  const axes = (tensors: TensorSpec[]) => Object.fromEntries(tensors.map((t) => [t.name, 0]));
  return { dim: 'axis 0', inputs: axes(inputs), outputs: axes(outputs), fixedOne: all.some((t) => t.shape[0] === 1) };
}
