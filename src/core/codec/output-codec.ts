import { ServiceError } from '../../errors.js';
import type { ModelSpec } from '../models/model-spec.js';
import type { RowOutputs } from '../cache/row-outputs.js';

export type RowPrediction =
  | { label: string; confidence: number; probabilities: Record<string, number> }
  | { values: number[] }
  | { outputs: Record<string, unknown> };

/** Turns one row's output tensors into its answer; non-finite outputs are a server error. */
export function decodeRow(spec: ModelSpec, row: RowOutputs): RowPrediction {
  for (const name of spec.fetch) {
    const tensor = row[name];
    if (!tensor) throw new ServiceError('INFERENCE_FAILED', `the model returned no output "${name}"`);
    if (!tensor.data.every(Number.isFinite)) throw new ServiceError('INFERENCE_FAILED', `output "${name}" holds a non-finite value`);
  }
  if (spec.task === 'raw') {
    return { outputs: Object.fromEntries(spec.fetch.map((name) => [name, reshape(row[name]!.data, row[name]!.dims)])) };
  }
  const values = row[spec.fetch[0]!]!.data;
  if (spec.task === 'regression') return { values };
  return classify(spec, values);
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

/** Nests a flat row back into the output's dims ([] or [n] stay flat). */
function reshape(flat: number[], dims: number[]): unknown {
  if (dims.length <= 1) return dims.length === 0 ? flat[0] : flat;
  const [, ...inner] = dims;
  const step = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0]! }, (_, i) => reshape(flat.slice(i * step, (i + 1) * step), inner));
}
