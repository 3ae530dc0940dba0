import type { RecordHead } from './log-records.js';

/** A record as read back from a sink. */
export type LogRecord = RecordHead & {
  /** A redacted feature input holds `rows` (by feature name) instead of `data`. */
  inputs?: { name: string; datatype: string; shape: number[]; data?: unknown[]; rows?: Record<string, unknown>[] }[];
  outputs?: { name: string; datatype: string; shape: number[]; data: unknown[] }[];
  predictions?: { label?: string; value?: number; confidence?: number; values?: number[] }[];
  feature_input?: string;
  features?: string[];
  row?: number;
  label?: string;
  value?: number;
  correct?: boolean;
};

/** Which records make the table. */
export interface DatasetFilter {
  model: string;
  version?: string;
  /** ms since the epoch, inclusive; the request record's time counts. */
  from?: number;
  to?: number;
}

/**
 * One row of a training or evaluation table: a request's row, what the model answered, and the
 * ground truth posted for it (label or value), when there was any.
 */
export interface DatasetRow {
  id: string;
  row: number;
  time: string;
  model: string;
  version: string;
  variant?: string;
  /** The feature input's values by feature name; without names, each input's row, flat. */
  features: Record<string, unknown>;
  prediction?: string | number | number[];
  label?: string;
  value?: number;
  correct?: boolean;
}

/**
 * The table of a model's logged predictions: each request record's rows, joined by prediction id
 * (and row) to its response's prediction and to its feedback. Requests logged without inputs
 * are left out; so are records of other models, versions and times. In request time order.
 */
export function buildDataset(records: Iterable<LogRecord>, filter: DatasetFilter): DatasetRow[] {
  const requests: LogRecord[] = [];
  const responses = new Map<string, LogRecord>();
  const feedback = new Map<string, LogRecord>();
  for (const r of records) {
    if (r.model !== filter.model || (filter.version !== undefined && r.version !== filter.version)) continue;
    if (r.type === 'request') requests.push(r);
    else if (r.type === 'response') responses.set(r.id, r);
    else if (r.type === 'feedback') feedback.set(`${r.id}\0${r.row ?? 0}`, r);
  }
  const inRange = (r: LogRecord) => {
    const t = Date.parse(r.time);
    return (filter.from === undefined || t >= filter.from) && (filter.to === undefined || t <= filter.to);
  };
  const rows: DatasetRow[] = [];
  for (const request of requests.filter(inRange).sort((a, b) => a.time.localeCompare(b.time))) {
    if (!request.inputs || request.inputs.length === 0) continue;
    const count = request.inputs[0]!.shape[0] ?? 1;
    const predictions = responses.get(request.id)?.predictions;
    for (let row = 0; row < count; row++) {
      const truth = feedback.get(`${request.id}\0${row}`);
      const predicted = predictions?.[row];
      const prediction = predicted?.label ?? predicted?.value ?? predicted?.values;
      rows.push({
        id: request.id,
        row,
        time: request.time,
        model: request.model,
        version: request.version,
        ...(request.variant !== undefined ? { variant: request.variant } : {}),
        features: featuresOf(request, row),
        ...(prediction !== undefined ? { prediction } : {}),
        ...(truth?.label !== undefined ? { label: truth.label } : {}),
        ...(truth?.value !== undefined ? { value: truth.value } : {}),
        ...(truth?.correct !== undefined ? { correct: truth.correct } : {}),
      });
    }
  }
  return rows;
}

/** Row `row` of each input: by feature name for the feature input when the record names them. */
function featuresOf(request: LogRecord, row: number): Record<string, unknown> {
  const features: Record<string, unknown> = {};
  for (const input of request.inputs!) {
    if (input.rows) {
      Object.assign(features, input.rows[row]);
      continue;
    }
    if (!input.data) continue;
    const rows = input.shape[0] ?? 1;
    const size = rows === 0 ? 0 : input.data.length / rows;
    let values = input.data.slice(row * size, (row + 1) * size);
    if (input.datatype === 'float32') values = values.map(shortestFloat32);
    if (input.name === request.feature_input && request.features?.length === values.length)
      request.features.forEach((name, i) => (features[name] = values[i]));
    else features[input.name] = values;
  }
  return features;
}

/**
 * A float32 value (logged as the double it widens to, 5.099999904632568) as the shortest decimal
 * that reads back as the same float32 (5.1): what the client sent and numpy prints, and the same
 * float32 when a model is run on the table.
 */
export function shortestFloat32(value: unknown): unknown {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value;
  for (let digits = 1; digits <= 9; digits++) {
    const shorter = Number(value.toPrecision(digits));
    if (Math.fround(shorter) === value) return shorter;
  }
  return value;
}
