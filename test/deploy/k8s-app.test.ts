import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IConfigMap, IContainer, IProbe, ISecret, IService } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig, SECRETS } from '../../src/config.js';
import { hardDeadlineMs } from '../../src/shutdown.js';
import { appFor } from '../helpers/app.js';
import { dockerUser } from './dockerfile-facts.js';
import { cpuCores, findObject, loadManifests } from './repo.js';

/** The manifests agree with the code they deploy: paths, ports, env names, timeouts, threads, uid. */

const docs = loadManifests();
const deployment = findObject<IDeployment>(docs, 'Deployment', 'onnx-serve');
const podSpec = deployment.spec!.template.spec!;
const container = podSpec.containers.find((c) => c.name === 'onnx-serve')!;
const configMap = findObject<IConfigMap>(docs, 'ConfigMap', 'onnx-serve-config');
const config = configMap.data ?? {};
const secret = findObject<ISecret>(docs, 'Secret', 'onnx-serve-redis');
const service = findObject<IService>(docs, 'Service', 'onnx-serve');
const hpa = findObject<IHorizontalPodAutoscaler>(docs, 'HorizontalPodAutoscaler', 'onnx-serve');
const pdb = findObject<IPodDisruptionBudget>(docs, 'PodDisruptionBudget', 'onnx-serve');
const podLabels = deployment.spec!.template.metadata!.labels!;
const annotations = deployment.spec!.template.metadata!.annotations ?? {};

const probes = (c: IContainer): [string, IProbe][] =>
  (['startupProbe', 'livenessProbe', 'readinessProbe'] as const).filter((p) => c[p]).map((p) => [p, c[p]!]);

/** A container port by name or number, as the kubelet resolves a probe's or Service's port. */
function containerPort(c: IContainer, port: string | number | undefined): number | undefined {
  return typeof port === 'number'
    ? c.ports?.find((p) => p.containerPort === port)?.containerPort
    : c.ports?.find((p) => p.name === port)?.containerPort;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const secretValue = (s: ISecret, key: string): string | undefined =>
  s.stringData?.[key] ?? (s.data?.[key] !== undefined ? Buffer.from(s.data[key], 'base64').toString() : undefined);

describe('probes and scrape target exist in the server', () => {
  const app = appFor({ LOG_LEVEL: 'silent' });

  it('has a startup, liveness and readiness probe, on /health and /ready', () => {
    const paths = Object.fromEntries(probes(container).map(([name, p]) => [name, p.httpGet?.path]));
    expect(paths).toEqual({ startupProbe: '/health', livenessProbe: '/health', readinessProbe: '/ready' });
  });

  it.each(probes(container).map(([name, p]) => [name, p.httpGet?.path ?? '(no httpGet)'] as const))(
    '%s path %s answers 200',
    async (_name, path) => {
      expect((await app().inject({ method: 'GET', url: path })).statusCode).toBe(200);
    },
  );

  it('the Prometheus annotations point at /metrics on the container port', async () => {
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(Number(annotations['prometheus.io/port'])).toBe(containerPort(container, 'http'));
    const response = await app().inject({ method: 'GET', url: annotations['prometheus.io/path'] ?? '(none)' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/^# HELP /m);
  });
});

describe('ports', () => {
  it('probes, the Service and PORT/GRPC_PORT all reach the ports the server listens on', () => {
    const { PORT: port, GRPC_PORT: grpcPort } = configSchema.parse(config);
    expect(containerPort(container, 'http')).toBe(port);
    expect(containerPort(container, 'grpc')).toBe(grpcPort);
    for (const [name, probe] of probes(container))
      expect(containerPort(container, probe.httpGet?.port), name).toBe(port);
    const byName = Object.fromEntries(
      service.spec!.ports!.map((p) => [p.name, containerPort(container, p.targetPort)]),
    );
    expect(byName).toEqual({ http: port, grpc: grpcPort });
    expect(service.spec!.ports!.find((p) => p.name === 'grpc')?.appProtocol).toBe('grpc');
  });
});

describe('environment', () => {
  const envNames = [...Object.keys(config), ...(container.env ?? []).map((e) => e.name)];

  it('every env name the Deployment and ConfigMap set is one src/config.ts knows', () => {
    expect(envNames.length).toBeGreaterThan(5);
    const known = Object.keys(configSchema.shape);
    expect(envNames.filter((name) => !known.includes(name))).toEqual([]);
  });

  it('the values parse under the server config schema (REDIS_URL from the Secret)', () => {
    // The second, optional, is k8s/overlays/inference-log's (tested there)
    expect(container.envFrom).toEqual([
      { configMapRef: { name: configMap.metadata!.name } },
      { configMapRef: { name: 'onnx-serve-inference-log', optional: true } },
    ]);
    const redis = container.env?.find((e) => e.name === 'REDIS_URL')?.valueFrom?.secretKeyRef;
    expect(redis?.name).toBe(secret.metadata!.name);
    const redisUrl = secretValue(secret, redis!.key);
    expect(() => loadConfig({ ...config, REDIS_URL: redisUrl }, 1)).not.toThrow();
    expect(loadConfig({ ...config, REDIS_URL: redisUrl }, 1).REDIS_URL).toBe(redisUrl);
  });

  it('secrets come from Secrets, never the ConfigMap; CACHE_HMAC_KEY from one created by hand, optional', () => {
    expect(Object.keys(config).filter((name) => SECRETS.has(name))).toEqual([]);
    for (const e of container.env ?? [])
      if (SECRETS.has(e.name)) expect(e.valueFrom?.secretKeyRef, e.name).toBeDefined();
    const key = container.env?.find((e) => e.name === 'CACHE_HMAC_KEY')?.valueFrom?.secretKeyRef;
    expect(key).toEqual({ name: 'onnx-serve-cache-key', key: 'CACHE_HMAC_KEY', optional: true });
    // Not among the manifests: a key in git would be known to whoever reads the repository.
    const secrets = docs.filter((d) => d.object.kind === 'Secret').map((d) => d.object.metadata.name);
    expect(secrets).toEqual([secret.metadata!.name]);
    expect(secrets).not.toContain(key!.name);
  });

  it('the shutdown fits the grace period: SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS + backstop < terminationGracePeriodSeconds', () => {
    const { SHUTDOWN_DELAY_MS, SHUTDOWN_TIMEOUT_MS, REQUEST_TIMEOUT_MS } = configSchema.parse(config);
    // The server serves on after SIGTERM while the endpoint is removed; no preStop exec, whose
    // binary the image may not have. A preStop sleep, if one is added, runs before SIGTERM.
    expect(container.lifecycle?.preStop?.exec).toBeUndefined();
    expect(SHUTDOWN_DELAY_MS).toBeGreaterThanOrEqual(5000);
    const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    const lastExit = preStopMs + hardDeadlineMs({ delayMs: SHUTDOWN_DELAY_MS, timeoutMs: SHUTDOWN_TIMEOUT_MS });
    expect(lastExit).toBeLessThan((podSpec.terminationGracePeriodSeconds ?? 30) * 1000);
    // A request admitted just before the listener closes may run for REQUEST_TIMEOUT_MS; the grace covers it.
    expect(REQUEST_TIMEOUT_MS).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
  });

  it('compute threads match the CPU limit (workers x intra-op threads = limit)', () => {
    const limit = cpuCores(container.resources!.limits!.cpu!);
    // Set explicitly, so the threads do not depend on the node's cgroup setup.
    expect(config.INFERENCE_WORKERS).toBeDefined();
    expect(config.ORT_INTRA_OP_THREADS).toBeDefined();
    const { INFERENCE_WORKERS, ORT_INTRA_OP_THREADS } = loadConfig(config, Math.ceil(limit));
    expect(INFERENCE_WORKERS * ORT_INTRA_OP_THREADS).toBe(Math.max(1, Math.floor(limit)));
  });
});

describe('the Deployment', () => {
  it('runs 3 replicas with the seed requests and limits', () => {
    expect(deployment.spec!.replicas).toBe(3);
    expect(container.resources).toEqual({
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { cpu: '1000m', memory: '2Gi' },
    });
  });

  it('runs as the non-root uid the Dockerfile creates, read-only, with no privileges', () => {
    const { uid, gid } = dockerUser();
    const sc = container.securityContext!;
    expect(podSpec.securityContext?.runAsNonRoot).toBe(true);
    expect(sc).toMatchObject({
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: gid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.capabilities?.add ?? []).toEqual([]);
  });

  it('mounts an emptyDir at /tmp (the root filesystem is read-only)', () => {
    const mount = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(podSpec.volumes?.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
  });

  it('keeps full capacity during a rollout', () => {
    expect(deployment.spec!.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });
});

describe('Service, HPA and PDB select the Deployment', () => {
  it('the Service selects the pods', () => {
    expect(matches(service.spec!.selector, podLabels)).toBe(true);
    expect(matches(deployment.spec!.selector.matchLabels, podLabels)).toBe(true);
  });

  it('the HPA scales 3-20 replicas on CPU 70% and memory 80%, slowly down', () => {
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec!.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata!.name,
    });
    expect([hpa.spec!.minReplicas, hpa.spec!.maxReplicas]).toEqual([3, 20]);
    expect(hpa.spec!.minReplicas).toBe(deployment.spec!.replicas);
    const targets = Object.fromEntries(
      (hpa.spec!.metrics ?? []).map((m) => [
        m.resource?.name,
        m.resource?.target.type === 'Utilization' ? m.resource.target.averageUtilization : undefined,
      ]),
    );
    expect(targets).toEqual({ cpu: 70, memory: 80 });
    expect(hpa.spec!.behavior?.scaleDown?.stabilizationWindowSeconds).toBeGreaterThanOrEqual(60);
  });

  it('the PDB selects the pods and leaves most of the minimum up', () => {
    expect(matches(pdb.spec!.selector?.matchLabels, podLabels)).toBe(true);
    const maxUnavailable = Number(pdb.spec!.maxUnavailable ?? NaN);
    expect(maxUnavailable).toBeGreaterThanOrEqual(1);
    expect(maxUnavailable).toBeLessThan(hpa.spec!.minReplicas!);
  });
});

describe('the bundled Redis', () => {
  const redis = findObject<IDeployment>(docs, 'Deployment', 'onnx-serve-redis');
  const redisService = findObject<IService>(docs, 'Service', 'onnx-serve-redis');
  const redisPod = redis.spec!.template.spec!;
  const redisContainer = redisPod.containers[0]!;

  it('is redis:7 with no persistence', () => {
    expect(redisContainer.image).toMatch(/^redis:7(\b|$)/);
    const args = [...(redisContainer.command ?? []), ...(redisContainer.args ?? [])];
    expect(args[args.indexOf('--save') + 1]).toBe('');
    expect(args[args.indexOf('--appendonly') + 1]).toBe('no');
    expect((redisPod.volumes ?? []).every((v) => v.emptyDir !== undefined)).toBe(true);
  });

  it('has its own locked-down securityContext', () => {
    expect(redisPod.securityContext?.runAsNonRoot).toBe(true);
    expect(redisContainer.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('the example Secret points REDIS_URL at its Service', () => {
    expect(matches(redisService.spec!.selector, redis.spec!.template.metadata!.labels!)).toBe(true);
    const url = new URL(secretValue(secret, 'REDIS_URL')!);
    expect(url.hostname).toBe(redisService.metadata!.name);
    expect(Number(url.port)).toBe(redisService.spec!.ports![0]!.port);
    expect(containerPort(redisContainer, redisService.spec!.ports![0]!.targetPort)).toBe(6379);
  });
});
