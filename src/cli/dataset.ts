import { createReadStream, createWriteStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readStreamRecords } from '../adapters/inference-log/redis-stream-sink.js';
import { buildDataset, type DatasetFilter, type DatasetRow, type LogRecord } from '../core/inference-log/dataset.js';

/** Where the records are: a jsonl sink's directory, or a Redis stream. */
export type RecordSource = { dir: string } | { redis: string; stream: string };

/** Every record of a source, each JSON line parsed; lines that are not records are skipped. */
export async function* readRecords(source: RecordSource): AsyncGenerator<LogRecord> {
  const lines = 'dir' in source ? fileLines(source.dir) : readStreamRecords(source.redis, source.stream);
  for await (const line of lines) {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (record !== null && typeof record === 'object' && 'type' in record && 'id' in record) yield record as LogRecord;
  }
}

/** The lines of a jsonl sink's files, in name (so time) order. */
async function* fileLines(dir: string): AsyncGenerator<string> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort();
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(join(dir, file)), crlfDelay: Infinity });
    for await (const line of lines) if (line.trim() !== '') yield line;
  }
}

/** The table of a source's records for the filter, as `onnx-serve dataset` builds it. */
export async function datasetOf(source: RecordSource, filter: DatasetFilter): Promise<DatasetRow[]> {
  const records: LogRecord[] = [];
  for await (const record of readRecords(source)) records.push(record);
  return buildDataset(records, filter);
}

/** Rows as JSON lines or as a Parquet file (dataset-parquet.ts), to a file or to stdout. */
export async function writeRows(
  rows: DatasetRow[],
  out?: string,
  format: 'jsonl' | 'parquet' = 'jsonl',
): Promise<void> {
  const content =
    format === 'parquet'
      ? (await import('./dataset-parquet.js')).parquetTable(rows)
      : rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');
  const stream = out === undefined ? process.stdout : createWriteStream(out);
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    if (out === undefined) stream.write(content, (error) => (error ? reject(error) : resolve()));
    else stream.end(content, resolve);
  });
}

/** What a table says of the production model: rows, rows with ground truth, and how many were right. */
export function summary(rows: DatasetRow[]): string {
  const labelled = rows.filter((r) => r.correct !== undefined);
  const right = labelled.filter((r) => r.correct).length;
  const accuracy = labelled.length > 0 ? ` (production accuracy ${(right / labelled.length).toFixed(4)})` : '';
  return `${rows.length} rows, ${labelled.length} with ground truth, ${right} predicted right${accuracy}\n`;
}
