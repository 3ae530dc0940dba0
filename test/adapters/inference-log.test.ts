import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startApp, type TestApp } from '../helpers/app.js';
import { RedisServer } from '../helpers/redis-server.js';
import { readParquet } from '../helpers/duckdb.js';
import { datasetOf } from '../../src/cli/dataset.js';
import type { DatasetRow } from '../../src/core/inference-log/dataset.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

type LogRecord = Record<string, unknown> & { type: string; id: string };

/** Traffic a client sends: /predict with one and several rows, OIP, and feedback on one answer. */
async function traffic(app: TestApp) {
  const ids: string[] = [];
  for (const row of IRIS_ROWS) {
    const { status, body } = await postJson(app, '/predict', { model: 'iris', instances: [row] });
    expect(status).toBe(200);
    ids.push((body as { id: string }).id);
  }
  const oip = await postJson(app, '/v2/models/iris/infer', {
    inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: IRIS_ROWS.slice(0, 2).flat() }],
  });
  expect(oip.status).toBe(200);
  ids.push((oip.body as { parameters: { prediction_id: string } }).parameters.prediction_id);
  const label = (await postJson(app, '/predict', { model: 'iris', instances: [IRIS_ROWS[0]] })).body as never as {
    id: string;
    predictions: { label: string }[];
  };
  ids.push(label.id);
  const feedback = await postJson(app, '/feedback', { id: label.id, label: label.predictions[0]!.label });
  expect(feedback.status).toBe(200);
  return { ids, feedbackId: label.id };
}

async function metric(app: TestApp, outcome: string): Promise<number> {
  const text = (await app.inject('/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`ml_inference_log_records_total{outcome="${outcome}"}`));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

function expectRecords(records: LogRecord[], ids: string[], feedbackId: string) {
  for (const id of ids) {
    const mine = records.filter((r) => r.id === id);
    expect(mine.map((r) => r.type).sort(), id).toEqual(
      id === feedbackId ? ['feedback', 'request', 'response'] : ['request', 'response'],
    );
  }
  expect(records).toHaveLength(2 * ids.length + 1);
  const first = records.find((r) => r.id === ids[0] && r.type === 'request')!;
  expect(first).toMatchObject({ model: 'iris', version: '1' });
  const [input] = first.inputs as { name: string; shape: number[]; data: number[] }[];
  expect(input!.shape).toEqual([1, 4]);
  expect(input!.data.map((v) => +v.toFixed(5))).toEqual(IRIS_ROWS[0]);
  const oipRequest = records.find((r) => r.id === ids[3] && r.type === 'request')!;
  expect((oipRequest.inputs as { shape: number[] }[])[0]!.shape).toEqual([2, 4]);
  const response = records.find((r) => r.id === ids[0] && r.type === 'response')!;
  expect(response).toMatchObject({ cached: false, predictions: [{ label: expect.any(String) }] });
  expect(Array.isArray(response.outputs)).toBe(true);
}

/** The table rebuilt from the log: one row per row sent, features by name, feedback joined. */
function expectTable(rows: DatasetRow[], ids: string[], feedbackId: string) {
  const sent = [...IRIS_ROWS, ...IRIS_ROWS.slice(0, 2), IRIS_ROWS[0]!];
  expect(rows).toHaveLength(sent.length);
  const names = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
  rows.forEach((row, i) => {
    expect(Object.keys(row.features)).toEqual(names);
    expect(names.map((n) => +(row.features[n] as number).toFixed(5))).toEqual(sent[i]);
    expect(typeof row.prediction).toBe('string');
  });
  expect(rows.map((r) => r.id)).toEqual([ids[0], ids[1], ids[2], ids[3], ids[3], ids[4]]);
  expect(rows.map((r) => r.row)).toEqual([0, 0, 0, 0, 1, 0]);
  const labelled = rows.filter((r) => r.label !== undefined);
  expect(labelled).toEqual([expect.objectContaining({ id: feedbackId, correct: true, label: rows[5]!.prediction })]);
}

describe('the inference log to JSON-lines files', () => {
  it('records every request, its answer and its feedback, and writes the queue on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inference-log-'));
    try {
      const app = await startApp({ INFERENCE_LOG: 'jsonl', INFERENCE_LOG_DIR: dir, CACHE_ENABLED: 'false' });
      const { ids, feedbackId } = await traffic(app);
      await app.close();
      const records = readdirSync(dir).flatMap((file) =>
        readFileSync(join(dir, file), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as LogRecord),
      );
      expectRecords(records, ids, feedbackId);
      expectTable(await datasetOf({ dir }, { model: 'iris' }), ids, feedbackId);
      expect(await datasetOf({ dir }, { model: 'iris', from: Date.now() + 60_000 })).toEqual([]);
      // The command, as an operator runs it
      const out = join(dir, 'table.jsonl.out');
      const { stderr } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'dataset', '--model', 'iris', '--dir', dir, '--out', out],
        { cwd: new URL('../..', import.meta.url).pathname },
      );
      expect(stderr).toBe('6 rows, 1 with ground truth, 1 predicted right (production accuracy 1.0000)\n');
      const table = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as DatasetRow);
      expectTable(table, ids, feedbackId);
      // The same table as Parquet, read by DuckDB: one row per JSON line, features by name
      const parquet = join(dir, 'table.parquet');
      await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'dataset', '--model', 'iris', '--dir', dir, '--out', parquet],
        { cwd: new URL('../..', import.meta.url).pathname },
      );
      const { rows: read } = await readParquet(parquet);
      expect(read).toEqual(
        table.map((r) => ({
          ...{ id: r.id, row: r.row, time: new Date(r.time), model: r.model, version: r.version, variant: null },
          ...r.features,
          ...{ prediction: r.prediction, label: r.label ?? null, value: null, correct: r.correct ?? null },
        })),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the inference log to a Redis stream (a real redis-server)', () => {
  let redis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  const stream = async (key: string) =>
    (await client.xrange(key, '-', '+')).map(([, fields]) => JSON.parse(fields[1]!) as LogRecord);

  it('appends each record as an entry, sent = requests logged', async () => {
    const app = await startApp({
      INFERENCE_LOG: 'redis',
      INFERENCE_LOG_REDIS_URL: redis.url,
      INFERENCE_LOG_STREAM: 'log-a',
      CACHE_ENABLED: 'false',
    });
    try {
      const { ids, feedbackId } = await traffic(app);
      await expect.poll(async () => (await stream('log-a')).length, { timeout: 5000 }).toBe(2 * ids.length + 1);
      expectRecords(await stream('log-a'), ids, feedbackId);
      expectTable(await datasetOf({ redis: redis.url, stream: 'log-a' }, { model: 'iris' }), ids, feedbackId);
      // counted once the sink thread's answer is back, a moment after Redis has the entries
      await expect.poll(() => metric(app, 'sent'), { timeout: 5000 }).toBe(2 * ids.length + 1);
    } finally {
      await app.close();
    }
  });

  it('a frozen Redis costs the clients nothing: every request answered, records failed or dropped and counted, then sent again once it is back', async () => {
    const app = await startApp({
      INFERENCE_LOG: 'redis',
      INFERENCE_LOG_REDIS_URL: redis.url,
      INFERENCE_LOG_STREAM: 'log-b',
      INFERENCE_LOG_QUEUE: '50',
      INFERENCE_LOG_TIMEOUT_MS: '200',
      INFERENCE_LOG_ATTEMPTS: '2',
      INFERENCE_LOG_BACKOFF_MS: '20',
      CACHE_ENABLED: 'false',
    });
    try {
      redis.pause();
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          postJson(app, '/predict', { model: 'iris', instances: [IRIS_ROWS[i % 3]] }),
        ),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      await expect.poll(() => metric(app, 'dropped'), { timeout: 5000 }).toBeGreaterThan(0);
      // Every record accounted for: sent before the freeze took hold, failed after retries, or dropped
      const counted = async () =>
        (await metric(app, 'sent')) + (await metric(app, 'dropped')) + (await metric(app, 'failed'));
      await expect.poll(counted, { timeout: 10_000 }).toBe(400);
      expect(await metric(app, 'failed')).toBeGreaterThan(0);
      redis.resume();
      const sentBefore = await metric(app, 'sent');
      await postJson(app, '/predict', { model: 'iris', instances: [IRIS_ROWS[0]] });
      await expect.poll(() => metric(app, 'sent'), { timeout: 5000 }).toBe(sentBefore + 2);
    } finally {
      redis.resume();
      await app.close();
    }
  });
});
