import { shapeText, type Dim, type TensorSpec } from './model-spec.js';

/**
 * Where a model's batch dim is, when requests can provably be merged: every output and every
 * batched input carries the same symbolic dim, exactly once, at a known axis (axis 0 for most
 * models, axis 1 for state tensors shaped [layers, batch, hidden]). Requests are stacked along
 * each input's axis and the outputs split back along each output's axis. Inputs without the dim
 * (a scalar sample rate, say) are shared: requests merge only when theirs are identical.
 */
export interface BatchPlan {
  /** The symbolic name; "batch" where the file names it differently on each tensor, or not at all. */
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
  axes?: Record<string, number>;
}

/** How a model version's batch dim was established: what `/models` reports as `batching.source`. */
export type BatchSource = 'named' | 'probed' | 'configured' | 'none';

export interface BatchDecision {
  source: BatchSource;
  /** undefined: nothing proves rows independent, so each request runs alone. */
  plan?: BatchPlan;
  /** Why, in words: the dim that names it, what the probe saw, or what stops batching. */
  reason: string;
  /**
   * A plan that holds only once a probe at load proves it (core/loading/batch-probe.ts): axis 0
   * where the file names it differently on each tensor or not at all, or batching.axes. Until then
   * requests run alone.
   */
  unproven?: BatchPlan;
}

/** Label of the batch dim where no one name in the file is it. */
const UNNAMED = 'batch';

/**
 * How a model batches, as far as its file and model.json tell before anything runs. Throws when
 * model.json's batching.dim or batching.axes does not fit the file.
 */
export function decideBatching(
  inputs: TensorSpec[],
  outputs: TensorSpec[],
  options: BatchingOptions = {},
): BatchDecision {
  if (options.enabled === false) return { source: 'none', reason: 'batching.enabled is false in model.json' };
  if (options.axes) {
    return {
      source: 'configured',
      unproven: configuredPlan(inputs, outputs, options.axes),
      reason: 'batching.axes in model.json',
    };
  }
  const plan = planBatching(inputs, outputs, options);
  if (plan) {
    const reason = plan.fixedOne
      ? 'the file fixes dim 0 at 1: one row per inference'
      : options.dim
        ? `batching.dim "${plan.dim}" in model.json`
        : `every output and each batched input carry the dim "${plan.dim}"`;
    return { source: 'named', plan, reason };
  }
  const closed = [...inputs, ...outputs].find((t) => t.shape.length === 0 || typeof t.shape[0] === 'number');
  if (closed) {
    const role = inputs.includes(closed) ? 'input' : 'output';
    return {
      source: 'none',
      reason: `no dim name is carried by every output and each batched input, and ${role} "${closed.name}" ${shapeText(closed.shape)} has no open dim 0`,
    };
  }
  const axes = (tensors: TensorSpec[]) => Object.fromEntries(tensors.map((t) => [t.name, 0]));
  return {
    source: 'probed',
    unproven: { dim: UNNAMED, inputs: axes(inputs), outputs: axes(outputs), fixedOne: false },
    reason: 'dim 0 is open on every tensor, under different names or none',
  };
}

/**
 * The named plan for a model: a symbolic dim every output and each batched input carry, or dim 0
 * fixed at 1; undefined when the names prove nothing. Throws when model.json names a dim that does
 * not qualify.
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
  return candidates.sort((a, b) => cost(a) - cost(b))[0] ?? fixedOnePlan(inputs, outputs);
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

/** Files that fix dim 0 at 1 (leaving it open elsewhere at most): one row per inference, run in turn. */
function fixedOnePlan(inputs: TensorSpec[], outputs: TensorSpec[]): BatchPlan | undefined {
  const all = [...inputs, ...outputs];
  if (!all.every((t) => t.shape.length > 0 && (t.shape[0] === null || t.shape[0] === 1))) return undefined;
  if (!all.some((t) => t.shape[0] === 1)) return undefined; // open everywhere: the probe's to prove
  const axes = (tensors: TensorSpec[]) => Object.fromEntries(tensors.map((t) => [t.name, 0]));
  return { dim: 'axis 0', inputs: axes(inputs), outputs: axes(outputs), fixedOne: true };
}

/** batching.axes checked against the file: every output and at least one input, each at an open dim. */
function configuredPlan(inputs: TensorSpec[], outputs: TensorSpec[], axes: Record<string, number>): BatchPlan {
  const fail = (why: string) => {
    throw new Error(`model.json batching.axes: ${why}`);
  };
  const plan: BatchPlan = { dim: UNNAMED, inputs: {}, outputs: {}, fixedOne: false };
  const names = (tensors: TensorSpec[]) => tensors.map((t) => t.name).join(', ');
  for (const [name, axis] of Object.entries(axes)) {
    const tensor = inputs.find((t) => t.name === name) ?? outputs.find((t) => t.name === name);
    if (!tensor)
      fail(`"${name}" is neither an input (${names(inputs)}) nor an output (${names(outputs)}) of the model`);
    const { shape } = tensor!;
    if (axis >= shape.length) fail(`"${name}" ${shapeText(shape)} has no axis ${axis}`);
    const dim = shape[axis];
    if (typeof dim === 'number' && dim !== 1) fail(`"${name}" ${shapeText(shape)} fixes axis ${axis} at ${dim}`);
    if (dim === 1) plan.fixedOne = true;
    (inputs.includes(tensor!) ? plan.inputs : plan.outputs)[name] = axis;
  }
  const missing = outputs.find((o) => plan.outputs[o.name] === undefined);
  if (missing) fail(`it gives no axis for output "${missing.name}"; every output needs one`);
  if (Object.keys(plan.inputs).length === 0) fail('it gives no axis for any input');
  return plan;
}
