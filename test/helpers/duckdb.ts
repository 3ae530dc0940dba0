import { DuckDBInstance } from '@duckdb/node-api';

/** A Parquet file as DuckDB reads it (an independent reader, C++): column names and types, rows. */
export async function readParquet(path: string): Promise<{
  columns: Record<string, string>;
  rows: Record<string, unknown>[];
}> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet('${path.replaceAll("'", "''")}')`);
    const types = reader.columnTypes();
    const columns = Object.fromEntries(reader.columnNames().map((name, i) => [name, types[i]!.toString()]));
    return { columns, rows: reader.getRowObjectsJS() };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
