import { ServiceError } from '../errors.js';
import type { ModelSpec } from './model-spec.js';

/** One output tensor as it comes back from a worker. */
export interface OutputTensor {
  data: ArrayLike<number | bigint>;
  dims: number[];
}

export type RowPrediction =
  | { label: string; confidence: number; probabilities: Record<string, number> }
  | { values: number[] }
  | { outputs: Record<string, unknown> };

/** Turns output tensors of a batch into one answer per row; non-finite outputs are a server error. */
export function decodeOutputs(spec: ModelSpec, outputs: Record<string, OutputTensor>, rows: number): RowPrediction[] {
  if (spec.task === 'raw') {
    const perName = spec.fetch.map((name) => [name, rowsOf(name, outputs, rows)] as const);
    return Array.from({ length: rows }, (_, r) => ({
      outputs: Object.fromEntries(perName.map(([name, { values, rowDims }]) => [name, reshape(values[r]!, rowDims)])),
    }));
  }
  const { values } = rowsOf(spec.fetch[0]!, outputs, rows);
  if (spec.task === 'regression') return values.map((v) => ({ values: v }));
  return values.map((row) => classify(spec, row));
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

function rowsOf(name: string, outputs: Record<string, OutputTensor>, rows: number): { values: number[][]; rowDims: number[] } {
  const tensor = outputs[name];
  if (!tensor) throw new ServiceError('INFERENCE_FAILED', `the model returned no output "${name}"`);
  const size = tensor.data.length / rows;
  if (tensor.dims[0] !== rows || !Number.isInteger(size)) {
    throw new ServiceError('INFERENCE_FAILED', `output "${name}" has shape [${tensor.dims}] for ${rows} rows`);
  }
  const values: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const row = new Array<number>(size);
    for (let i = 0; i < size; i++) {
      const v = Number(tensor.data[r * size + i]);
      if (!Number.isFinite(v)) throw new ServiceError('INFERENCE_FAILED', `output "${name}" holds a non-finite value in row ${r}`);
      row[i] = v;
    }
    values.push(row);
  }
  return { values, rowDims: tensor.dims.slice(1) };
}

/** Nests a flat row back into the output's dims ([] or [n] stay flat). */
function reshape(flat: number[], dims: number[]): unknown {
  if (dims.length <= 1) return dims.length === 0 ? flat[0] : flat;
  const [, ...inner] = dims;
  const step = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0]! }, (_, i) => reshape(flat.slice(i * step, (i + 1) * step), inner));
}
