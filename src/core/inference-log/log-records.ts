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
    // dtype is one of onnxruntime's names and shape holds integers: only the name needs escaping
    const head = `{"name":${JSON.stringify(name)},"datatype":"${tensor.dtype}","shape":[${tensor.shape.join(',')}]`;
    const data = allFinite(tensor)
      ? tensorToJsonText(tensor)
      : JSON.stringify((tensorToJson(tensor) as number[]).map((v) => (Number.isFinite(v) ? v : null))).slice(1, -1);
    return `${head},"data":[${data}]}`;
  });
  return `[${items.join(',')}]`;
}

/** What every record of a model version repeats, as JSON text made once per version. */
export interface VersionText {
  /** `"model":…,"version":…` */
  model: string;
  /** `,"feature_input":…,"features":[…]` when model.json names the feature input's columns, or ''. */
  features: string;
}

export function versionText(spec: Pick<ModelSpec, 'name' | 'version' | 'featureInput' | 'features'>): VersionText {
  const model = JSON.stringify({ model: spec.name, version: spec.version }).slice(1, -1);
  const names = spec.features?.map((f) => f.name);
  const features = names
    ? `,${JSON.stringify({ feature_input: spec.featureInput, features: names }).slice(1, -1)}`
    : '';
  return { model, features };
}

/**
 * A prediction's request and response records as JSON lines, written as text (no head object to
 * build and stringify per record): the same fields, in the same order, as recordLine() would give.
 */
export function predictionLines(
  answer: {
    id: string;
    variant?: string;
    outputs: NamedTensors;
    predictions?: unknown[];
    cached: boolean;
    latencyMs: number;
  },
  time: number,
  inputs: NamedTensors | undefined,
  text: VersionText,
  mode: 'request' | 'response' | 'all',
  redaction?: Redaction,
): string[] {
  const { id, variant } = answer;
  const shared =
    `"id":${JSON.stringify(id)},"time":"${isoTime(time)}",${text.model}` +
    (variant === undefined ? '' : `,"variant":${JSON.stringify(variant)}`);
  const lines: string[] = [];
  if (mode !== 'response')
    lines.push(
      inputs
        ? `{"type":"request",${shared}${text.features},"inputs":${tensorsJson(inputs, redaction)}}`
        : `{"type":"request",${shared}}`,
    );
  if (mode !== 'request') {
    const { cached, latencyMs, predictions, outputs } = answer;
    const answered = predictions ? `,"predictions":${JSON.stringify(predictions)}` : '';
    lines.push(
      `{"type":"response",${shared},"cached":${cached},"latency_ms":${+latencyMs.toFixed(3)}${answered},` +
        `"outputs":${tensorsJson(outputs)}}`,
    );
  }
  return lines;
}

/** The second isoTime() last wrote, and its text up to the milliseconds: most records share one. */
let isoSecond = Number.NaN;
let isoPrefix = '';

/** `new Date(ms).toISOString()`, with the date and time up to the second made once per second. */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, -4);
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** Whether JSON can hold every value: true of integers; float32/64 looked at in place, no array made. */
function allFinite(tensor: NamedTensors[string]): boolean {
  if (!isFloating(tensor.dtype)) return true;
  const { data } = tensor;
  if (data instanceof Float32Array || data instanceof Float64Array) {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
    return true;
  }
  return (tensorToJson(tensor) as number[]).every(Number.isFinite);
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
    time: isoTime(time),
    model: spec.name,
    version: spec.version,
    ...(variant !== undefined ? { variant } : {}),
  };
}
