import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { appFor, BUNDLED_MODELS, postJson } from '../helpers/app.js';
import { DEFAULT_METRICS, SERVICE_METRICS, run } from './monitoring-files.js';

const iris = JSON.parse(readFileSync(join(BUNDLED_MODELS, 'iris', 'holdout.json'), 'utf8')) as { rows: number[][] };
const diabetes = JSON.parse(readFileSync(join(BUNDLED_MODELS, 'diabetes', 'holdout.json'), 'utf8')) as {
  rows: number[][];
};

/**
 * What `promtool check metrics` may say about a scrape. Exit code 1 is a parse error and always
 * fails; exit code 3 means lint findings, and only these are tolerated:
 *
 * - prom-client's default gauges nodejs_active_handles_total, nodejs_active_requests_total and
 *   nodejs_active_resources_total end in _total without being counters. They come from
 *   collectDefaultMetrics() and cannot be renamed here; our own metrics get no findings at all.
 */
const TOLERATED = [
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/,
];

/** Metrics that existed before issue 5: the scrape must declare them. */
const EXISTING = [
  'ml_predictions_total',
  'ml_prediction_rows_total',
  'ml_prediction_duration_seconds',
  'http_request_duration_seconds',
  'http_request_errors_total',
  'http_requests_in_flight',
  'ml_model_state',
  'ml_service_ready',
  'ml_batch_size_rows',
  'ml_batch_size_requests',
  'ml_queue_wait_seconds',
  'ml_queue_depth_rows',
  'ml_inflight_batches',
  'ml_cache_lookups_total',
  'ml_cache_redis_errors_total',
  'ml_cache_redis_circuit',
  'ml_cache_l1_entries',
  'ml_cache_l1_bytes',
];

describe('a real /metrics scrape under promtool check metrics', () => {
  const app = appFor({ PRICE_PER_CPU_HOUR: '0.05', DRIFT_MIN_ROWS: '10' });
  let text: string;
  beforeAll(async () => {
    for (const row of iris.rows.slice(0, 12))
      expect((await postJson(app(), '/predict', { model: 'iris', instances: [row] })).status).toBe(200);
    expect((await postJson(app(), '/predict', { model: 'iris', instances: iris.rows.slice(0, 3) })).status).toBe(200); // cache hits
    const regression = await postJson(app(), '/predict', { model: 'diabetes', instances: diabetes.rows.slice(0, 12) });
    expect(regression.status).toBe(200);
    expect((await postJson(app(), '/predict', { model: 'iris', features: { sepal_length: 'x' } })).status).toBe(400);
    await postJson(app(), '/feedback', { id: 'no-such-prediction', label: 'setosa' });
    await new Promise((r) => setTimeout(r, 20)); // monitoring runs just after the answer
    text = (await app().inject('/metrics')).body;
  });

  it('has no parse errors and no lint findings beyond prom-client defaults', async () => {
    expect(text).toContain('ml_predictions_total{model="iris",version="1",status="success"}');
    const result = await run('promtool', ['check', 'metrics'], { stdin: text });
    expect([0, 3], result.stdout + result.stderr).toContain(result.code);
    const findings = (result.stdout + result.stderr).split('\n').filter((l) => l.trim() !== '');
    expect(findings.filter((l) => !TOLERATED.some((t) => t.test(l)))).toEqual([]);
  });

  it('promtool does reject a broken exposition and flags a lint problem (the check is not a no-op)', async () => {
    const broken = await run('promtool', ['check', 'metrics'], {
      stdin: `${text}ml_predictions_total{model="iris" 1\n`,
    });
    expect(broken.code).toBe(1);
    const linted = await run('promtool', ['check', 'metrics'], {
      stdin: '# HELP requests_served Requests.\n# TYPE requests_served counter\nrequests_served 3\n',
    });
    expect(linted.code).toBe(3);
    expect(linted.stdout + linted.stderr).toContain('requests_served counter metrics should have "_total" suffix');
  });

  it('declares every metric the dashboard reads from before issue 5, and the prom-client defaults, with their types', () => {
    const types = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const wrong = [...EXISTING, ...Object.keys(DEFAULT_METRICS)]
      .map((name) => [name, SERVICE_METRICS[name] ?? DEFAULT_METRICS[name]] as const)
      .filter(([name, type]) => types[name] !== type)
      .map(([name, type]) => `${name}: want ${type}, scrape says ${types[name]}`);
    expect(wrong).toEqual([]);
    // issue 5's metrics: when the scrape declares them, with the listed type
    const mistyped = Object.entries(SERVICE_METRICS).filter(
      ([name, type]) => types[name] !== undefined && types[name] !== type,
    );
    expect(mistyped).toEqual([]);
  });
});
