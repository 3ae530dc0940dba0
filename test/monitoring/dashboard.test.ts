import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  KNOWN_METRICS,
  METRICS_SOURCE_DIR,
  SERVICE_METRICS,
  allPanels,
  dashboardExprs,
  isKnownSeries,
  loadAlertRules,
  loadDashboard,
  metricNames,
} from './monitoring-files.js';

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

describe('the PromQL metric-name reader', () => {
  it('finds selected series and nothing else', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (job, le) (rate(foo_bucket{route="/predict", x=~"a|b{c}"}[5m]))) > 0.2',
      ),
    ).toEqual(['foo_bucket']);
    expect(
      metricNames('(a_total < 0.8) and on (job, instance) (sum without (x) (b) >= 1e-3) or vector(0) offset 5m'),
    ).toEqual(['a_total', 'b']);
    expect(
      metricNames('max by (model) (ml_x{model=~"$model"}[$__rate_interval]) / ignoring(le) group_left(model) up'),
    ).toEqual(['ml_x', 'up']);
  });
});

describe('monitoring/grafana-dashboard.json', () => {
  const dashboard = loadDashboard();
  const panels = allPanels(dashboard);
  const exprs = dashboardExprs(dashboard);

  it('is an importable dashboard with datasource, job and model variables', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.model).toMatchObject({
      type: 'query',
      datasource: DATASOURCE,
      definition: 'label_values(ml_predictions_total, model)',
    });
    expect((vars.model!.query as { query: string }).query).toBe('label_values(ml_predictions_total, model)');
    expect(vars.job).toMatchObject({ type: 'query', datasource: DATASOURCE });
  });

  it('gives every panel the datasource variable, a unique id and a place on a 24-column grid without overlaps', () => {
    const ids = dashboard.panels.flatMap((p) => [p.id, ...(p.panels ?? []).map((c) => c.id)]);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
    }
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual(DATASOURCE);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.datasource, `${p.title} ${t.refId}`).toEqual(DATASOURCE);
        expect(t.expr.trim(), `${p.title} ${t.refId}`).not.toBe('');
      }
    }
  });

  it('references only metrics the service exports', () => {
    const unknown = exprs.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((n) => !isKnownSeries(n))
        .map((n) => `${panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('has a panel on every service metric, the experiment and shadow metrics included', () => {
    const used = new Set(exprs.flatMap(({ expr }) => metricNames(expr)));
    const missing = Object.keys(KNOWN_METRICS).filter(
      (m) =>
        !used.has(m) &&
        !(KNOWN_METRICS[m] === 'histogram' && ['_bucket', '_sum', '_count'].some((s) => used.has(m + s))),
    );
    expect(missing).toEqual([]);
  });

  it('shows the variants and shadows of the models picked in $model, with quantiles from buckets', () => {
    const experiment = exprs.filter(({ expr }) =>
      metricNames(expr).some((n) => /^ml_(variant|shadow|experiment)_/.test(n)),
    );
    expect(experiment.length).toBeGreaterThanOrEqual(20);
    for (const { panel, refId, expr } of experiment) {
      const selectors = [...expr.matchAll(/\b(ml_(?:variant|shadow|experiment)_\w+)(\{[^}]*\})?/g)];
      for (const [, name, labels] of selectors) {
        expect(labels, `${panel} ${refId}: ${name}`).toContain('job=~"$job"');
        expect(labels, `${panel} ${refId}: ${name}`).toContain('model=~"$model"');
      }
    }
    for (const [metric, by] of [
      ['ml_variant_latency_seconds_bucket', 'variant'],
      ['ml_shadow_latency_seconds_bucket', 'shadow'],
      ['ml_shadow_abs_difference_bucket', 'shadow'],
    ] as const) {
      for (const q of metric === 'ml_shadow_abs_difference_bucket' ? ['0.5', '0.95'] : ['0.95', '0.99']) {
        const hit = exprs.find(
          ({ expr }) =>
            expr.startsWith(`histogram_quantile(${q}, sum by (le, model, ${by}) (rate(${metric}{`) &&
            expr.includes('[$__rate_interval]'),
        );
        expect(hit, `${metric} P${Number(q) * 100}`).toBeDefined();
      }
    }
  });

  it('computes latency quantiles from histogram buckets over rate windows', () => {
    for (const [metric, route] of [
      ['http_request_duration_seconds_bucket', '/predict'],
      ['ml_prediction_duration_seconds_bucket', undefined],
    ] as const) {
      for (const q of ['0.5', '0.95', '0.99']) {
        const hit = exprs.find(
          ({ expr }) =>
            expr.startsWith(`histogram_quantile(${q},`) &&
            expr.includes(`rate(${metric}{`) &&
            expr.includes('[$__rate_interval]'),
        );
        expect(hit, `${metric} P${Number(q) * 100}`).toBeDefined();
        if (route) expect(hit!.expr).toContain(`route="${route}"`);
      }
    }
  });

  it('draws the PSI thresholds 0.1 and 0.25 on the drift panels, filtered by $model', () => {
    for (const metric of ['ml_feature_drift_score', 'ml_class_drift_score']) {
      const panel = panels.find(
        (p) => p.type === 'timeseries' && p.targets?.some((t) => metricNames(t.expr).includes(metric)),
      );
      expect(panel, metric).toBeDefined();
      expect(panel!.targets![0]!.expr).toContain('model=~"$model"');
      const steps = panel!.fieldConfig!.defaults.thresholds!.steps.map((s) => s.value);
      expect(steps).toEqual([null, 0.1, 0.25]);
    }
  });
});

describe('the metric list against the source and the alert rules', () => {
  const source = readdirSync(METRICS_SOURCE_DIR)
    .map((file) => readFileSync(`${METRICS_SOURCE_DIR}${file}`, 'utf8'))
    .join('\n');
  const declared: Record<string, string | undefined> = Object.fromEntries(
    [...source.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name:\s*'([^']+)'/g)].map((m) => [
      m[2]!,
      m[1]!.toLowerCase(),
    ]),
  );

  it('lists each service metric with the type src/adapters/metrics/ declares', () => {
    expect(Object.keys(declared).length).toBeGreaterThan(20);
    const mismatched = Object.entries(SERVICE_METRICS)
      .filter(([name, type]) => declared[name] !== type)
      .map(([name, type]) => `${name}: listed ${type}, declared ${declared[name]}`);
    expect(mismatched).toEqual([]);
  });

  it('the alert rules reference only metrics the service exports', () => {
    const rules = loadAlertRules();
    expect(rules.length).toBeGreaterThanOrEqual(10);
    const unknown = rules.flatMap(({ alert, expr }) =>
      metricNames(expr)
        .filter((n) => !isKnownSeries(n))
        .map((n) => `${alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});
