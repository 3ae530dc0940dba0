import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parquetTable } from '../../src/cli/dataset-parquet.js';
import type { DatasetRow } from '../../src/core/inference-log/dataset.js';
import { readParquet } from '../helpers/duckdb.js';

const ROWS: DatasetRow[] = [
  {
    id: 'a',
    row: 0,
    time: '2026-12-07T10:00:00.125Z',
    model: 'm',
    version: '1',
    features: { income: 52000.5, city: 'Lyon', label: 'x', tokens: [1, 2, 3] },
    prediction: 'yes',
    label: 'yes',
    correct: true,
  },
  {
    id: 'b',
    row: 1,
    time: '2026-12-07T10:00:01.000Z',
    model: 'm',
    version: '2',
    variant: 'canary',
    features: { income: null, city: 'Oslo', label: 'y', tokens: [4, 5] },
    prediction: 'no',
  },
];

/** Writes the table and reads it back with DuckDB. */
async function roundTrip(rows: DatasetRow[]) {
  const dir = mkdtempSync(join(tmpdir(), 'dataset-parquet-'));
  try {
    const path = join(dir, 'table.parquet');
    writeFileSync(path, parquetTable(rows));
    return await readParquet(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('onnx-serve dataset as Parquet, read back by DuckDB', () => {
  it('writes one typed column per field and feature, lists by position, and nulls where nothing was', async () => {
    const { columns, rows } = await roundTrip(ROWS);
    expect(columns).toEqual({
      id: 'VARCHAR',
      row: 'INTEGER',
      time: 'TIMESTAMP',
      model: 'VARCHAR',
      version: 'VARCHAR',
      variant: 'VARCHAR',
      income: 'DOUBLE',
      city: 'VARCHAR',
      // A feature named like a column of the table keeps its place, under features.
      'features.label': 'VARCHAR',
      'tokens[0]': 'DOUBLE',
      'tokens[1]': 'DOUBLE',
      'tokens[2]': 'DOUBLE',
      prediction: 'VARCHAR',
      label: 'VARCHAR',
      value: 'DOUBLE',
      correct: 'BOOLEAN',
    });
    expect(rows).toEqual([
      {
        id: 'a',
        row: 0,
        time: new Date('2026-12-07T10:00:00.125Z'),
        model: 'm',
        version: '1',
        variant: null,
        income: 52000.5,
        city: 'Lyon',
        'features.label': 'x',
        'tokens[0]': 1,
        'tokens[1]': 2,
        'tokens[2]': 3,
        prediction: 'yes',
        label: 'yes',
        value: null,
        correct: true,
      },
      {
        id: 'b',
        row: 1,
        time: new Date('2026-12-07T10:00:01.000Z'),
        model: 'm',
        version: '2',
        variant: 'canary',
        income: null,
        city: 'Oslo',
        'features.label': 'y',
        'tokens[0]': 4,
        'tokens[1]': 5,
        'tokens[2]': null,
        prediction: 'no',
        label: null,
        value: null,
        correct: null,
      },
    ]);
  });

  it('writes a regression table: values as doubles, vector predictions by position, mixed values as JSON', async () => {
    const base = { row: 0, time: '2026-12-07T10:00:00.000Z', model: 'r', version: '1' };
    const { columns, rows } = await roundTrip([
      { ...base, id: 'a', features: { x: 1, meta: { a: 1 } }, prediction: [0.5, 1.5], value: 0.75 },
      { ...base, id: 'b', features: { x: 2, meta: 'text' }, prediction: [2.5, -1], value: -3 },
    ]);
    // JSON text (DuckDB without its json extension, offline here, reads it as VARCHAR)
    expect(['JSON', 'VARCHAR']).toContain(columns['meta']);
    expect(
      rows.map((r) => [JSON.parse(r['meta'] as string), r['prediction[0]'], r['prediction[1]'], r['value']]),
    ).toEqual([
      [{ a: 1 }, 0.5, 1.5, 0.75],
      ['text', 2.5, -1, -3],
    ]);
  });

  it('writes an empty table with the fixed columns', async () => {
    const { columns, rows } = await roundTrip([]);
    expect(rows).toEqual([]);
    expect(Object.keys(columns)).toEqual([
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
  });
});
