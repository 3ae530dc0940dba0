import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { K8S_DIR, KUSTOMIZATION, parseYamlDocs, type K8sDoc, type K8sObject } from './repo.js';

/**
 * The add-on overlays in k8s/overlays/, rendered as kustomize renders them. Each holds only its own
 * objects (kustomize refuses k8s/ as a base from inside it), so the subset they use is small: local
 * files as resources, `labels` pairs, `images`. Anything else throws, rather than rendering it
 * wrongly; where kubectl exists the tests compare this rendering with `kubectl kustomize`.
 */

export const OVERLAYS_DIR = join(K8S_DIR, 'overlays');

export interface Kustomization {
  apiVersion: string;
  kind: string;
  resources?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  [field: string]: unknown;
}

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'labels', 'images']);

export function overlayNames(): string[] {
  return readdirSync(OVERLAYS_DIR)
    .filter((name) => statSync(join(OVERLAYS_DIR, name)).isDirectory())
    .sort();
}

export function readKustomization(dir: string): Kustomization {
  return parseYamlDocs(
    readFileSync(join(dir, KUSTOMIZATION), 'utf8'),
    join(dir, KUSTOMIZATION),
    '1.1',
  )[0] as Kustomization;
}

/** The overlay's objects, as `kubectl kustomize k8s/overlays/<name>` prints them, with their file. */
export function renderOverlay(name: string): K8sDoc[] {
  const dir = join(OVERLAYS_DIR, name);
  const kustomization = readKustomization(dir);
  const unknown = Object.keys(kustomization).filter((field) => !KNOWN_FIELDS.has(field));
  if (unknown.length > 0)
    throw new Error(`${name}: ${unknown.join(', ')} is outside what test/deploy/overlays.ts renders`);
  return (kustomization.resources ?? []).flatMap((resource) => {
    if (resource.includes('/')) throw new Error(`${name}: resource ${resource} is not a file in the overlay`);
    const file = `k8s/overlays/${name}/${resource}`;
    return parseYamlDocs(readFileSync(join(dir, resource), 'utf8'), file, '1.1')
      .filter((o) => o !== null)
      .map((object) => ({ file, object: transform(object as K8sObject, kustomization) }));
  });
}

function transform(source: K8sObject, kustomization: Kustomization): K8sObject {
  const object = structuredClone(source);
  for (const { pairs, includeSelectors, includeTemplates } of kustomization.labels ?? []) {
    if (includeSelectors || includeTemplates)
      throw new Error('labels with includeSelectors/includeTemplates are outside this renderer');
    object.metadata.labels = { ...object.metadata.labels, ...pairs };
  }
  for (const container of containersOf(object)) {
    const [, image, tag] = /^([^:@]+)(?::([^:@/]+))?$/.exec(String(container.image)) ?? [];
    if (image === undefined)
      throw new Error(`image ${String(container.image)} is outside this renderer (a registry port or a digest)`);
    const override = kustomization.images?.find((i) => i.name === image);
    const newTag = override?.newTag ?? tag;
    if (override) container.image = `${override.newName ?? image}${newTag ? `:${newTag}` : ''}`;
  }
  return object;
}

/** Containers where kustomize's image transformer looks: a pod template's, or a spec's own (ServingRuntime). */
function containersOf(object: K8sObject): { image?: unknown }[] {
  const spec = object.spec as
    { containers?: { image?: unknown }[]; template?: { spec?: { containers?: { image?: unknown }[] } } } | undefined;
  return [...(spec?.containers ?? []), ...(spec?.template?.spec?.containers ?? [])];
}
