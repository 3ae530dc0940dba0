import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Dockerfile } from 'dockerfile-ast';
import { parseAllDocuments } from 'yaml';

/** Reading the deployment files the way their consumers do: kubectl, docker, GitHub Actions. */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const K8S_DIR = join(ROOT, 'k8s');

export function readRepoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Every YAML document in a file; a syntax error or duplicate key throws. */
export function parseYamlDocs(text: string, file: string, version: '1.1' | '1.2' = '1.2'): unknown[] {
  return parseAllDocuments(text, { version, uniqueKeys: true }).map((doc) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${file}: ${problems.map((p) => p.message).join('; ')}`);
    return doc.toJS();
  });
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface K8sDoc {
  file: string;
  object: K8sObject;
}

export const KUSTOMIZATION = 'kustomization.yaml';

/** The manifest files in k8s/ (every *.yaml but the kustomization itself). */
export function manifestFiles(): string[] {
  return readdirSync(K8S_DIR)
    .filter((f) => /\.ya?ml$/.test(f) && f !== KUSTOMIZATION)
    .sort();
}

/**
 * Every object in k8s/. YAML 1.1, as Kubernetes reads it: an unquoted `no` or `on` is a
 * boolean there, so a ConfigMap value or container arg written that way fails validation here too.
 */
export function loadManifests(): K8sDoc[] {
  return manifestFiles().flatMap((file) =>
    parseYamlDocs(readFileSync(join(K8S_DIR, file), 'utf8'), file, '1.1')
      .filter((doc) => doc !== null)
      .map((doc) => ({ file, object: doc as K8sObject })),
  );
}

/** The one object of this kind and name; T is the kubernetes-models interface to read it as. */
export function findObject<T>(docs: K8sDoc[], kind: string, name: string): T {
  const found = docs.filter((d) => d.object.kind === kind && d.object.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name} in k8s/, found ${found.length}`);
  return found[0]!.object as T;
}

export function loadKustomization(): {
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
} & K8sObject {
  return parseYamlDocs(readFileSync(join(K8S_DIR, KUSTOMIZATION), 'utf8'), KUSTOMIZATION, '1.1')[0] as never;
}

export function loadDockerfile(): { text: string; dockerfile: Dockerfile } {
  const text = readRepoFile('Dockerfile');
  return { text, dockerfile: DockerfileParser.parse(text) };
}

/** Kubernetes CPU quantity ("500m", "1", "1.5") in cores. */
export function cpuCores(quantity: string | number): number {
  const text = String(quantity);
  const cores = text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
  if (!Number.isFinite(cores) || cores <= 0) throw new Error(`not a CPU quantity: ${text}`);
  return cores;
}

/** kubectl (with its built-in kustomize) is on this machine and on GitHub's runners, not everywhere. */
export const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { timeout: 20_000 }).status === 0;

export function kustomize(dir: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
}
