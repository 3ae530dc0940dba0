import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HAS_KUBECTL,
  K8S_DIR,
  kustomize,
  loadKustomization,
  loadManifests,
  manifestFiles,
  parseYamlDocs,
  type K8sObject,
} from './repo.js';
import { schemaErrors, strictFieldErrors } from './schemas.js';

describe('k8s/ against the Kubernetes API schemas', () => {
  const docs = loadManifests();

  it.each(docs.map((d) => [`${d.file}: ${d.object.kind} ${d.object.metadata?.name}`, d.object] as const))(
    '%s validates',
    (_name, object) => {
      expect(schemaErrors(object)).toBeUndefined();
    },
  );

  it('the validator rejects what the API server would (so a pass means something)', () => {
    const deployment = structuredClone(docs.find((d) => d.object.kind === 'Deployment')!.object) as never as {
      spec: { replicas: unknown; template: { spec: { containers: { resources: { limits: { cpu: unknown } } }[] } } };
    };
    deployment.spec.replicas = 'three';
    deployment.spec.template.spec.containers[0]!.resources.limits.cpu = 'one';
    expect(schemaErrors(deployment)).toMatch(/replicas must be integer.*cpu must/s);
    // YAML 1.1, as Kubernetes reads it: an unquoted `no` in a ConfigMap is a boolean, not a string.
    expect(
      schemaErrors({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { CACHE_ENABLED: false } }),
    ).toMatch(/must be string/);
    expect(schemaErrors({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toMatch(/no schema/);
  });

  it('has no field the API server does not know (kubectl --validate=strict)', () => {
    // One compilation for all: the manifests, then a copy of the Deployment with a misspelt field
    // that must be the only one reported (so a pass means something).
    const misspelt = structuredClone(docs.find((d) => d.object.kind === 'Deployment')!.object) as never as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    misspelt.spec.template.spec.containers[0]!.readinessprobe = {};
    const errors = strictFieldErrors([...docs.map((d) => d.object), misspelt]);
    const sentinel = `object ${docs.length}:`;
    expect(
      errors
        .filter((e) => !e.startsWith(sentinel))
        .map((e) => e.replace(/^object (\d+)/, (_m, i: string) => docs[Number(i)]?.file ?? e)),
    ).toEqual([]);
    expect(errors.join('\n')).toMatch(/readinessprobe/);
  });

  it('every object has a name and the app.kubernetes.io/name label', () => {
    for (const { file, object } of docs) {
      expect(object.metadata?.name, file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(object.metadata.labels?.['app.kubernetes.io/name'], `${file} ${object.kind}`).toBeTruthy();
    }
  });

  it('no two objects share a kind and name', () => {
    const keys = docs.map((d) => `${d.object.kind}/${d.object.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('k8s/kustomization.yaml', () => {
  const kustomization = loadKustomization();

  it('is a Kustomization that lists every manifest in k8s/, and only files that exist', () => {
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(kustomization.kind).toBe('Kustomization');
    const resources = kustomization.resources ?? [];
    expect([...resources].sort()).toEqual(manifestFiles());
    expect(new Set(resources).size).toBe(resources.length);
    for (const file of resources) expect(existsSync(join(K8S_DIR, file)), file).toBe(true);
  });

  it('its image override names the image the Deployment uses', () => {
    const images = loadManifests()
      .filter((d) => d.object.kind === 'Deployment' && d.object.metadata.name === 'onnx-serve')
      .flatMap((d) =>
        (
          d.object as never as { spec: { template: { spec: { containers: { image: string }[] } } } }
        ).spec.template.spec.containers.map((c) => c.image),
      );
    expect(images).toHaveLength(1);
    const override = kustomization.images?.find((i) => i.name === images[0]);
    expect(override?.newName).toMatch(/^ghcr\.io\/[^/]+\/onnx-serve$/);
  });

  it.skipIf(!HAS_KUBECTL)('kubectl kustomize renders every manifest, valid, with the image override applied', () => {
    const rendered = kustomize(K8S_DIR);
    expect(rendered.stderr).toBe('');
    expect(rendered.status).toBe(0);
    const objects = parseYamlDocs(rendered.stdout, 'kubectl kustomize', '1.1') as K8sObject[];
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
    expect(objects.map(key).sort()).toEqual(
      loadManifests()
        .map((d) => key(d.object))
        .sort(),
    );
    for (const object of objects) expect(schemaErrors(object), key(object)).toBeUndefined();
    const override = kustomization.images?.[0];
    expect(rendered.stdout).toContain(`image: ${override?.newName}:${override?.newTag}`);
  });
});
