import { z } from 'zod';
import type { ModelSpec } from '../models/model-spec.js';

/** What a prediction said, kept until ground truth arrives: per row, the label or the values. */
export const recordSchema = z.object({
  model: z.string(),
  version: z.string(),
  /** The traffic split's variant that answered, so feedback counts toward its experiment. */
  variant: z.string().optional(),
  task: z.enum(['classification', 'regression', 'raw']),
  rows: z.array(z.union([z.string(), z.array(z.number())])),
});
export type PredictionRecord = z.infer<typeof recordSchema>;

/** Values a regressor's row may hold when its output's row size is not fixed. */
const MAX_ROW_VALUES = 65_536;

/**
 * Why a record read back from Redis could not have been written by a prediction of a model
 * version loaded here, or undefined when it could: the version is known to the registry, the task
 * is its task, the row count is between 1 and the request row cap, and each row is what that task
 * records (one of the model's labels; a vector of the task output's row size; nothing for a raw
 * model). Feedback on a record that fails is never counted, so it cannot create a series.
 */
export function recordMisfit(
  record: PredictionRecord,
  spec: ModelSpec | undefined,
  maxRows: number,
): string | undefined {
  if (!spec) return 'model version not loaded here';
  if (record.task !== spec.task) return 'not the task of the model';
  if (record.rows.length < 1 || record.rows.length > maxRows) return `not 1 to ${maxRows} rows`;
  if (spec.task === 'classification') {
    const labels = new Set(spec.labels);
    return record.rows.every((row) => typeof row === 'string' && labels.has(row))
      ? undefined
      : 'a row that is not a label of the model';
  }
  if (spec.task === 'regression') {
    const width = rowSize(spec);
    const fits = (row: string | number[]) =>
      Array.isArray(row) &&
      (width === undefined ? row.length >= 1 && row.length <= MAX_ROW_VALUES : row.length === width);
    return record.rows.every(fits) ? undefined : `a row that is not ${width ?? 'a vector of'} value(s)`;
  }
  return record.rows.every((row) => Array.isArray(row) && row.length === 0)
    ? undefined
    : 'a row with values for a raw model';
}

/** Values per row of the task output, when its dims after the first are all fixed. */
function rowSize(spec: ModelSpec): number | undefined {
  const dims = spec.outputs.find((o) => o.name === spec.taskOutput)?.shape.slice(1) ?? [];
  return dims.every((d): d is number => typeof d === 'number') ? dims.reduce((a, b) => a * b, 1) : undefined;
}
