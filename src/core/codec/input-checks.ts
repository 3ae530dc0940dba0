import type { ErrorDetail } from '../../errors.js';
import { shapeText, type ModelSpec, type TensorSpec } from '../models/model-spec.js';
import type { BatchPlan } from '../models/batch-plan.js';
import { dtypes, fromHalf, isFloating, setElement, type DType, type TypedArray } from '../tensors/dtypes.js';
import { elementCount, type NamedTensors, type Tensor } from '../tensors/tensor.js';
import { invalidInput, MAX_DETAILS } from '../tensors/tensor-errors.js';
import { boundsOf, type Bounds } from './bounds.js';
import { tensorLocator, type Locator } from '../tensors/paths.js';

export type AnomalyKind = 'missing' | 'non_finite' | 'out_of_range';

export type ValidationLevel = 'strict' | 'permissive';

export interface CheckedInputs {
  tensors: NamedTensors;
  /** Size along the batch dim; 1 for a model that runs requests alone. */
  rows: number;
  warnings: ErrorDetail[];
}

/**
 * Every input of a request checked against the model's metadata, by checks compiled once per
 * model version: names (none missing, none unknown), element type, rank (a scalar may come as
 * [1]), fixed dims, one value per symbolic dim across all inputs (the `batch` of the audio must
 * equal the `batch` of the state), at least one row along the batch dim, element count, finite
 * floats, and the feature ranges of model.json (strict rejects, permissive clamps in place and
 * warns). Every failure names the input and the position; a protocol's Locator says how.
 */
export class InputChecks {
  private readonly takes: string;
  private readonly names: Set<string>;
  /** The input and axis a request's row count is read from. */
  private readonly rowsFrom?: [string, number];
  /** Per position of a feature row: the feature's range within the dtype's. */
  private readonly featureBounds?: Bounds[];
  /** The same ranges as two arrays, built once: the scan every request pays reads only these. */
  private readonly featureScan?: RangeScan;

  constructor(
    private readonly spec: ModelSpec,
    private readonly plan: BatchPlan | undefined,
    /** Told how many non-finite and out-of-range values each request carried, valid or not. */
    private readonly onAnomaly?: (kind: AnomalyKind, count: number) => void,
  ) {
    this.takes = spec.inputs.map((i) => `${i.name} ${i.dtype}${shapeText(i.shape)}`).join(', ');
    this.names = new Set(spec.inputs.map((i) => i.name));
    const first = plan && Object.entries(plan.inputs)[0];
    if (first) this.rowsFrom = first;
    const feature = spec.inputs.find((i) => i.name === spec.featureInput);
    if (feature) {
      this.featureBounds = spec.features!.map((f) => boundsOf(feature.dtype, f));
      this.featureScan = {
        low: Float64Array.from(this.featureBounds, (b) => b.lowCheck),
        high: Float64Array.from(this.featureBounds, (b) => b.highCheck),
      };
    }
  }

  check(tensors: NamedTensors, level: ValidationLevel, at: Locator = tensorLocator): CheckedInputs {
    const details: ErrorDetail[] = [];
    for (const name in tensors) {
      if (!this.names.has(name))
        details.push({ path: at.tensor(name), message: `unknown input "${name}"; the model takes ${this.takes}` });
    }
    for (const input of this.spec.inputs) {
      if (tensors[input.name] === undefined)
        details.push({
          path: at.tensor(input.name),
          message: `missing input "${input.name}" (${input.dtype}${shapeText(input.shape)})`,
        });
    }
    if (details.length > 0) throw invalidInput(details);

    const checked: NamedTensors = {};
    const symbols = new Map<string, { size: number; input: string }>();
    for (const input of this.spec.inputs) {
      const tensor = this.checkShape(input, tensors[input.name]!, symbols, at, details);
      if (tensor) checked[input.name] = tensor;
    }
    if (details.length > 0) throw invalidInput(details);

    const warnings: ErrorDetail[] = [];
    const counts = { non_finite: 0, out_of_range: 0 };
    for (const input of this.spec.inputs) {
      const bounds = input.name === this.spec.featureInput ? this.featureBounds : undefined;
      if (bounds || isFloating(input.dtype))
        this.checkValues(checked[input.name]!, input.name, bounds, level, at, { details, warnings, counts });
    }
    if (this.onAnomaly) {
      if (counts.non_finite > 0) this.onAnomaly('non_finite', counts.non_finite);
      if (counts.out_of_range > 0) this.onAnomaly('out_of_range', counts.out_of_range);
    }
    if (details.length > 0) throw invalidInput(details);
    const rows = this.rowsFrom ? checked[this.rowsFrom[0]]!.shape[this.rowsFrom[1]]! : 1;
    return {
      tensors: checked,
      rows,
      warnings: warnings.length > MAX_DETAILS ? warnings.slice(0, MAX_DETAILS) : warnings,
    };
  }

  private checkShape(
    input: TensorSpec,
    tensor: Tensor,
    symbols: Map<string, { size: number; input: string }>,
    at: Locator,
    details: ErrorDetail[],
  ): Tensor | undefined {
    const fail = (message: string) => void details.push({ path: at.tensor(input.name), message });
    if (tensor.dtype !== input.dtype) return fail(`input "${input.name}" takes ${input.dtype}, got ${tensor.dtype}`);
    let shape = tensor.shape;
    if (input.shape.length === 0 && shape.length === 1 && shape[0] === 1) shape = []; // a scalar sent as [1]
    const expected = `the model takes ${input.dtype}${shapeText(input.shape)}`;
    if (shape.length !== input.shape.length)
      return fail(`shape [${tensor.shape.join(',')}] has rank ${tensor.shape.length}; ${expected}`);
    const batchAxis = this.plan?.inputs[input.name];
    for (let axis = 0; axis < shape.length; axis++) {
      const size = shape[axis]!;
      const want = input.shape[axis];
      if (!Number.isInteger(size) || size < 0) return fail(`dim ${axis} is ${size}, not a size`);
      if (axis === batchAxis) {
        if (size < 1) return fail(`dim ${axis} (${this.plan!.dim}) is ${size}; send at least one row`);
        if (this.plan!.fixedOne) continue; // the model takes one row at a time; larger requests run in parts
      }
      if (typeof want === 'number' && size !== want) return fail(`dim ${axis} is ${size}; ${expected}`);
      // The batch dim agrees across inputs by the plan's name, also where the file names it differently on each.
      const symbol = axis === batchAxis ? this.plan!.dim : want;
      if (typeof symbol === 'string') {
        const seen = symbols.get(symbol);
        if (seen && seen.size !== size)
          return fail(`dim ${axis} (${symbol}) is ${size}, but input "${seen.input}" has ${symbol} = ${seen.size}`);
        symbols.set(symbol, { size, input: input.name });
      }
    }
    const count = elementCount(shape);
    if (tensor.data.length !== count)
      return fail(`shape [${tensor.shape.join(',')}] holds ${count} elements; got ${tensor.data.length}`);
    return shape === tensor.shape ? tensor : { ...tensor, shape };
  }

  /** The hot loop of every request: plain loops, no allocation per value unless it is wrong. */
  private checkValues(
    tensor: Tensor,
    name: string,
    bounds: Bounds[] | undefined,
    level: ValidationLevel,
    at: Locator,
    out: { details: ErrorDetail[]; warnings: ErrorDetail[]; counts: Record<'non_finite' | 'out_of_range', number> },
  ): void {
    const data = tensor.data as TypedArray;
    const first = firstToLookAt(data, tensor.dtype, bounds && this.featureScan);
    if (first < 0) return;
    const half = dtypes[tensor.dtype].kind === 'half';
    const whole = boundsOf(tensor.dtype);
    const rowSize = bounds?.length ?? 1;
    for (let i = first; i < data.length && out.details.length < MAX_DETAILS; i++) {
      const value = half ? fromHalf(data[i] as number) : Number(data[i]);
      const b = bounds ? bounds[i % rowSize]! : whole;
      if (value >= b.lowCheck && value <= b.highCheck) continue; // the common case: no work, no allocation
      const path = () => at.element(name, i, tensor.shape);
      if (!Number.isFinite(value)) {
        out.counts.non_finite++;
        out.details.push({ path: path(), message: `expected a finite number, got ${value}` });
        continue;
      }
      out.counts.out_of_range++;
      if (level === 'strict') {
        out.details.push({ path: path(), message: `must be between ${b.low} and ${b.high} (${b.why})` });
        continue;
      }
      const clamped = Math.min(b.high, Math.max(b.low, value));
      if (out.warnings.length < MAX_DETAILS)
        out.warnings.push({ path: path(), message: `${value} clamped to ${clamped} (${b.why})` });
      setElement(data, tensor.dtype, i, clamped);
    }
  }
}

/** Per position of a feature row, the lowest and highest value that passes (Bounds' lowCheck and highCheck). */
interface RangeScan {
  low: Float64Array;
  high: Float64Array;
}

/**
 * The first value outside its bounds, or -1: the scan every request pays, in a loop per kind with
 * nothing but a comparison per value. Without feature bounds a float is only checked for being
 * finite (v - v is 0 for every finite v, NaN for NaN and ±Infinity): any finite float32 or
 * float64 fits its dtype, and float16 bits are finite unless the exponent is all ones.
 */
function firstToLookAt(data: TypedArray, dtype: DType, ranges: RangeScan | undefined): number {
  const n = data.length;
  if (!ranges) {
    if (dtype === 'float16') {
      const bits = data as Uint16Array;
      for (let i = 0; i < n; i++) if ((bits[i]! & 0x7c00) === 0x7c00) return i;
      return -1;
    }
    if (dtype === 'float32' || dtype === 'float64') {
      const values = data as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (v - v !== 0) return i;
      }
      return -1;
    }
    return 0; // integers with no feature bounds are never checked; other dtypes take the slow path
  }
  const { low, high } = ranges;
  const width = low.length;
  if (dtype === 'float32' || dtype === 'float64' || dtypes[dtype].kind === 'int') {
    const values = data as Float32Array;
    for (let i = 0, j = 0; i < n; i++, j = j + 1 === width ? 0 : j + 1) {
      const v = values[i]!;
      if (!(v >= low[j]! && v <= high[j]!)) return i;
    }
    return -1;
  }
  return 0;
}
