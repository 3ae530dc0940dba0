import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxServeClient, OnnxServeError } from '../../src/client/index.js';
import type { FastifyInstance } from 'fastify';
import { BUNDLED_MODELS, startApp } from '../helpers/app.js';
import { startExperimentSeries } from './experiment-series.js';
import {
  MONITORING_DIR,
  concreteExpr,
  dashboardExprs,
  loadAlertRules,
  loadDashboard,
  metricNames,
} from './monitoring-files.js';

const iris = JSON.parse(readFileSync(join(BUNDLED_MODELS, 'iris', 'holdout.json'), 'utf8')) as {
  rows: number[][];
  targets: string[];
};
const JOB = 'onnx-serve';
const WAIT_MS = 30_000;

type QueryResult = { metric: Record<string, string>; value: [number, string] }[];

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls until `check` returns a value (not undefined), for at most WAIT_MS. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, alive: () => void = () => {}): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    alive();
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a real Prometheus scraping the running app, with the dashboard and the alert rules', () => {
  let app: FastifyInstance;
  let appUrl: string;
  let prometheus: ChildProcess;
  let promUrl: string;
  let promLog = '';
  let scratch: string;
  let lastScrape = '';
  let appInstance: string;
  /** The experiment and shadow series (experiment-series.ts): a second target in the same job. */
  let experiments: Awaited<ReturnType<typeof startExperimentSeries>>;
  let experimentScrape = '';

  const alive = () => {
    if (prometheus.exitCode !== null) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${promLog}`);
  };
  const api = async <Data>(path: string, params: Record<string, string> = {}) => {
    const response = await fetch(`${promUrl}${path}?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(5_000),
    });
    return (await response.json()) as { status: string; error?: string; data: Data };
  };
  const query = async (expr: string) => api<{ result: QueryResult }>('/api/v1/query', { query: expr });
  // Through the package's client, as a client app would call the service.
  const client = () => new OnnxServeClient(appUrl);
  const refusal = (err: unknown) => {
    if (err instanceof OnnxServeError) return err.status;
    throw err;
  };
  /** One request of every kind the dashboard shows, so that every series exists (rate needs two samples). */
  const everyKind = async () => {
    const answer = await client().predictMany('iris', [iris.rows[0]!]);
    expect((await client().predictMany('iris', [iris.rows[0]!])).cached).toBe(true); // an L1 hit
    expect(
      await client()
        .predict('iris', { sepal_length: 'x' } as never)
        .catch(refusal),
    ).toBe(400);
    await client().feedback(answer.id, { label: 'setosa' });
    expect(await client().feedback('no-such-prediction', { label: 'setosa' }).catch(refusal)).toBe(404);
  };

  beforeAll(async () => {
    // Prometheus first: its scrape manager applies new targets only every 5 s, so the app starts
    // (on a port chosen now) while Prometheus waits for that.
    scratch = mkdtempSync(join(tmpdir(), 'onnx-serve-prometheus-'));
    const appPort = await freePort();
    appUrl = `http://127.0.0.1:${appPort}`;
    appInstance = `127.0.0.1:${appPort}`;
    experiments = await startExperimentSeries();
    const config = join(scratch, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(join(MONITORING_DIR, 'alerts.yml'))}`,
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    static_configs:',
        `      - targets: ['${appInstance}', '${experiments.address}']`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(scratch, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.on(
      'error',
      (error) =>
        (promLog += `could not start prometheus (install the Debian package "prometheus"): ${error.message}\n`),
    );
    prometheus.stdout!.on('data', (c) => (promLog += String(c)));
    prometheus.stderr!.on('data', (c) => (promLog += String(c)));

    app = await startApp({ PRICE_PER_CPU_HOUR: '0.05', DRIFT_MIN_ROWS: '20', LOG_LEVEL: 'warn' });
    await app.listen({ host: '127.0.0.1', port: appPort });
    await everyKind(); // before the first scrape

    await waitFor(
      'Prometheus to be ready',
      async () => ((await fetch(`${promUrl}/-/ready`)).status === 200 ? true : undefined),
      alive,
    );
    // the first scrape, before the traffic: the counters' starting point
    await waitFor(
      'the first scrape',
      async () => ((await query(`up{job="${JOB}"} == 1`)).data.result.length === 2 ? true : undefined),
      alive,
    );

    for (let i = 0; i < 10; i++) {
      const batch = Array.from({ length: 10 }, (_, j) =>
        client().predictMany('iris', [iris.rows[(i * 10 + j) % iris.rows.length]!]),
      );
      for (const answer of await Promise.all(batch)) expect(answer.model).toBe('iris');
    }
    await everyKind();
    lastScrape = await (await fetch(`${appUrl}/metrics`)).text();
    experimentScrape = await (await fetch(`http://${experiments.address}/metrics`)).text();
    const count = Number(
      /^ml_prediction_duration_seconds_count\{model="iris",version="1"\} (\S+)$/m.exec(lastScrape)![1],
    );
    expect(count).toBeGreaterThanOrEqual(102);
    // Prometheus has scraped all the traffic, then once more so every new series has two samples
    const seen = async () =>
      (await query(`sum(ml_prediction_duration_seconds_count{job="${JOB}",model="iris"})`)).data.result[0]?.value[1];
    await waitFor(
      'Prometheus to scrape the traffic',
      async () => (Number(await seen()) >= count ? true : undefined),
      alive,
    );
    const scrapedAt = async () =>
      Number((await query(`timestamp(up{job="${JOB}", instance="${appInstance}"})`)).data.result[0]?.value[1]);
    const first = await scrapedAt();
    await waitFor('one more scrape', async () => ((await scrapedAt()) > first ? true : undefined), alive);
  }, 60_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = once(prometheus, 'exit');
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await app?.close();
    await experiments?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('scrapes the whole exposition without errors (NaN drift gauges included)', async () => {
    const { data } = await api<{
      activeTargets: { labels: { job: string; instance: string }; health: string; lastError: string }[];
    }>('/api/v1/targets');
    const targets = data.activeTargets;
    expect(targets.map((t) => t.labels.instance).sort()).toEqual([appInstance, experiments.address].sort());
    for (const target of targets) expect(target).toMatchObject({ labels: { job: JOB }, health: 'up', lastError: '' });
    const samples = Number(
      (await query(`scrape_samples_scraped{job="${JOB}", instance="${appInstance}"}`)).data.result[0]!.value[1],
    );
    const lines = lastScrape.split('\n').filter((l) => l && !l.startsWith('#')).length;
    expect(samples).toBeGreaterThan(lines * 0.9); // a few nodejs_* series come and go
  });

  it('P95 prediction latency comes back as a finite positive number', async () => {
    const result = await query(
      'histogram_quantile(0.95, sum by (le) (rate(ml_prediction_duration_seconds_bucket[30s])))',
    );
    expect(result.status).toBe('success');
    const [sample] = result.data.result;
    const p95 = Number(sample!.value[1]);
    expect(Number.isFinite(p95)).toBe(true);
    expect(p95).toBeGreaterThan(0);
    expect(p95).toBeLessThan(10);
  });

  it('runs every dashboard query, and each returns data when the app exports what it reads', async () => {
    const dashboard = loadDashboard();
    const exprs = dashboardExprs(dashboard);
    expect(exprs.length).toBeGreaterThan(30);
    const exported = (name: string) => new RegExp(`^${name}[{ ]`, 'm').test(lastScrape + experimentScrape);
    const failures: string[] = [];
    for (const { panel, refId, expr } of exprs) {
      const concrete = concreteExpr(expr, { job: JOB, model: '.+', rateInterval: '1m' });
      expect(concrete, `${panel} ${refId}: a template variable left`).not.toContain('$');
      const result = await query(concrete);
      if (result.status !== 'success') failures.push(`${panel} ${refId}: ${result.error}`);
      else if (result.data.result.length === 0 && metricNames(concrete).every(exported))
        failures.push(`${panel} ${refId}: no data for ${concrete}`);
    }
    expect(failures).toEqual([]);
  });

  it('the experiment and shadow panels compute the known values of the series they read', async () => {
    const exprs = dashboardExprs(loadDashboard());
    /** A panel query's instant values, keyed by model and variant (or shadow). */
    const values = async (panel: string, refId: string) => {
      const target = exprs.find((e) => e.panel === panel && e.refId === refId);
      expect(target, `${panel} ${refId}`).toBeDefined();
      const result = await query(concreteExpr(target!.expr, { job: JOB, model: '.+', rateInterval: '1m' }));
      expect(result.status, `${panel} ${refId}: ${result.error}`).toBe('success');
      const samples = result.data.result;
      const number = (text: string) => ({ '+Inf': Infinity, '-Inf': -Infinity })[text] ?? Number(text);
      return Object.fromEntries(
        samples.map((s) => [`${s.metric.model} ${s.metric.variant ?? s.metric.shadow}`, number(s.value[1])]),
      );
    };
    const close = (actual: Record<string, number>, expected: Record<string, number>) => {
      expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
      for (const [key, value] of Object.entries(expected)) expect(actual[key], key).toBeCloseTo(value, 9);
    };
    // absolute rates are not exact over a window of a few seconds' samples, their proportions are
    const requests = await values('Requests per variant (req/s)', 'A');
    close(Object.fromEntries(Object.entries(requests).map(([k, v]) => [k, v / requests['fraud canary']!])), {
      'fraud stable': 19,
      'fraud canary': 1,
      'churn stable': 10,
      'churn canary': 1,
    });
    // a variant without a single error is at 0, not missing
    close(await values('Error ratio per variant', 'A'), {
      'fraud stable': 0,
      'fraud canary': 0.2,
      'churn stable': 0.01,
      'churn canary': 0,
    });
    close(await values('Latency per variant (P95, P99)', 'A'), {
      'fraud stable': 0.001 + 0.95 * 0.0015,
      'fraud canary': 0.195,
      'churn stable': 0.001 + 0.95 * 0.0015,
      'churn canary': 0.001 + 0.95 * 0.0015,
    });
    close(await values('Traffic share: weights and served', 'A'), {
      'fraud stable': 0.95,
      'fraud canary': 0.05,
      'churn stable': 0.9,
      'churn canary': 0.1,
    });
    close(await values('Traffic share: weights and served', 'C'), {
      'fraud stable': 0.95,
      'fraud canary': 0.05,
      'churn stable': 10 / 11,
      'churn canary': 1 / 11,
    });
    close(await values('Accuracy per variant (feedback, last hour)', 'A'), {
      'fraud stable': 0.9,
      'fraud canary': 0.5,
    });
    close(await values('MAE per variant (feedback, last hour)', 'A'), { 'churn stable': 2, 'churn canary': 3 });
    const table = await query(
      concreteExpr(exprs.find((e) => e.panel === 'Variants now' && e.refId === 'B')!.expr, {
        job: JOB,
        model: '.+',
        rateInterval: '1m',
      }),
    );
    expect(
      table.data.result
        .map((s) => `${s.metric.model} ${s.metric.variant} v${s.metric.version} ${s.metric.role} ${s.value[1]}`)
        .sort(),
    ).toEqual([
      'churn canary v4 candidate 10',
      'churn stable v3 control 90',
      'fraud canary v2 candidate 5',
      'fraud stable v1 control 95',
    ]);
    const pValues = await values('p-value, candidate vs control', 'A');
    expect(pValues['fraud canary']).toBe(0.003);
    expect(pValues['churn canary']).toBeNaN();
    expect(await values('Labelled samples: needed and collected', 'A')).toEqual({
      'fraud canary': 120,
      'churn canary': Number.POSITIVE_INFINITY,
    });
    close(await values('Shadow agreement (classifiers)', 'A'), { 'fraud v3': 0.9 });
    close(await values('Shadow |difference| (regressors, P50 and P95)', 'B'), { 'churn v5': 0.1 + 0.95 * 0.15 });
    close(await values('Shadow latency (P95, P99)', 'A'), { 'fraud v3': 0.001 + 0.95 * 0.0015, 'churn v5': 0.195 });
    close(await values('Shadow failed and shed (share of mirrored)', 'A'), { 'fraud v3': 0.5 / 10.75, 'churn v5': 0 });
    close(await values('Shadow failed and shed (share of mirrored)', 'B'), { 'fraud v3': 0.25 / 10.75, 'churn v5': 0 });
  });

  it('the canary alerts go pending for the candidate that errs and is slow, and for no other variant', async () => {
    type Alert = { labels: Record<string, string>; state: string };
    const canary = await waitFor(
      'the canary alerts to go pending',
      async () => {
        const { data } = await api<{ alerts: Alert[] }>('/api/v1/alerts');
        const found = data.alerts.filter((a) => a.labels.alertname!.startsWith('OnnxServeCanary'));
        return found.length >= 2 ? found : undefined;
      },
      alive,
    );
    expect(
      canary
        .map((a) => `${a.labels.alertname} ${a.labels.job} ${a.labels.model} ${a.labels.variant} ${a.state}`)
        .sort(),
    ).toEqual([
      `OnnxServeCanaryErrorRateHigh ${JOB} fraud canary pending`,
      `OnnxServeCanaryLatencyHigh ${JOB} fraud canary pending`,
    ]);
  });

  it('loads every alert rule, runs every rule expression, and evaluates each rule without error', async () => {
    const rules = loadAlertRules();
    for (const { alert, expr } of rules) {
      const result = await query(expr);
      expect(result.status, `${alert}: ${result.error}`).toBe('success');
    }
    const loaded = await waitFor('every rule to be evaluated', async () => {
      const { data } = await api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
        '/api/v1/rules',
      );
      const all = data.groups.flatMap((g) => g.rules);
      return all.every((r) => r.health !== 'unknown') ? all : undefined;
    });
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    // A healthy app: none of the load-independent alerts is even pending. (Latency, queue and drift
    // alerts depend on this machine's speed and the traffic mix, and none can fire within `for`.)
    const { data } = await api<{ alerts: { labels: { alertname: string } }[] }>('/api/v1/alerts');
    const active = data.alerts.map((a) => a.labels.alertname);
    const stable = [
      'OnnxServeTargetDown',
      'OnnxServeNotReady',
      'OnnxServeModelFailed',
      'OnnxServeHighErrorRate',
      'OnnxServeQueueFull',
      'OnnxServeRedisCircuitOpen',
      'OnnxServeAccuracyLow',
    ];
    expect(active.filter((a) => stable.includes(a))).toEqual([]);
  });
});
