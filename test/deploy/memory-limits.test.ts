import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IConfigMap } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { findObject, loadManifests } from './repo.js';

const docs = loadManifests();
const container = findObject<IDeployment>(docs, 'Deployment', 'onnx-serve').spec!.template.spec!.containers.find(
  (c) => c.name === 'onnx-serve',
)!;
const config = findObject<IConfigMap>(docs, 'ConfigMap', 'onnx-serve-config').data ?? {};

/** "2Gi" in bytes. */
function bytesOf(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * 1024 ** { Ki: 1, Mi: 2, Gi: 3 }[match[2] as 'Ki' | 'Mi' | 'Gi'];
}

describe('the memory bounds in k8s/', () => {
  it('the ConfigMap sets the in-flight caps the pod memory limit derives (docs/deployment.md#memory)', () => {
    const limit = bytesOf(container.resources!.limits!.memory as string);
    const derived = loadConfig({ ...config, MAX_INFLIGHT_BYTES: '', MAX_INFLIGHT_ROWS: '' }, 1, limit);
    const set = loadConfig(config, 1, limit);
    expect([set.MAX_INFLIGHT_BYTES, set.MAX_INFLIGHT_ROWS]).toEqual([
      derived.MAX_INFLIGHT_BYTES,
      derived.MAX_INFLIGHT_ROWS,
    ]);
    expect(config.MAX_INFLIGHT_BYTES).toBeDefined();
    expect(config.MAX_INFLIGHT_ROWS).toBeDefined();
  });
});
