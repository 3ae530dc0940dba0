import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Document, isMap, parseDocument } from 'yaml';

/**
 * k8s/overlays/prometheus-operator/prometheus-rule.yaml is monitoring/alerts.yml wrapped in a
 * PrometheusRule, written by this script so the two never drift: `npm run k8s:rules` after editing
 * the alerts. test/deploy/k8s-addons.test.ts regenerates it in memory and compares.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const ALERTS_FILE = 'monitoring/alerts.yml';
export const RULE_FILE = 'k8s/overlays/prometheus-operator/prometheus-rule.yaml';

const HEADER = [
  ` Generated from ${ALERTS_FILE} by \`npm run k8s:rules\` (scripts/prometheus-rule.ts): do not edit.`,
  ' A Prometheus loads it only if its ruleSelector matches: kube-prometheus-stack wants',
  ' `release: <its Helm release>` by default (add it under labels).',
].join('\n');

/** The PrometheusRule's YAML for this alerts file's text; the groups keep their comments. */
export function prometheusRule(alertsText: string): string {
  const alerts = parseDocument(alertsText, { uniqueKeys: true });
  if (alerts.errors.length > 0) throw new Error(`${ALERTS_FILE}: ${alerts.errors.map((e) => e.message).join('; ')}`);
  const groups = alerts.get('groups', true);
  if (!groups) throw new Error(`${ALERTS_FILE}: no groups`);
  const rule = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'onnx-serve', labels: { 'app.kubernetes.io/name': 'onnx-serve' } },
    spec: {},
  });
  const spec = rule.get('spec', true);
  if (!isMap(spec)) throw new Error('unreachable: spec is a map');
  spec.set('groups', groups);
  rule.commentBefore = HEADER;
  return rule.toString({ lineWidth: 0 });
}

export function readAlerts(): string {
  return readFileSync(join(ROOT, ALERTS_FILE), 'utf8');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(join(ROOT, RULE_FILE), prometheusRule(readAlerts()));
  console.log(`wrote ${RULE_FILE} from ${ALERTS_FILE}`);
}
