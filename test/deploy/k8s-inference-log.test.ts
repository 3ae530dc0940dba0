import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IConfigMap } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, loadConfig } from '../../src/config.js';
import { postJson, startApp } from '../helpers/app.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { renderOverlay } from './overlays.js';
import { findObject, loadManifests, type K8sObject } from './repo.js';

/** k8s/overlays/inference-log: the log as CloudEvents to a Knative Broker, and the base reading its settings. */

const objects = renderOverlay('inference-log');
const broker = findObject<K8sObject>(objects, 'Broker', 'onnx-serve-inference-log');
const settings = findObject<IConfigMap>(objects, 'ConfigMap', 'onnx-serve-inference-log');
const env = settings.data ?? {};
const base = loadManifests();
const baseConfig = findObject<IConfigMap>(base, 'ConfigMap', 'onnx-serve-config').data ?? {};
const container = findObject<IDeployment>(base, 'Deployment', 'onnx-serve').spec!.template.spec!.containers[0]!;

describe('inference-log: the Knative Broker and the settings that point the log at it', () => {
  it('its settings are ones the server accepts, on top of the base ConfigMap: the cloudevents sink', () => {
    expect(Object.keys(env).filter((name) => !(name in configSchema.shape))).toEqual([]);
    const config = loadConfig({ ...baseConfig, ...env }, 1);
    expect(config.INFERENCE_LOG).toBe('cloudevents');
    expect(config.INFERENCE_LOG_SAMPLE).toBeGreaterThan(0);
  });

  it("posts to the Broker's ingress: broker-ingress.knative-eventing, /<namespace>/<broker name>", () => {
    const url = new URL(env['INFERENCE_LOG_URL']!);
    expect(url.host).toBe('broker-ingress.knative-eventing.svc.cluster.local');
    // The base objects name no namespace: they go to kubectl's, `default` unless told
    expect(url.pathname).toBe(`/default/${broker.metadata.name}`);
  });

  it('the base Deployment reads the ConfigMap after its own, optionally: without the overlay the log is off', () => {
    const refs = (container.envFrom ?? []).map((e) => e.configMapRef);
    expect(refs.at(-1)).toEqual({ name: settings.metadata!.name, optional: true });
    expect(loadConfig(baseConfig, 1).INFERENCE_LOG).toBe('off');
  });

  describe('a server with these settings, the Broker played by an HTTP receiver at the same path', () => {
    let ingress: HttpReceiver;
    let url: string;
    beforeAll(async () => {
      ingress = await HttpReceiver.start();
      url = ingress.url(new URL(env['INFERENCE_LOG_URL']!).pathname);
    });
    afterAll(() => ingress.stop());

    it('sends each sampled prediction as binary-mode CloudEvents of the types Triggers filter on', async () => {
      // Every prediction sampled, so that one request is enough to see both events.
      const app = await startApp({ ...env, INFERENCE_LOG_URL: url, INFERENCE_LOG_SAMPLE: '1', CACHE_ENABLED: 'false' });
      const { status, body } = await postJson(app, '/predict', { model: 'iris', instances: [[5.1, 3.5, 1.4, 0.2]] });
      expect(status).toBe(200);
      await app.close();
      const id = (body as { id: string }).id;
      const { received } = ingress;
      expect(received.map((r) => [r.path, r.headers['ce-type'], r.headers['ce-id']])).toEqual([
        [new URL(url).pathname, 'org.kubeflow.serving.inference.request', id],
        [new URL(url).pathname, 'org.kubeflow.serving.inference.response', id],
      ]);
      for (const { headers } of received)
        expect(headers).toMatchObject({ 'ce-specversion': '1.0', 'ce-source': env['INFERENCE_LOG_SOURCE'] });
    });
  });
});
