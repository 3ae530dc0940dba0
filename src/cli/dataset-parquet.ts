import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import type { DatasetRow } from '../core/inference-log/dataset.js';

/** The table's own columns; a feature named like one of them is written as `features.<name>`. */
const TABLE_COLUMNS = new Set([
  'id',
  'row',
  'time',
  'model',
  'version',
  'variant',
  'prediction',
  'label',
  'value',
  'correct',
]);

/**
 * A data set's rows as one Parquet file (hyparquet-writer, Snappy pages), wide and flat so that
 * pandas, DuckDB or Spark read it as a table: `id`, `row`, `time` (a UTC timestamp), `model`,
 * `version`, `variant`, then one column per feature, then `prediction`, `label`, `value` and
 * `correct`. Numbers are DOUBLE, text STRING, booleans BOOLEAN; a list (an input without feature
 * names, or a model's values) becomes one column per position, `input[0]`, `input[1]`…; anything
 * else is JSON text. Absent values are nulls.
 */
export function parquetTable(rows: DatasetRow[]): Uint8Array {
  const featureNames: string[] = [];
  const seen = new Set<string>();
  for (const row of rows)
    for (const name of Object.keys(row.features))
      if (!seen.has(name)) {
        seen.add(name);
        featureNames.push(name);
      }
  const columnData: ColumnSource[] = [
    { name: 'id', data: rows.map((r) => r.id), type: 'STRING', nullable: false },
    { name: 'row', data: rows.map((r) => r.row), type: 'INT32', nullable: false },
    { name: 'time', data: rows.map((r) => new Date(r.time)), type: 'TIMESTAMP', nullable: false },
    { name: 'model', data: rows.map((r) => r.model), type: 'STRING', nullable: false },
    { name: 'version', data: rows.map((r) => r.version), type: 'STRING', nullable: false },
    { name: 'variant', data: rows.map((r) => r.variant ?? null), type: 'STRING' },
    ...featureNames.flatMap((name) =>
      columnsOf(
        TABLE_COLUMNS.has(name) ? `features.${name}` : name,
        rows.map((r) => r.features[name]),
      ),
    ),
    ...columnsOf(
      'prediction',
      rows.map((r) => r.prediction),
    ),
    { name: 'label', data: rows.map((r) => r.label ?? null), type: 'STRING' },
    { name: 'value', data: rows.map((r) => r.value ?? null), type: 'DOUBLE' },
    { name: 'correct', data: rows.map((r) => r.correct ?? null), type: 'BOOLEAN' },
  ];
  return new Uint8Array(parquetWriteBuffer({ columnData, createdBy: 'onnx-serve dataset' }));
}

/** The column(s) of one field's values, typed by what the values are. */
function columnsOf(name: string, values: unknown[]): ColumnSource[] {
  const present = values.filter((v) => v !== undefined && v !== null);
  const all = (test: (v: unknown) => boolean) => present.every(test);
  const data = values.map((v) => v ?? null);
  if (present.length === 0) return [{ name, data, type: 'STRING' }];
  if (all((v) => typeof v === 'number')) return [{ name, data, type: 'DOUBLE' }];
  if (all((v) => typeof v === 'string')) return [{ name, data, type: 'STRING' }];
  if (all((v) => typeof v === 'boolean')) return [{ name, data, type: 'BOOLEAN' }];
  if (all((v) => Array.isArray(v) && v.every((x) => !Array.isArray(x) && (x === null || typeof x !== 'object')))) {
    const width = Math.max(...present.map((v) => (v as unknown[]).length));
    return Array.from({ length: width }, (_, i) =>
      columnsOf(
        `${name}[${i}]`,
        values.map((v): unknown => (Array.isArray(v) ? (v as unknown[])[i] : undefined)),
      ),
    ).flat();
  }
  return [{ name, data, type: 'JSON' }];
}
