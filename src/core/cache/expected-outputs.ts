import { z } from 'zod';
import type { ModelSpec, TensorSpec } from '../models/model-spec.js';
import type { BatchPlan } from '../models/batch-plan.js';
import { tensorFromBytes } from '../tensors/binary.js';
import { dtypes } from '../tensors/dtypes.js';
import { elementCount, type NamedTensors, type Tensor } from '../tensors/tensor.js';

/** The model version a lookup is for: a ModelRunner is one. */
export interface OutputSource {
  spec: ModelSpec;
  /** Present where entries are per row: each output then holds one row along its batch axis. */
  plan?: BatchPlan;
}

/** What every entry of one model version and selection of outputs must hold. */
export interface ExpectedOutputs {
  /** `name@version`, for the log. */
  model: string;
  outputs: { spec: TensorSpec; batchAxis?: number }[];
  /** The longest text such an entry can be, where every dim of a row is fixed: a longer one is refused unread. */
  maxChars?: number;
}

const known = new WeakMap<ModelSpec, Map<string, ExpectedOutputs>>();

/** The fetched outputs as the model declares them; computed once per model version and selection. */
export function expectedOutputs({ spec, plan }: OutputSource, fetch: string[]): ExpectedOutputs {
  let bySelection = known.get(spec);
  if (!bySelection) known.set(spec, (bySelection = new Map<string, ExpectedOutputs>()));
  const selection = fetch.join('\0');
  let expected = bySelection.get(selection);
  if (!expected) {
    const outputs = fetch.map((name) => ({
      spec: spec.outputs.find((o) => o.name === name)!,
      batchAxis: plan?.outputs[name],
    }));
    expected = { model: spec.key, outputs, maxChars: maxCharsOf(outputs) };
    if (bySelection.size < 64) bySelection.set(selection, expected);
  }
  return expected;
}

/** Generous room for everything but the data: the version, the mac, names, dtypes, shapes, punctuation. */
const ROOM_PER_OUTPUT = 256;

/**
 * An entry's longest text when every dim of a row is fixed and no output holds strings; else
 * undefined (no bound but Redis's).
 */
function maxCharsOf(outputs: ExpectedOutputs['outputs']): number | undefined {
  let chars = ROOM_PER_OUTPUT;
  for (const { spec, batchAxis } of outputs) {
    const dims = spec.shape.map((d, i) => (i === batchAxis ? 1 : d));
    if (spec.dtype === 'string' || !dims.every((d): d is number => typeof d === 'number')) return undefined;
    chars += 4 * Math.ceil((elementCount(dims) * dtypes[spec.dtype].bytes) / 3) + spec.name.length + ROOM_PER_OUTPUT;
  }
  return chars;
}

const storedTensor = z.strictObject({
  dtype: z.string(),
  shape: z.array(z.number().int().min(0)).max(16),
  data: z.union([z.string(), z.array(z.string())]),
});

/**
 * The outputs of a cache entry's fields, or why they do not fit the model: exactly the fetched
 * names (no other key, `__proto__` included), each with the dtype the model declares, a shape of
 * its rank with the static dims it declares and one row along the batch axis of a per-row entry,
 * as many elements as the shape holds, and finite floats. Reasons name the model's outputs, never
 * what the entry holds.
 */
export function readOutputs(fields: unknown, expected: ExpectedOutputs): NamedTensors | string {
  const stored = isObject(fields) && Object.hasOwn(fields, 'outputs') ? fields.outputs : undefined;
  if (!isObject(stored)) return 'no outputs';
  if (Object.keys(stored).length !== expected.outputs.length)
    return `not the ${expected.outputs.length} output(s) fetched`;
  const outputs: NamedTensors = {};
  for (const { spec, batchAxis } of expected.outputs) {
    if (!Object.hasOwn(stored, spec.name)) return `no output "${spec.name}"`;
    const tensor = readTensor(stored[spec.name], spec, batchAxis);
    if (typeof tensor === 'string') return `output "${spec.name}": ${tensor}`;
    outputs[spec.name] = tensor;
  }
  return outputs;
}

function readTensor(value: unknown, spec: TensorSpec, batchAxis: number | undefined): Tensor | string {
  const parsed = storedTensor.safeParse(value);
  if (!parsed.success) return 'not a tensor';
  const { dtype, shape, data } = parsed.data;
  if (dtype !== spec.dtype) return `not ${spec.dtype}`;
  if (shape.length !== spec.shape.length) return `not of rank ${spec.shape.length}`;
  for (let i = 0; i < shape.length; i++) {
    const declared = i === batchAxis ? 1 : spec.shape[i];
    if (typeof declared === 'number' && shape[i] !== declared) return `dim ${i} is not ${declared}`;
  }
  const count = elementCount(shape);
  if (spec.dtype === 'string') {
    return Array.isArray(data) && data.length === count
      ? { dtype: spec.dtype, shape, data }
      : 'not as many strings as its shape holds';
  }
  if (typeof data !== 'string') return 'not base64 data';
  const byteCount = count * dtypes[spec.dtype].bytes;
  // Node's base64 decoding skips what it cannot read and stops at padding: the length is checked as
  // text, then as bytes.
  if (data.length !== 4 * Math.ceil(byteCount / 3)) return 'not as many bytes as its shape holds';
  const bytes = Buffer.from(data, 'base64');
  if (bytes.byteLength !== byteCount) return 'not as many bytes as its shape holds';
  try {
    return tensorFromBytes(bytes, spec.dtype, shape, spec.name);
  } catch {
    return 'not valid data'; // a bool byte other than 0 or 1
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
