import type { ModelSpec } from '../models/model-spec.js';
import { isFloating } from '../tensors/dtypes.js';
import { tensorToJson, tensorToJsonText } from '../tensors/json-data.js';
import type { NamedTensors } from '../tensors/tensor.js';

/** What a record says beside its tensors. */
export interface RecordHead {
  /** request (what was asked), response (what was answered), feedback (what turned out true). */
  type: 'request' | 'response' | 'feedback';
  /** The prediction id: what joins a request, its response and its feedback. */
  id: string;
  /** ISO 8601, when the record was made. */
  time: string;
  model: string;
  version: string;
  variant?: string;
  [field: string]: unknown;
}

/**
 * How the feature input's values are redacted: its name, its columns' names, and for each named
 * column `drop` or a function that hashes the value.
 */
export interface Redaction {
  input: string;
  features: string[];
  actions: Record<string, 'drop' | ((value: unknown) => string)>;
}

/** One record as a line of JSON: its head's fields, then `inputs` or `outputs` as OIP-like tensors. */
export function recordLine(
  head: RecordHead,
  tensors?: { field: 'inputs' | 'outputs'; values: NamedTensors; redaction?: Redaction },
): string {
  const json = JSON.stringify(head);
  if (!tensors) return json;
  return `${json.slice(0, -1)},"${tensors.field}":${tensorsJson(tensors.values, tensors.redaction)}}`;
}

/**
 * A redacted feature input: its rows as objects by feature name, dropped columns left out and
 * hashed ones replaced by their hash (a tensor cannot hold both numbers and hashes).
 */
function redactedJson(name: string, tensor: NamedTensors[string], redaction: Redaction): string {
  const values = tensorToJson(tensor);
  const width = redaction.features.length;
  const rows = [];
  for (let r = 0; r * width < values.length; r++) {
    const row: Record<string, unknown> = {};
    redaction.features.forEach((feature, j) => {
      const action = redaction.actions[feature];
      const value = values[r * width + j];
      if (action === 'drop') return;
      row[feature] = action ? action(value) : value;
    });
    rows.push(row);
  }
  return JSON.stringify({ name, datatype: tensor.dtype, shape: tensor.shape, redacted: true, rows });
}

/**
 * Tensors as a JSON list of {name, datatype, shape, data}: datatype as onnxruntime names it
 * (float32, int64), data flat and row-major, 64-bit integers in all their digits, NaN and
 * infinities as null (JSON has no text for them).
 */
export function tensorsJson(tensors: NamedTensors, redaction?: Redaction): string {
  const items = Object.entries(tensors).map(([name, tensor]) => {
    if (redaction && name === redaction.input) return redactedJson(name, tensor, redaction);
    const head = JSON.stringify({ name, datatype: tensor.dtype, shape: tensor.shape });
    const values = isFloating(tensor.dtype) ? (tensorToJson(tensor) as number[]) : undefined;
    const data =
      !values || values.every(Number.isFinite)
        ? tensorToJsonText(tensor)
        : JSON.stringify(values.map((v) => (Number.isFinite(v) ? v : null))).slice(1, -1);
    return `${head.slice(0, -1)},"data":[${data}]}`;
  });
  return `[${items.join(',')}]`;
}

/** Tensors copied: a worker may take the originals' buffers before the record is written. */
export function copyTensors(tensors: NamedTensors): NamedTensors {
  const copy: NamedTensors = {};
  for (const [name, t] of Object.entries(tensors)) copy[name] = { ...t, data: t.data.slice() };
  return copy;
}

/** The head every record of this prediction shares. */
export function headOf(
  type: RecordHead['type'],
  id: string,
  spec: Pick<ModelSpec, 'name' | 'version'>,
  time: number,
  variant?: string,
): RecordHead {
  return {
    type,
    id,
    time: new Date(time).toISOString(),
    model: spec.name,
    version: spec.version,
    ...(variant !== undefined ? { variant } : {}),
  };
}
