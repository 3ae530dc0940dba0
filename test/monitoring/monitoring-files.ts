import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** monitoring/ in the repository. */
export const MONITORING_DIR = new URL('../../monitoring/', import.meta.url).pathname;
/** Where the metrics are declared: one file per concern. */
export const METRICS_SOURCE_DIR = new URL('../../src/adapters/metrics/', import.meta.url).pathname;

export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * Every metric the dashboard and the alert rules may reference, by type. A metric renamed in
 * src/adapters/metrics/, or a typo in a panel or rule, breaks test/monitoring/dashboard.test.ts.
 */
export const SERVICE_METRICS: Record<string, MetricType> = {
  ml_predictions_total: 'counter',
  ml_prediction_rows_total: 'counter',
  ml_prediction_duration_seconds: 'histogram',
  http_request_duration_seconds: 'histogram',
  http_request_errors_total: 'counter',
  http_requests_in_flight: 'gauge',
  ml_model_state: 'gauge',
  ml_service_ready: 'gauge',
  ml_batch_size_rows: 'histogram',
  ml_batch_size_requests: 'histogram',
  ml_queue_wait_seconds: 'histogram',
  ml_queue_depth_rows: 'gauge',
  ml_inflight_batches: 'gauge',
  ml_cache_lookups_total: 'counter',
  ml_cache_redis_errors_total: 'counter',
  ml_cache_redis_circuit: 'gauge',
  ml_cache_l1_entries: 'gauge',
  ml_cache_l1_bytes: 'gauge',
  // model monitoring (issue 5)
  ml_prediction_confidence: 'histogram',
  ml_predicted_class_total: 'counter',
  ml_feature_drift_score: 'gauge',
  ml_class_drift_score: 'gauge',
  ml_model_accuracy: 'gauge',
  ml_model_mean_absolute_error: 'gauge',
  ml_feedback_total: 'counter',
  ml_feedback_unmatched_total: 'counter',
  ml_feature_anomalies_total: 'counter',
  ml_inference_cpu_seconds_total: 'counter',
  ml_prediction_cost_dollars_total: 'counter',
  // the event loop (issue 11)
  nodejs_eventloop_utilization_ratio: 'gauge',
  // traffic splits and shadows (issue 13)
  ml_variant_requests_total: 'counter',
  ml_variant_latency_seconds: 'histogram',
  ml_variant_feedback_total: 'counter',
  ml_variant_absolute_error: 'histogram',
  ml_variant_info: 'gauge',
  ml_variant_weight: 'gauge',
  ml_experiment_p_value: 'gauge',
  ml_experiment_samples_needed: 'gauge',
  ml_shadow_requests_total: 'counter',
  ml_shadow_abs_difference: 'histogram',
  ml_shadow_latency_seconds: 'histogram',
};

/** prom-client defaults the dashboard uses (collectDefaultMetrics), and Prometheus's own `up`. */
export const DEFAULT_METRICS: Record<string, MetricType> = {
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_heap_size_total_bytes: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_gc_duration_seconds: 'histogram',
};
export const PROMETHEUS_SYNTHETIC = new Set(['up']);

/** Every metric the dashboard and the rules may read. */
export const KNOWN_METRICS: Record<string, MetricType> = {
  ...SERVICE_METRICS,
  ...DEFAULT_METRICS,
};

/** Whether a series name in PromQL is an allowed metric (histograms as _bucket, _sum, _count). */
export function isKnownSeries(name: string): boolean {
  if (KNOWN_METRICS[name] !== undefined || PROMETHEUS_SYNTHETIC.has(name)) return true;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return base !== undefined && KNOWN_METRICS[base] === 'histogram';
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords,
 * label names (inside {...}, by/without/on/ignoring/group_*(...)), strings, durations or numbers.
 */
export function metricNames(expr: string): string[] {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\]|\\.)*'/g, "''")
    .replace(/`[^`]*`/g, '``');
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = s[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // 1e-3, 5m
    if (
      s
        .slice(m.index + m[0].length)
        .trimStart()
        .startsWith('(')
    )
      continue; // function or aggregation
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

export interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  templating: {
    list: {
      name: string;
      type: string;
      query: unknown;
      definition?: string;
      datasource?: { type: string; uid: string };
    }[];
  };
  panels: Panel[];
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { refId: string; expr: string; datasource?: { type: string; uid: string } }[];
  fieldConfig?: { defaults: { thresholds?: { steps: { color: string; value: number | null }[] } } };
  panels?: Panel[];
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(`${MONITORING_DIR}grafana-dashboard.json`, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included, without the rows themselves. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

export function dashboardExprs(dashboard: Dashboard): { panel: string; refId: string; expr: string }[] {
  return allPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })),
  );
}

/**
 * The Grafana template variables an expression may use, replaced by values Prometheus can run:
 * the "All" value of the multi-value variables and a concrete rate window.
 */
export function concreteExpr(expr: string, values: { job: string; model: string; rateInterval: string }): string {
  return expr
    .replaceAll('$__rate_interval', values.rateInterval)
    .replaceAll('$__interval', values.rateInterval)
    .replaceAll('${job}', values.job)
    .replaceAll('$job', values.job)
    .replaceAll('${model}', values.model)
    .replaceAll('$model', values.model);
}

/**
 * The alert rules of a rules file, read without a YAML library: `- alert: Name` and its `expr:`,
 * either inline or as a `|` / `>` block. The tests compare the count with promtool's and
 * Prometheus's, so a rule this reader misses fails them.
 */
export function alertRules(yaml: string): { alert: string; expr: string }[] {
  const lines = yaml.split('\n');
  const rules: { alert: string; expr: string }[] = [];
  let alert: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const name = /^\s*- alert:\s*(\S+)\s*$/.exec(line);
    if (name) alert = name[1];
    const expr = /^(\s*)expr:\s*(.*?)\s*$/.exec(line);
    if (!expr) continue;
    if (alert === undefined) throw new Error(`expr without an alert on line ${i + 1}`);
    const indent = expr[1]!.length;
    let text = expr[2]!;
    if (/^[|>][-+]?$/.test(text)) {
      const block: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > indent))
        block.push(lines[++i]!);
      text = block.join('\n').trim();
    } else if (/^(['"]).*\1$/.test(text)) {
      text = text.startsWith("'") ? text.slice(1, -1).replaceAll("''", "'") : (JSON.parse(text) as string);
    }
    rules.push({ alert, expr: text });
    alert = undefined;
  }
  return rules;
}

export function loadAlertRules(): { alert: string; expr: string }[] {
  return alertRules(readFileSync(`${MONITORING_DIR}alerts.yml`, 'utf8'));
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded), optionally feeding stdin. */
export function run(
  command: string,
  args: string[],
  options: { stdin?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += String(c)));
    child.stderr.on('data', (c) => (stderr += String(c)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} took longer than ${options.timeoutMs ?? 20_000} ms`));
    }, options.timeoutMs ?? 20_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new Error(
          `${command} could not start (${error.message}); install the Debian package "prometheus" (it ships promtool)`,
        ),
      );
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a tool that exits before reading stdin
    child.stdin.end(options.stdin ?? '');
  });
}
