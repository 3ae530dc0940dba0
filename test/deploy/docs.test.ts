import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFor } from '../helpers/app.js';
import { HAS_KUBECTL, K8S_DIR, kustomize, parseYamlDocs, readRepoFile, type K8sObject } from './repo.js';
import { schemaErrors } from './schemas.js';

/** docs/deployment.md's examples work: the YAML validates, the overlay renders, the metrics exist. */

const doc = readRepoFile('docs/deployment.md');
const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map(
  (m) => parseYamlDocs(m[1]!, 'docs/deployment.md')[0] as Record<string, unknown>,
);
const ofKind = (kind: string) => yamlBlocks.filter((b) => b.kind === kind) as K8sObject[];

describe('docs/deployment.md', () => {
  it('covers the commands and the capacity formula', () => {
    expect(doc).toContain('kubectl apply -k k8s/');
    expect(doc).toContain('docker build');
    expect(doc).toContain('replicas = ceil(peak req/s / (per-pod req/s x 0.7))');
  });

  it('its HPA example validates against the Kubernetes API schema and scales on Pods metrics', () => {
    const [hpa] = ofKind('HorizontalPodAutoscaler');
    expect(schemaErrors(hpa)).toBeUndefined();
    expect((hpa!.spec as { metrics: { type: string }[] }).metrics.map((m) => m.type)).toEqual(['Pods', 'Pods']);
  });

  it.skipIf(!HAS_KUBECTL)('its managed-Redis overlay renders without the bundled Redis and the example Secret', () => {
    const [overlay] = ofKind('Kustomization');
    const dir = mkdtempSync(join(tmpdir(), 'overlay-'));
    try {
      const overlayDir = join(dir, 'overlays/managed-redis');
      mkdirSync(overlayDir, { recursive: true });
      const resources = (overlay as never as { resources: string[] }).resources.map((r) =>
        r === '../../k8s' ? relative(overlayDir, K8S_DIR) : r,
      );
      writeFileSync(join(overlayDir, 'kustomization.yaml'), JSON.stringify({ ...overlay, resources }));
      const rendered = kustomize(overlayDir);
      expect(rendered.stderr).toBe('');
      const objects = parseYamlDocs(rendered.stdout, 'overlay', '1.1') as K8sObject[];
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(names).toContain('Deployment/onnx-serve');
      expect(names.filter((n) => n.includes('redis'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the metrics it scales on', () => {
    const app = appFor({ LOG_LEVEL: 'silent' });

    it('every series the adapter rules query is on /metrics', async () => {
      const rules = yamlBlocks.find((b) => b.rules) as {
        rules: { custom: { seriesQuery: string; name: { as: string } }[] };
      };
      const series = rules.rules.custom.map((r) => /^(\w+)/.exec(r.seriesQuery)![1]!);
      expect(series).toEqual(['http_requests_in_flight', 'ml_queue_depth_rows']);
      const metrics = (await app().inject({ method: 'GET', url: '/metrics' })).body;
      for (const name of series) expect(metrics, name).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
      // The HPA example asks for the names the adapter exposes.
      const hpaMetrics = (
        ofKind('HorizontalPodAutoscaler')[0]!.spec as { metrics: { pods: { metric: { name: string } } }[] }
      ).metrics.map((m) => m.pods.metric.name);
      expect(hpaMetrics).toEqual(rules.rules.custom.map((r) => r.name.as));
    });
  });
});
