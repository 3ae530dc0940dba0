// What the benches that mimic the pod read from k8s/: the ConfigMap's settings and the container's memory limit.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

const manifest = (file: string): unknown => parse(readFileSync(new URL(`../k8s/${file}`, import.meta.url), 'utf8'));

const configMap = z.object({ data: z.record(z.string(), z.string()) });
const container = z.object({ resources: z.object({ limits: z.object({ memory: z.string() }) }) });
const deployment = z.object({
  spec: z.object({ template: z.object({ spec: z.object({ containers: z.tuple([container], container) }) }) }),
});

/** k8s/configmap.yaml's data: the environment the pod runs with. */
export const podSettings = configMap.parse(manifest('configmap.yaml')).data;
/** k8s/deployment.yaml's memory limit, as written there (`2Gi`). */
export const podMemoryLimit = deployment.parse(manifest('deployment.yaml')).spec.template.spec.containers[0].resources
  .limits.memory;
