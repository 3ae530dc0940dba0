import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MONITORING_DIR, loadAlertRules, run } from './monitoring-files.js';

const RULES = `${MONITORING_DIR}alerts.yml`;
const CONFIG = `${MONITORING_DIR}prometheus.yml`;
const K8S_MARKER = '  # --- kubernetes ---';

describe('monitoring/alerts.yml and prometheus.yml under promtool', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'onnx-serve-rules-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('promtool check rules accepts every rule, and finds as many as the tests read', async () => {
    const result = await run('promtool', ['check', 'rules', RULES]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const found = Number(/SUCCESS: (\d+) rules found/.exec(result.stdout)?.[1]);
    expect(found).toBe(loadAlertRules().length);
  });

  it('every alert has severity, summary, description and a runbook', () => {
    const text = readFileSync(RULES, 'utf8');
    const blocks = text.split(/\n(?=[ \t]*- alert: )/).slice(1);
    expect(blocks).toHaveLength(loadAlertRules().length);
    for (const block of blocks) {
      const name = /- alert: (\S+)/.exec(block)![1]!;
      expect(block, name).toMatch(/\n\s+severity: (critical|warning)\n/);
      for (const annotation of ['summary', 'description'])
        expect(block, `${name} ${annotation}`).toMatch(new RegExp(`\\n\\s+${annotation}: "`));
      expect(block, name).toContain(`runbook_url: "monitoring/README.md#${name.toLowerCase()}"`);
      expect(readFileSync(`${MONITORING_DIR}README.md`, 'utf8'), `README section for ${name}`).toContain(`### ${name}`);
    }
  });

  it('promtool test rules: alerts.test.yml covers every alert, firing on bad series and silent on healthy ones', async () => {
    const tests = readFileSync(`${MONITORING_DIR}alerts.test.yml`, 'utf8');
    const untested = loadAlertRules().filter(({ alert }) => !tests.includes(`alertname: ${alert}\n`));
    expect(untested).toEqual([]);
    const result = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: MONITORING_DIR });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  /** promtool test rules, the unit tests as they are, against the rules with these edits. */
  const testEdited = async (edits: [string, string][]) => {
    const rules = readFileSync(RULES, 'utf8');
    const edited = edits.reduce((text, [from, to]) => {
      expect(text, from).toContain(from);
      return text.replaceAll(from, to);
    }, rules);
    writeFileSync(join(scratch, 'alerts.yml'), edited);
    copyFileSync(`${MONITORING_DIR}alerts.test.yml`, join(scratch, 'alerts.test.yml'));
    const result = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: scratch });
    expect(result.code).toBe(1);
    return result.stdout + result.stderr;
  };

  it('promtool test rules fails when a threshold is loosened (the unit tests are not vacuous)', async () => {
    // P95 target 500 ms, drift threshold 0.01, a canary allowed 10 points more errors than the
    // control, and 4 times its latency.
    const failed = await testEdited([
      [') > 0.2\n', ') > 0.5\n'],
      ['(ml_feature_drift_score) > 0.25', '(ml_feature_drift_score) > 0.01'],
      ['            + 0.01\n', '            + 0.1\n'],
      ['1.5 * max by (job, model) (', '4 * max by (job, model) ('],
    ]);
    for (const alert of [
      'OnnxServePredictLatencyHigh',
      'OnnxServeFeatureDrift',
      'OnnxServeCanaryErrorRateHigh',
      'OnnxServeCanaryLatencyHigh',
    ]) {
      expect(failed).toContain(`alertname: ${alert},`);
    }
  });

  it('promtool test rules fails without the canary guards: an idle canary, or a sub-millisecond one, would fire', async () => {
    const idle = await testEdited([['>= 0.2)', '>= 0)']]);
    expect(idle).toContain('alertname: OnnxServeCanaryErrorRateHigh,');
    expect(idle).toContain('alertname: OnnxServeCanaryLatencyHigh,');
    expect(idle).toContain('model="spam"');
    const noFloor = await testEdited([['            + 0.005\n', '\n']]);
    expect(noFloor).toContain('alertname: OnnxServeCanaryLatencyHigh,');
    expect(noFloor).toContain('model="churn"');
  });

  it('promtool check config accepts prometheus.yml and the rule file it loads', async () => {
    const config = readFileSync(CONFIG, 'utf8');
    expect(config).toContain(K8S_MARKER);
    expect(config).toMatch(/kubernetes_sd_configs:\n\s+- role: pod/);
    // Debian's promtool is built without Kubernetes discovery; with it, check the static part.
    const probe = join(scratch, 'k8s-probe.yml');
    writeFileSync(probe, 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n');
    const k8s = (await run('promtool', ['check', 'config', probe])).code === 0;
    const checked = k8s ? CONFIG : join(scratch, 'prometheus.yml');
    if (!k8s) {
      writeFileSync(checked, config.slice(0, config.indexOf(K8S_MARKER)));
      copyFileSync(RULES, join(scratch, 'alerts.yml'));
    }
    const result = await run('promtool', ['check', 'config', checked]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 1 rule files found');
    expect(result.stdout).toContain(`SUCCESS: ${loadAlertRules().length} rules found`);
  });
});
