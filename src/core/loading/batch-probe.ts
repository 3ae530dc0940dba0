import type { BatchDecision, BatchPlan } from '../models/batch-plan.js';
import type { ModelSpec, TensorSpec } from '../models/model-spec.js';
import { mergeRequests, splitOutputs } from '../serving/batch-merge.js';
import { dtypes, setElement, getElement, type TypedArray } from '../tensors/dtypes.js';
import { emptyTensor, type NamedTensors, type Tensor } from '../tensors/tensor.js';

/** Runs the model once on these inputs; the probe hands over fresh tensors each time. */
export type ProbeRun = (inputs: NamedTensors, rows: number) => Promise<NamedTensors>;

/**
 * How far a float output of two rows run together may stray from the same row run alone: batched
 * kernels sum in another order. |together - alone| <= TOLERANCE x (1 + |alone|); float16, whose
 * step near 1 is ~1e-3, gets HALF_TOLERANCE. Integers, booleans and strings must be equal.
 */
export const TOLERANCE = 1e-4;
export const HALF_TOLERANCE = 1e-2;

/** Sizes tried for the dims a plan leaves open besides the batch (height, width, sequence length). */
const OPEN_DIM_SIZES = [1, 16, 64];

/**
 * Whether an unproven plan holds: two distinct rows run together, then each alone. It holds when
 * every output's batch axis follows the rows (2 together, 1 alone) and each row's answer together
 * equals its answer alone (within TOLERANCE). A model that mixes its rows (a mean over the batch, a
 * batch norm in training mode) answers a row differently beside another, and is refused.
 */
export async function probeBatching(run: ProbeRun, spec: ModelSpec, decision: BatchDecision): Promise<BatchDecision> {
  const plan = decision.unproven!;
  const configured = decision.source === 'configured';
  const verdict = await probe(run, spec, plan);
  if (verdict.proven) {
    const reason = configured ? `batching.axes in model.json, confirmed: ${verdict.reason}` : verdict.reason;
    return { source: decision.source, plan, reason };
  }
  if (configured && verdict.ran) throw new Error(`model.json batching.axes does not hold: ${verdict.reason}`);
  if (configured)
    return { source: 'configured', plan, reason: `batching.axes in model.json, unchecked: ${verdict.reason}` };
  return { source: 'none', reason: `${decision.reason}, but ${verdict.reason}; each request runs alone` };
}

interface Verdict {
  proven: boolean;
  /** False when the model refused the generated rows, so nothing was learnt about its batch. */
  ran: boolean;
  reason: string;
}

async function probe(run: ProbeRun, spec: ModelSpec, plan: BatchPlan): Promise<Verdict> {
  let alone: NamedTensors | undefined;
  let open = 0;
  let refusal = '';
  for (const size of OPEN_DIM_SIZES) {
    try {
      alone = await run(rowsOf(spec, plan, 1, size), 1);
      open = size;
      break;
    } catch (err) {
      refusal ||= firstLine(err);
    }
  }
  if (!alone) return { proven: false, ran: false, reason: `the probe's generated rows were refused (${refusal})` };
  let together: NamedTensors;
  try {
    together = await run(mergeRequests(plan, [rowsOf(spec, plan, 1, open), rowsOf(spec, plan, 2, open)]), 2);
  } catch (err) {
    return { proven: false, ran: true, reason: `two rows run together failed (${firstLine(err)})` };
  }
  const second = await run(rowsOf(spec, plan, 2, open), 1);
  for (const output of spec.outputs) {
    const axis = plan.outputs[output.name]!;
    const [a, b, both] = [alone[output.name], second[output.name], together[output.name]];
    if (!a || !b || !both) continue; // a non-tensor output: nothing to compare
    if (both.shape[axis] !== 2 || a.shape[axis] !== 1)
      return {
        proven: false,
        ran: true,
        reason: `output "${output.name}" has ${both.shape[axis]} along dim ${axis} for two rows and ${a.shape[axis]} for one`,
      };
  }
  const [first, next] = splitOutputs(plan, together, [1, 1]);
  let worst = 0;
  for (const [row, mine, ownRun] of [
    [0, first!, alone],
    [1, next!, second],
  ] as const) {
    for (const name in ownRun) {
      const difference = differenceOf(mine[name], ownRun[name]!);
      if (difference === undefined || difference.ratio > 1)
        return {
          proven: false,
          ran: true,
          reason: `row ${row}'s "${name}" run beside another row differs from it run alone${difference ? ` (by up to ${difference.absolute.toPrecision(3)})` : ''}: the model mixes rows`,
        };
      worst = Math.max(worst, difference.ratio);
    }
  }
  return {
    proven: true,
    ran: true,
    reason: `two distinct rows run together gave each row's answer alone (within ${Math.ceil(worst * 100)}% of the tolerance)`,
  };
}

/**
 * The largest difference between two tensors, absolute and as a fraction of what the tolerance
 * allows; undefined when their shapes differ or non-float elements do.
 */
function differenceOf(together: Tensor | undefined, alone: Tensor): { ratio: number; absolute: number } | undefined {
  if (!together || together.dtype !== alone.dtype || together.shape.join() !== alone.shape.join()) return undefined;
  const kind = dtypes[alone.dtype].kind;
  let ratio = 0;
  let absolute = 0;
  for (let i = 0; i < alone.data.length; i++) {
    if (kind !== 'float' && kind !== 'half') {
      if (together.data[i] !== alone.data[i]) return undefined;
      continue;
    }
    const [x, y] = [getElement(together.data, together.dtype, i), getElement(alone.data, alone.dtype, i)];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const off = Math.abs(x - y);
    if (Number.isNaN(off)) return { ratio: Infinity, absolute: Infinity };
    absolute = Math.max(absolute, off);
    ratio = Math.max(ratio, off / (tolerance(alone) * (1 + Math.abs(y))));
  }
  return { ratio, absolute };
}

function tolerance(tensor: Tensor): number {
  return dtypes[tensor.dtype].kind === 'half' ? HALF_TOLERANCE : TOLERANCE;
}

/**
 * One row of every input, distinct for each seed: floats in [0, 1) from a hash of the position,
 * integers and booleans 0 and 1 alternating (valid token ids, labels and masks alike), strings "a",
 * "b"…; the batch axis at 1, the other open dims at `open`. Inputs the plan shares get seed 0.
 */
function rowsOf(spec: ModelSpec, plan: BatchPlan, seed: number, open: number): NamedTensors {
  return Object.fromEntries(
    spec.inputs.map((input) => [input.name, rowOf(input, plan.inputs[input.name], seed, open)]),
  );
}

function rowOf(input: TensorSpec, batchAxis: number | undefined, seed: number, open: number): Tensor {
  const rowSeed = batchAxis === undefined ? 0 : seed;
  const shape = input.shape.map((d, axis) => (axis === batchAxis ? 1 : typeof d === 'number' ? d : open));
  const tensor = emptyTensor(input.dtype, shape);
  const kind = dtypes[input.dtype].kind;
  for (let i = 0; i < tensor.data.length; i++) {
    if (kind === 'string') (tensor.data as string[])[i] = String.fromCharCode(97 + ((i + rowSeed) % 26));
    else if (kind === 'float' || kind === 'half')
      setElement(tensor.data as TypedArray, input.dtype, i, hashUnit(i, rowSeed));
    else setElement(tensor.data as TypedArray, input.dtype, i, (i + rowSeed) % 2);
  }
  return tensor;
}

/** A value in [0, 1) from a position and a seed, the same on every machine. */
function hashUnit(i: number, seed: number): number {
  let h = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(seed + 1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return ((h ^ (h >>> 13)) >>> 0) / 2 ** 32;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}
