import { ServiceError } from '../../errors.js';
import type { ModelSpec } from '../models/model-spec.js';
import { getElement } from '../tensors/dtypes.js';
import type { NamedTensors, Tensor } from '../tensors/tensor.js';

export type RowPrediction =
  | { label: string; confidence: number; probabilities: Record<string, number> }
  | { values: number[] }
  | { outputs: Record<string, unknown> };

/**
 * Each row's answer where model.json describes the task: label, confidence and every class's
 * probability for classifiers, values for regressors. The task output's first dim is the row;
 * a non-finite value is a server error. undefined for raw models.
 */
export function decodeTaskRows(spec: ModelSpec, outputs: NamedTensors, rows: number): RowPrediction[] | undefined {
  if (spec.task === 'raw') return undefined;
  const tensor = outputOf(outputs, spec.taskOutput!);
  const width = tensor.data.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    const values = new Array<number>(width);
    for (let i = 0; i < width; i++) values[i] = getElement(tensor.data, tensor.dtype, r * width + i);
    if (!values.every(Number.isFinite)) throw nonFinite(spec.taskOutput!);
    return spec.task === 'regression' ? { values } : classify(spec, values);
  });
}

/** Each row's output tensors, nested to their dims: the answer for models without a task. */
export function rawRows(outputs: NamedTensors, names: string[], rows: number): RowPrediction[] {
  const perRow = names.map((name) => {
    const tensor = outputOf(outputs, name);
    const width = tensor.data.length / rows;
    return { name, tensor, width, dims: tensor.shape.slice(1) };
  });
  return Array.from({ length: rows }, (_, r) => ({
    outputs: Object.fromEntries(
      perRow.map(({ name, tensor, width, dims }) => {
        const flat: unknown[] = new Array(width);
        for (let i = 0; i < width; i++)
          flat[i] = Array.isArray(tensor.data)
            ? tensor.data[r * width + i]
            : getElement(tensor.data, tensor.dtype, r * width + i);
        if (!flat.every((v) => typeof v === 'string' || Number.isFinite(v))) throw nonFinite(name);
        return [name, nest(flat, dims)];
      }),
    ),
  }));
}

function outputOf(outputs: NamedTensors, name: string): Tensor {
  const tensor = outputs[name];
  if (!tensor) throw new ServiceError('INFERENCE_FAILED', `the model returned no output "${name}"`);
  return tensor;
}

function nonFinite(name: string): ServiceError {
  return new ServiceError('INFERENCE_FAILED', `output "${name}" holds a non-finite value`);
}

function classify(spec: ModelSpec, row: number[]): RowPrediction {
  const probs = spec.outputKind === 'logits' ? softmax(row) : row;
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[best]!) best = i;
  const labels = spec.labels!;
  return {
    label: labels[best]!,
    confidence: probs[best]!,
    probabilities: Object.fromEntries(labels.map((label, i) => [label, probs[i]!])),
  };
}

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

/** A flat row nested into the output's dims ([] or [n] stay flat). */
export function nest(flat: unknown[], dims: number[]): unknown {
  if (dims.length <= 1) return dims.length === 0 ? flat[0] : flat;
  const [, ...inner] = dims;
  const step = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0]! }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), inner));
}
