import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SERVICE_METRICS } from './monitoring-files.js';

/**
 * A second scrape target beside the app, serving issue 13's experiment and shadow series with
 * known values, so the dashboard's experiment panels and the canary alerts run in a real
 * Prometheus against series shaped as the design fixes them (names, labels, types) before the
 * branches that export them have landed, and come out with numbers the tests can check.
 *
 * Counters grow linearly from the moment the target starts (rate × seconds), so Prometheus's
 * rate() and increase() of two series share their extrapolation and every ratio is exact. Only
 * ratios: rate() over a 1m or 5m window that holds a few seconds of samples is far below the true
 * rate, so every rate below is served × {@link SCALE}, enough for the canary alerts' minimum of
 * 0.2 req/s to hold within two scrapes.
 * Histograms put every observation in one bucket (lo, hi], where histogram_quantile(q) is
 * lo + q·(hi − lo).
 *
 * - fraud (a classifier): control `stable` (v1, weight 95) at 19 req/s without an error, candidate
 *   `canary` (v2, weight 5) at 1 req/s with 20% errors and a P95 in (100, 200] ms against the
 *   control's (1, 2.5] ms: both canary alerts go pending. Feedback: stable 90% right, canary 50%.
 *   Shadow `v3`: 9 agree, 1 disagree, 0.5 failed, 0.25 shed per s.
 * - churn (a regressor): control `stable` (v3) and candidate `canary` (v4) both healthy, at
 *   10 req/s (1% errors) and 1 req/s (no error series), equally fast; MAE 2 and 3. Shadow `v5`:
 *   4 compared per s, |difference| in (0.1, 0.25].
 */

type Labels = Record<string, string>;
type Sample = { name: string; labels: Labels; perSecond?: number; value?: number };

export const SCALE = 100;
const LATENCY_BUCKETS = [0.001, 0.0025, 0.1, 0.2];
const DIFFERENCE_BUCKETS = [0.1, 0.25, 1];

/** Counter samples of a histogram whose `perSecond` observations all fall in (lo, hi]. */
function histogram(name: string, labels: Labels, perSecond: number, les: number[], lo: number, hi: number): Sample[] {
  if (!les.includes(lo) || !les.includes(hi)) throw new Error(`${name}: (${lo}, ${hi}] is not a bucket`);
  return [
    ...les.map((le) => ({
      name: `${name}_bucket`,
      labels: { ...labels, le: String(le) },
      perSecond: le >= hi ? perSecond : 0,
    })),
    { name: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, perSecond },
    { name: `${name}_sum`, labels, perSecond: (perSecond * (lo + hi)) / 2 },
    { name: `${name}_count`, labels, perSecond },
  ];
}

const variant = (model: string, name: string) => ({ model, variant: name });
const shadow = (model: string, name: string) => ({ model, shadow: name });

export const SERIES: Sample[] = [
  { name: 'ml_variant_info', labels: { ...variant('fraud', 'stable'), version: '1', role: 'control' }, value: 1 },
  { name: 'ml_variant_info', labels: { ...variant('fraud', 'canary'), version: '2', role: 'candidate' }, value: 1 },
  { name: 'ml_variant_info', labels: { ...variant('churn', 'stable'), version: '3', role: 'control' }, value: 1 },
  { name: 'ml_variant_info', labels: { ...variant('churn', 'canary'), version: '4', role: 'candidate' }, value: 1 },
  { name: 'ml_variant_weight', labels: variant('fraud', 'stable'), value: 95 },
  { name: 'ml_variant_weight', labels: variant('fraud', 'canary'), value: 5 },
  { name: 'ml_variant_weight', labels: variant('churn', 'stable'), value: 90 },
  { name: 'ml_variant_weight', labels: variant('churn', 'canary'), value: 10 },
  { name: 'ml_variant_requests_total', labels: { ...variant('fraud', 'stable'), status: 'success' }, perSecond: 19 },
  { name: 'ml_variant_requests_total', labels: { ...variant('fraud', 'canary'), status: 'success' }, perSecond: 0.8 },
  { name: 'ml_variant_requests_total', labels: { ...variant('fraud', 'canary'), status: 'error' }, perSecond: 0.2 },
  { name: 'ml_variant_requests_total', labels: { ...variant('churn', 'stable'), status: 'success' }, perSecond: 9.9 },
  { name: 'ml_variant_requests_total', labels: { ...variant('churn', 'stable'), status: 'error' }, perSecond: 0.1 },
  { name: 'ml_variant_requests_total', labels: { ...variant('churn', 'canary'), status: 'success' }, perSecond: 1 },
  ...histogram('ml_variant_latency_seconds', variant('fraud', 'stable'), 19, LATENCY_BUCKETS, 0.001, 0.0025),
  ...histogram('ml_variant_latency_seconds', variant('fraud', 'canary'), 1, LATENCY_BUCKETS, 0.1, 0.2),
  ...histogram('ml_variant_latency_seconds', variant('churn', 'stable'), 10, LATENCY_BUCKETS, 0.001, 0.0025),
  ...histogram('ml_variant_latency_seconds', variant('churn', 'canary'), 1, LATENCY_BUCKETS, 0.001, 0.0025),
  { name: 'ml_variant_feedback_total', labels: { ...variant('fraud', 'stable'), result: 'correct' }, perSecond: 9 },
  { name: 'ml_variant_feedback_total', labels: { ...variant('fraud', 'stable'), result: 'incorrect' }, perSecond: 1 },
  { name: 'ml_variant_feedback_total', labels: { ...variant('fraud', 'canary'), result: 'correct' }, perSecond: 0.5 },
  { name: 'ml_variant_feedback_total', labels: { ...variant('fraud', 'canary'), result: 'incorrect' }, perSecond: 0.5 },
  // |error| in (1, 3] and (2, 4]: means 2 and 3
  ...histogram('ml_variant_absolute_error', variant('churn', 'stable'), 4, [1, 3, 4], 1, 3),
  ...histogram('ml_variant_absolute_error', variant('churn', 'canary'), 0.5, [1, 2, 4], 2, 4),
  { name: 'ml_experiment_p_value', labels: variant('fraud', 'canary'), value: 0.003 },
  { name: 'ml_experiment_p_value', labels: variant('churn', 'canary'), value: Number.NaN },
  { name: 'ml_experiment_samples_needed', labels: variant('fraud', 'canary'), value: 120 },
  { name: 'ml_experiment_samples_needed', labels: variant('churn', 'canary'), value: Number.POSITIVE_INFINITY },
  { name: 'ml_shadow_requests_total', labels: { ...shadow('fraud', 'v3'), outcome: 'agree' }, perSecond: 9 },
  { name: 'ml_shadow_requests_total', labels: { ...shadow('fraud', 'v3'), outcome: 'disagree' }, perSecond: 1 },
  { name: 'ml_shadow_requests_total', labels: { ...shadow('fraud', 'v3'), outcome: 'failed' }, perSecond: 0.5 },
  { name: 'ml_shadow_requests_total', labels: { ...shadow('fraud', 'v3'), outcome: 'shed' }, perSecond: 0.25 },
  { name: 'ml_shadow_requests_total', labels: { ...shadow('churn', 'v5'), outcome: 'compared' }, perSecond: 4 },
  ...histogram('ml_shadow_abs_difference', shadow('churn', 'v5'), 4, DIFFERENCE_BUCKETS, 0.1, 0.25),
  ...histogram('ml_shadow_latency_seconds', shadow('fraud', 'v3'), 10.5, LATENCY_BUCKETS, 0.001, 0.0025),
  ...histogram('ml_shadow_latency_seconds', shadow('churn', 'v5'), 4, LATENCY_BUCKETS, 0.1, 0.2),
];

const TYPES: Record<string, string> = Object.fromEntries(
  Object.entries(SERVICE_METRICS).filter(([name]) => /^ml_(variant|experiment|shadow)_/.test(name)),
);

const familyOf = (name: string) => (TYPES[name] ? name : name.replace(/_(bucket|sum|count)$/, ''));

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  return String(value);
}

/** The exposition at `seconds` after the start, every family under its TYPE line. */
export function exposition(seconds: number): string {
  const lines: string[] = [];
  for (const [family, type] of Object.entries(TYPES)) {
    lines.push(`# TYPE ${family} ${type}`);
    for (const s of SERIES.filter((x) => familyOf(x.name) === family)) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      lines.push(`${s.name}{${labels}} ${formatValue(s.value ?? s.perSecond! * SCALE * seconds)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Serves the exposition on /metrics of a loopback port until closed. */
export async function startExperimentSeries(): Promise<{ address: string; close(): Promise<void> }> {
  const started = performance.now();
  const server: Server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(exposition((performance.now() - started) / 1000));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
