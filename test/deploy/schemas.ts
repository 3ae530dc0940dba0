import { join } from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Broker } from '@kubernetes-models/knative/eventing.knative.dev/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import ts from 'typescript';
import { isKServe, kserveErrors } from './kserve-schema.js';
import { ROOT } from './repo.js';

/** Kubernetes objects against the API's schemas: types and required fields, then unknown fields. */

/** The Kubernetes API schemas (kubernetes-models' validate()) for every kind k8s/ may hold. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  // The add-ons' kinds (k8s/overlays/), from their CRDs.
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'eventing.knative.dev/v1/Broker': Broker,
};

export function schemaErrors(object: unknown): string | undefined {
  const { apiVersion, kind } = object as { apiVersion?: string; kind?: string };
  // KServe publishes no models package: a structural check of its own (strict, so no strictFieldErrors).
  if (isKServe(object)) return kserveErrors(object);
  const Model = MODELS[`${apiVersion}/${kind}`];
  if (!Model) return `no schema for ${apiVersion}/${kind}: add its kubernetes-models class to MODELS`;
  try {
    new Model(object as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * kubernetes-models' validate() checks types and required fields but lets unknown fields through;
 * the API server (kubectl's default --validate=strict) rejects them. TypeScript's excess-property
 * check against the same models' interfaces catches them: each object becomes a typed literal.
 */
const INTERFACES: Record<string, [module: string, name: string]> = {
  'apps/v1/Deployment': ['kubernetes-models/apps/v1', 'IDeployment'],
  'autoscaling/v2/HorizontalPodAutoscaler': ['kubernetes-models/autoscaling/v2', 'IHorizontalPodAutoscaler'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1', 'IPodDisruptionBudget'],
  'v1/ConfigMap': ['kubernetes-models/v1', 'IConfigMap'],
  'v1/Secret': ['kubernetes-models/v1', 'ISecret'],
  'v1/Service': ['kubernetes-models/v1', 'IService'],
  'v1/Pod': ['kubernetes-models/v1', 'IPod'],
  'monitoring.coreos.com/v1/ServiceMonitor': [
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
    'IServiceMonitor',
  ],
  'monitoring.coreos.com/v1/PrometheusRule': [
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
    'IPrometheusRule',
  ],
  'keda.sh/v1alpha1/ScaledObject': ['@kubernetes-models/keda/keda.sh/v1alpha1', 'IScaledObject'],
  'eventing.knative.dev/v1/Broker': ['@kubernetes-models/knative/eventing.knative.dev/v1', 'IBroker'],
};

/** One message per problem, each naming the object (by its index in `objects`) and the field. */
export function strictFieldErrors(objects: unknown[]): string[] {
  const file = join(ROOT, 'test/deploy/__strict_fields__.ts');
  const lines = ['/* generated */'];
  objects.forEach((object, i) => {
    const { apiVersion, kind } = object as { apiVersion?: string; kind?: string };
    const target = INTERFACES[`${apiVersion}/${kind}`];
    if (!target)
      lines.push(
        `// object ${i}: no interface for ${apiVersion}/${kind}`,
        `export const o${i}: never = ${JSON.stringify(object)};`,
      );
    else
      lines.push(`export const o${i}: import(${JSON.stringify(target[0])}).${target[1]} = ${JSON.stringify(object)};`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const object =
      d.file?.fileName === file ? /^export const o(\d+)/.exec(source.split('\n')[line] ?? '')?.[1] : undefined;
    return `object ${object ?? '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
