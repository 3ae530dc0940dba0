import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetOf, type RecordSource } from '../../src/cli/dataset.js';
import { evaluate } from '../../src/cli/evaluate.js';
import { experimentSchema } from '../../src/protocols/experiments/schemas.js';
import { startApp } from '../helpers/app.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { IRIS_SPLIT, keyFor, label, predictThrough, ROW } from '../helpers/experiments.js';
import { RedisServer } from '../helpers/redis-server.js';
import { bundled, fixture, TempRepository } from '../helpers/repository.js';

/**
 * The round trip, through each sink: traffic split between two versions with feedback on
 * every row; the data set rebuilt from what the sink received has one row per row sent, and
 * `evaluate` on each version's rows gives the accuracy and interval /experiments reported for it.
 */

describe('traffic with feedback through each sink, rebuilt and evaluated as /experiments reported it', () => {
  const repo = new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), IRIS_SPLIT)
    .addOnnx('iris', '2', fixture('iris_like.onnx'));
  const dir = mkdtempSync(join(tmpdir(), 'inference-log-round-trip-'));
  let redis: RedisServer;
  let collector: HttpReceiver;
  beforeAll(async () => {
    redis = await RedisServer.start();
    collector = await HttpReceiver.start();
  });
  afterAll(async () => {
    await redis?.stop();
    await collector?.stop();
    rmSync(dir, { recursive: true, force: true });
    repo.remove();
  });

  const sinks: [string, () => Record<string, string>, () => RecordSource][] = [
    [
      'jsonl',
      () => ({ INFERENCE_LOG: 'jsonl', INFERENCE_LOG_DIR: join(dir, 'jsonl') }),
      () => ({ dir: join(dir, 'jsonl') }),
    ],
    [
      'redis',
      () => ({ INFERENCE_LOG: 'redis', INFERENCE_LOG_REDIS_URL: redis.url, INFERENCE_LOG_STREAM: 'round-trip' }),
      () => ({ redis: redis.url, stream: 'round-trip' }),
    ],
    [
      'cloudevents',
      () => ({ INFERENCE_LOG: 'cloudevents', INFERENCE_LOG_URL: collector.url() }),
      // What a collector writing files would keep: each event's data, the record, a line
      () => {
        writeFileSync(join(dir, 'events.jsonl'), collector.received.map((r) => `${r.body}\n`).join(''));
        return { dir };
      },
    ],
  ];

  it.each(sinks)('%s', async (_sink, env, source) => {
    const app = await startApp({ ...env(), MODEL_DIR: repo.dir, CACHE_ENABLED: 'false' });
    let report;
    const ids: Record<string, string> = {};
    try {
      // 40 rows to each variant: the control answers setosa (30 told right), the candidate virginica (36)
      for (const [variant, right, truth] of [
        ['stable', 30, 'setosa'],
        ['canary', 36, 'virginica'],
      ] as const) {
        const answer = await predictThrough(app, 'iris', keyFor(app, 'iris', variant), ROW, 40);
        expect(answer.variant).toBe(variant);
        ids[answer.version] = answer.id;
        await label(app, answer.id, 0, 40, (row) => (row < right ? truth : 'versicolor'));
      }
      report = experimentSchema.parse((await app.inject('/experiments/iris')).json());
    } finally {
      await app.close();
    }
    const rows = await datasetOf(source(), { model: 'iris' });
    // One row per row sent, each joined to its answer and its feedback
    expect(rows).toHaveLength(80);
    for (const version of ['1', '2']) {
      const own = rows.filter((r) => r.version === version);
      expect(own.map((r) => [r.id, r.row])).toEqual(Array.from({ length: 40 }, (_, row) => [ids[version], row]));
      expect(own.every((r) => r.correct !== undefined && r.variant !== undefined)).toBe(true);
      expect(own[0]!.features).toEqual({ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 });
      const reported = report.variants.find((v) => v.version === version)!.accuracy!;
      const result = await evaluate(own, { modelDir: repo.dir, model: 'iris', version });
      expect(result.production.estimate).toBe(reported.value);
      expect(result.production.interval[0]).toBeCloseTo(reported.ci95.lower!, 12);
      expect(result.production.interval[1]).toBeCloseTo(reported.ci95.upper!, 12);
      // The same version run again on the logged rows answers as production did
      expect(result.candidate.estimate).toBe(reported.value);
    }
  });
});
