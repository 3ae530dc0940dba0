import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import type { IPrometheusRule, IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IConfigMap, IContainer, IService } from 'kubernetes-models/v1';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALERTS_FILE, prometheusRule, readAlerts, RULE_FILE } from '../../scripts/prometheus-rule.js';
import { configSchema, loadConfig } from '../../src/config.js';
import { appFor, BUNDLED_MODELS } from '../helpers/app.js';
import { isKnownSeries, metricNames, SERVICE_METRICS } from '../monitoring/monitoring-files.js';
import { dockerUser } from './dockerfile-facts.js';
import { runtimePod } from './kserve-schema.js';
import { OVERLAYS_DIR, overlayNames, readKustomization, renderOverlay } from './overlays.js';
import {
  cpuCores,
  findObject,
  HAS_KUBECTL,
  K8S_DIR,
  kustomize,
  loadKustomization,
  loadManifests,
  parseYamlDocs,
  readRepoFile,
  type K8sDoc,
  type K8sObject,
} from './repo.js';
import { schemaErrors, strictFieldErrors } from './schemas.js';

/** k8s/overlays/: the cluster add-ons render, validate, and agree with the base and the server. */

const base = loadManifests();
const baseDeployment = findObject<IDeployment>(base, 'Deployment', 'onnx-serve');
const baseContainer = baseDeployment.spec!.template.spec!.containers.find((c) => c.name === 'onnx-serve')!;
const baseHpa = findObject<IHorizontalPodAutoscaler>(base, 'HorizontalPodAutoscaler', 'onnx-serve');
const baseService = findObject<IService>(base, 'Service', 'onnx-serve');
const baseConfig = findObject<IConfigMap>(base, 'ConfigMap', 'onnx-serve-config').data ?? {};

const overlays = Object.fromEntries(overlayNames().map((name) => [name, renderOverlay(name)])) as Record<
  string,
  K8sDoc[]
>;
const all = Object.values(overlays).flat();
const the = <T>(overlay: string, kind: string) => findObject<T>(overlays[overlay] ?? [], kind, 'onnx-serve');
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe('k8s/overlays: every add-on renders and validates', () => {
  it('holds the four add-ons, each a Kustomization of its own objects, outside the base', () => {
    expect(Object.keys(overlays)).toEqual(['inference-log', 'keda', 'kserve', 'prometheus-operator']);
    for (const [name, docs] of Object.entries(overlays)) {
      expect(readKustomization(join(OVERLAYS_DIR, name)).kind, name).toBe('Kustomization');
      expect(docs.length, name).toBeGreaterThan(0);
    }
    // The base renders unchanged: it lists none of them.
    expect((loadKustomization().resources ?? []).filter((r) => r.includes('overlays'))).toEqual([]);
  });

  it.each(all.map((d) => [`${d.file}: ${d.object.kind} ${d.object.metadata?.name}`, d.object] as const))(
    '%s validates',
    (_name, object) => {
      expect(schemaErrors(object)).toBeUndefined();
    },
  );

  it('the validators reject what the API server or KServe would (so a pass means something)', () => {
    const serviceMonitor = structuredClone(the<IServiceMonitor>('prometheus-operator', 'ServiceMonitor'));
    serviceMonitor.spec.endpoints[0]!.port = 8000 as never;
    expect(schemaErrors(serviceMonitor)).toMatch(/endpoints\/0\/port must be string/);
    const rule = structuredClone(the<IPrometheusRule>('prometheus-operator', 'PrometheusRule'));
    delete (rule.spec.groups![0] as { name?: string }).name;
    expect(schemaErrors(rule)).toMatch(/groups\/0 must have required property '?name/);
    const scaled = structuredClone(the<IScaledObject>('keda', 'ScaledObject'));
    scaled.spec.triggers[0]!.metadata.threshold = 4 as never;
    expect(schemaErrors(scaled)).toMatch(/threshold must be string/);
    const broker = structuredClone(
      findObject<K8sObject>(overlays['inference-log']!, 'Broker', 'onnx-serve-inference-log'),
    );
    (broker.spec as { delivery: { retry: unknown } }).delivery.retry = '5';
    expect(schemaErrors(broker)).toMatch(/retry must be integer/);
    const runtime = structuredClone(the<K8sObject>('kserve', 'ServingRuntime')) as never as {
      spec: Record<string, unknown> & { containers: IContainer[] };
    };
    runtime.spec.protocolVersions = ['v3'];
    runtime.spec.containers[0]!.ports![0]!.containerPort = 'http' as never;
    expect(schemaErrors(runtime)).toMatch(/protocolVersions\.0: .*\n.*containerPort must be integer/s);
    const isvc = structuredClone(findObject<K8sObject>(overlays.kserve!, 'InferenceService', 'iris')) as never as {
      spec: { predictor: { model: Record<string, unknown> } };
    };
    delete isvc.spec.predictor.model.modelFormat;
    isvc.spec.predictor.model.storageUri = 'models/iris';
    isvc.spec.predictor.model.storageURI = 's3://x';
    expect(schemaErrors(isvc)).toMatch(/modelFormat.*storageUri: must be a URI.*Unrecognized key.*storageURI/s);
  });

  it('has no field the API servers do not know (kubectl --validate=strict)', () => {
    // KServe's own fields are strict in its schema; its containers are checked here, inside a Pod.
    const objects = all
      .map((d) => d.object)
      .flatMap((o) =>
        o.kind === 'ServingRuntime' ? [runtimePod(o)] : o.apiVersion.startsWith('serving.kserve.io') ? [] : [o],
      );
    // The HPA's word for KEDA's minReplicaCount: it must be the only one reported.
    const misspelt = structuredClone(the<IScaledObject>('keda', 'ScaledObject')) as never as {
      spec: Record<string, unknown>;
    };
    misspelt.spec.minReplicas = 3;
    const errors = strictFieldErrors([...objects, misspelt]);
    const sentinel = `object ${objects.length}:`;
    expect(errors.filter((e) => !e.startsWith(sentinel))).toEqual([]);
    expect(errors.join('\n')).toMatch(/minReplicas/);
  });

  it('every object carries the base labels (name, part-of)', () => {
    for (const { file, object } of all) {
      expect(object.metadata.labels, `${file} ${object.kind}`).toMatchObject({
        'app.kubernetes.io/name': 'onnx-serve',
        'app.kubernetes.io/part-of': 'onnx-serve',
      });
    }
  });

  it.skipIf(!HAS_KUBECTL)('kubectl kustomize renders each overlay as test/deploy/overlays.ts does', () => {
    for (const [name, docs] of Object.entries(overlays)) {
      const rendered = kustomize(join(OVERLAYS_DIR, name));
      expect(rendered.stderr, name).toBe('');
      const objects = parseYamlDocs(rendered.stdout, `kubectl kustomize ${name}`, '1.1') as K8sObject[];
      const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
      expect(objects.map(key).sort(), name).toEqual(docs.map((d) => key(d.object)).sort());
      for (const object of objects)
        expect(object, `${name} ${key(object)}`).toEqual(docs.find((d) => key(d.object) === key(object))!.object);
    }
  });
});

describe('prometheus-operator: ServiceMonitor and PrometheusRule', () => {
  const monitor = the<IServiceMonitor>('prometheus-operator', 'ServiceMonitor');

  it("the ServiceMonitor selects the Service and scrapes its port at the pods' metrics path", () => {
    expect(matches(monitor.spec.selector.matchLabels, baseService.metadata!.labels)).toBe(true);
    for (const other of base.filter((d) => d.object.kind === 'Service' && d.object !== (baseService as never))) {
      expect(matches(monitor.spec.selector.matchLabels, other.object.metadata.labels), other.object.metadata.name).toBe(
        false,
      );
    }
    const [endpoint] = monitor.spec.endpoints;
    expect(baseService.spec!.ports!.map((p) => p.name)).toContain(endpoint!.port);
    expect(endpoint!.path).toBe(baseDeployment.spec!.template.metadata!.annotations!['prometheus.io/path']);
  });

  it("its job (the Service's name) is one OnnxServeTargetDown watches", () => {
    const jobPattern = /up\{job=~"([^"]+)"\}/.exec(readAlerts())?.[1];
    expect(jobPattern).toBeDefined();
    expect(baseService.metadata!.name).toMatch(new RegExp(`^(?:${jobPattern})$`));
    expect(monitor.spec.jobLabel).toBeUndefined();
  });

  it(`the PrometheusRule is ${ALERTS_FILE} as \`npm run k8s:rules\` writes it`, () => {
    expect(readRepoFile(RULE_FILE), `${RULE_FILE} is stale: run \`npm run k8s:rules\``).toBe(
      prometheusRule(readAlerts()),
    );
    const { groups } = parseYamlDocs(readAlerts(), ALERTS_FILE)[0] as { groups: unknown };
    expect(the<IPrometheusRule>('prometheus-operator', 'PrometheusRule').spec.groups).toEqual(groups);
  });

  it('an edited alerts.yml makes the committed rule stale (so the check means something)', () => {
    const edited = readAlerts().replace('for: 2m', 'for: 3m');
    expect(edited).not.toBe(readAlerts());
    expect(prometheusRule(edited)).not.toBe(readRepoFile(RULE_FILE));
  });
});

describe('KEDA: the ScaledObject', () => {
  const scaled = the<IScaledObject>('keda', 'ScaledObject');
  const prometheus = scaled.spec.triggers.find((t) => t.type === 'prometheus')!;

  it("replaces the base's HPA (takes it over by name): the overlay renders no HPA of its own", () => {
    expect(overlays.keda!.filter((d) => d.object.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    expect(scaled.metadata?.annotations?.['scaledobject.keda.sh/transfer-hpa-ownership']).toBe('true');
    expect(scaled.spec.advanced?.horizontalPodAutoscalerConfig?.name).toBe(baseHpa.metadata!.name);
    expect(scaled.spec.scaleTargetRef).toEqual(baseHpa.spec!.scaleTargetRef);
  });

  it("keeps the base HPA's bounds, behaviour, and CPU and memory targets", () => {
    expect([scaled.spec.minReplicaCount, scaled.spec.maxReplicaCount]).toEqual([
      baseHpa.spec!.minReplicas,
      baseHpa.spec!.maxReplicas,
    ]);
    expect(scaled.spec.advanced?.horizontalPodAutoscalerConfig?.behavior).toEqual(baseHpa.spec!.behavior);
    const resources = Object.fromEntries(
      scaled.spec.triggers
        .filter((t) => t.type === 'cpu' || t.type === 'memory')
        .map((t) => [t.type, [t.metricType, Number(t.metadata.value)]]),
    );
    const hpaTargets = Object.fromEntries(
      (baseHpa.spec!.metrics ?? []).map((m) => [
        m.resource!.name,
        [m.resource!.target.type, m.resource!.target.averageUtilization],
      ]),
    );
    expect(resources).toEqual(hpaTargets);
  });

  it('scales on requests in flight per pod, 4 each (the threshold docs/deployment.md reasons about)', () => {
    expect(metricNames(prometheus.metadata.query!)).toEqual(['http_requests_in_flight']);
    expect(SERVICE_METRICS.http_requests_in_flight).toBe('gauge');
    expect(prometheus.metadata.threshold).toBe('4');
    expect(readRepoFile('docs/deployment.md')).toMatch(/threshold[^.]*\b4\b[^.]*in flight/i);
  });

  it('its query is PromQL that promtool accepts, and only reads exported series', () => {
    const check = (expr: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'keda-query-'));
      try {
        writeFileSync(
          join(dir, 'rules.yml'),
          JSON.stringify({ groups: [{ name: 'keda', rules: [{ record: 'keda:query', expr }] }] }),
        );
        return spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    expect(check(prometheus.metadata.query!).status).toBe(0);
    expect(check(prometheus.metadata.query!.replace('[1m]', '[1m')).status).not.toBe(0);
    expect(metricNames(prometheus.metadata.query!).filter((n) => !isKnownSeries(n))).toEqual([]);
  });
});

describe('KServe: the ServingRuntime and the InferenceService', () => {
  interface Runtime {
    metadata: { name: string };
    spec: {
      supportedModelFormats: { name: string }[];
      protocolVersions: string[];
      containers: IContainer[];
      volumes?: { name: string; emptyDir?: object }[];
      annotations?: Record<string, string>;
    };
  }
  interface Isvc {
    metadata: { name: string };
    spec: {
      predictor: {
        model: {
          modelFormat: { name: string };
          runtime: string;
          protocolVersion: string;
          storageUri: string;
          ports?: { name?: string; containerPort: number }[];
        };
      };
    };
  }
  const runtime = findObject<Runtime>(overlays.kserve!, 'ServingRuntime', 'onnx-serve');
  const isvc = findObject<Isvc>(overlays.kserve!, 'InferenceService', 'iris');
  const grpcIsvc = findObject<Isvc>(overlays.kserve!, 'InferenceService', 'iris-grpc');
  const container = runtime.spec.containers.find((c) => c.name === 'kserve-container')!;
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));

  it('the InferenceService asks for this runtime, a format and a protocol it supports', () => {
    expect(container).toBeDefined();
    expect(isvc.spec.predictor.model.runtime).toBe(runtime.metadata.name);
    expect(runtime.spec.supportedModelFormats.map((f) => f.name)).toContain(isvc.spec.predictor.model.modelFormat.name);
    expect(runtime.spec.protocolVersions).toEqual(['v2', 'grpc-v2']);
    expect(runtime.spec.protocolVersions).toContain(isvc.spec.predictor.model.protocolVersion);
  });

  it("the gRPC InferenceService names the runtime's GRPC_PORT h2c, its only port", () => {
    const { GRPC_PORT } = loadConfig(env, 1);
    expect(GRPC_PORT).toBeGreaterThan(0);
    expect(grpcIsvc.spec.predictor.model).toMatchObject({ runtime: runtime.metadata.name, protocolVersion: 'grpc-v2' });
    expect(grpcIsvc.spec.predictor.model.ports).toEqual([{ name: 'h2c', containerPort: GRPC_PORT, protocol: 'TCP' }]);
  });

  it('the runtime serves /mnt/models on the port it declares, with settings the server accepts', () => {
    expect(Object.keys(env).filter((name) => !(name in configSchema.shape))).toEqual([]);
    const config = loadConfig(env, 1);
    expect(config.MODEL_DIR).toBe('/mnt/models');
    expect(container.ports).toEqual([{ containerPort: config.PORT, protocol: 'TCP' }]);
    for (const probe of [container.readinessProbe, container.livenessProbe])
      expect(probe?.httpGet?.port).toBe(config.PORT);
    // The probes and the scrape are the base Deployment's.
    expect([container.readinessProbe?.httpGet?.path, container.livenessProbe?.httpGet?.path]).toEqual([
      baseContainer.readinessProbe?.httpGet?.path,
      baseContainer.livenessProbe?.httpGet?.path,
    ]);
    expect(runtime.spec.annotations).toMatchObject(baseDeployment.spec!.template.metadata!.annotations!);
  });

  it('compute threads match its CPU limit, and its settings agree with the base ConfigMap', () => {
    const limit = cpuCores(container.resources!.limits!.cpu!);
    const { INFERENCE_WORKERS, ORT_INTRA_OP_THREADS } = loadConfig(env, Math.ceil(limit));
    expect(INFERENCE_WORKERS * ORT_INTRA_OP_THREADS).toBe(Math.max(1, Math.floor(limit)));
    const shared = Object.keys(env).filter((name) => name !== 'MODEL_DIR' && name in baseConfig);
    expect(shared.length).toBeGreaterThan(2);
    expect(Object.fromEntries(shared.map((n) => [n, env[n]]))).toEqual(
      Object.fromEntries(shared.map((n) => [n, baseConfig[n]])),
    );
  });

  it("runs as the image's non-root uid, read-only, with an emptyDir at /tmp", () => {
    const { uid, gid } = dockerUser();
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: gid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const mount = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(runtime.spec.volumes?.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
  });

  it("runs the base's image: the overlay's image override is the base's", () => {
    expect(readKustomization(join(OVERLAYS_DIR, 'kserve')).images).toEqual(readKustomization(K8S_DIR).images);
    const override = loadKustomization().images![0]!;
    expect(container.image).toBe(`${override.newName}:${override.newTag}`);
  });

  describe('the storage layout it documents', () => {
    // What KServe's storage initializer leaves in /mnt/models for storageUri: <isvc name>/<version>/model.onnx.
    const mnt = mkdtempSync(join(tmpdir(), 'mnt-models-'));
    beforeAll(() => {
      mkdirSync(join(mnt, isvc.metadata.name, '1'), { recursive: true });
      copyFileSync(join(BUNDLED_MODELS, 'iris/1/model.onnx'), join(mnt, isvc.metadata.name, '1/model.onnx'));
      copyFileSync(join(BUNDLED_MODELS, 'iris/model.json'), join(mnt, isvc.metadata.name, 'model.json'));
    });
    const app = appFor(
      { ...env, MODEL_DIR: mnt, LOG_LEVEL: 'silent' },
      { dir: mnt, remove: () => rmSync(mnt, { recursive: true, force: true }) },
    );

    it("serves the InferenceService's name over OIP, and the probes answer", async () => {
      expect((await app().inject({ method: 'GET', url: `/v2/models/${isvc.metadata.name}/ready` })).statusCode).toBe(
        200,
      );
      expect((await app().inject({ method: 'GET', url: '/v2/models/digits/ready' })).statusCode).toBe(404);
      for (const probe of [container.readinessProbe, container.livenessProbe])
        expect((await app().inject({ method: 'GET', url: probe!.httpGet!.path! })).statusCode).toBe(200);
    });
  });
});
