import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DriftMonitor } from '../../../src/core/monitoring/drift-monitor.js';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { buildModelSpec } from '../../../src/core/models/model-spec.js';
import { binOf, psi, SlidingHistogram } from '../../../src/core/monitoring/sliding-histogram.js';
import { BUNDLED_MODELS } from '../../helpers/app.js';
import type { Tensor } from '../../../src/core/tensors/tensor.js';

function bundledSpec(name: string) {
  const config = modelConfigSchema.parse(JSON.parse(readFileSync(join(BUNDLED_MODELS, name, 'model.json'), 'utf8')));
  const width = config.features!.length;
  return buildModelSpec(
    { name, version: '1', path: '', sha256: '' },
    config,
    {
      inputs: [{ name: 'input', dtype: 'float32', shape: [null, width] }],
      outputs: [{ name: config.output!, dtype: 'float32', shape: [null, config.labels?.length ?? 1] }],
    },
    'strict',
  );
}
const holdout = (name: string) =>
  JSON.parse(readFileSync(join(BUNDLED_MODELS, name, 'holdout.json'), 'utf8')) as {
    rows: number[][];
    targets: string[];
  };

describe('PSI building blocks', () => {
  it('bins a value by the count of edges strictly below it', () => {
    const edges = [1, 2, 3];
    expect([0.5, 1, 1.5, 2, 3, 3.5].map((v) => binOf(edges, v))).toEqual([0, 0, 1, 1, 2, 3]);
  });

  it('keeps counts of the last N only', () => {
    const h = new SlidingHistogram(2, 4);
    [0, 0, 0, 0, 1, 1].forEach((b) => h.add(b));
    expect(h.size).toBe(4);
    expect(h.fractions()).toEqual([0.5, 0.5]);
  });

  it('is 0 for identical distributions and grows with the shift', () => {
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(psi([0.5, 0.5], [0.6, 0.4])).toBeLessThan(0.1);
    expect(psi([0.5, 0.5], [0.9, 0.1])).toBeGreaterThan(0.25);
    expect(Number.isFinite(psi([0.5, 0.5], [1, 0]))).toBe(true);
  });
});

/** Rows as the feature input tensor the model receives. */
const features = (rows: number[][]): Tensor => ({
  dtype: 'float32',
  shape: [rows.length, rows[0]!.length],
  data: new Float32Array(rows.flat()),
});

describe('DriftMonitor on the bundled breast_cancer reference', () => {
  const spec = bundledSpec('breast_cancer');
  const { rows, targets } = holdout('breast_cancer');

  it('says NaN below the minimum window, not a false alarm', () => {
    const monitor = new DriftMonitor(spec, { windowRows: 1000, minRows: 100 });
    monitor.observeRows(features(rows.slice(0, 50)), 50);
    expect(monitor.featureScores().every((f) => Number.isNaN(f.psi))).toBe(true);
  });

  it('raises no alarm for rows drawn from the holdout, and PSI > 0.25 for shifted rows', () => {
    const steady = new DriftMonitor(spec, { windowRows: 1000, minRows: 100 });
    // resampled holdout rows (a bootstrap), not the reference rows themselves
    let seed = 7;
    const draw = () => rows[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % rows.length]!;
    const sample = Array.from({ length: 1000 }, draw);
    steady.observeRows(features(sample), sample.length);
    const calm = steady.featureScores();
    expect(calm).toHaveLength(30);
    expect(Math.max(...calm.map((f) => f.psi))).toBeLessThan(0.1);

    // covariate shift: only malignant tumours arrive
    const malignant = rows.filter((_, i) => targets[i] === 'malignant');
    const shifted = new DriftMonitor(spec, { windowRows: 1000, minRows: 100 });
    const drawn = Array.from({ length: 1000 }, (_, i) => malignant[i % malignant.length]!);
    shifted.observeRows(features(drawn), drawn.length);
    const alarms = shifted.featureScores().filter((f) => f.psi > 0.25);
    expect(alarms.map((f) => f.feature)).toContain('mean_radius');

    shifted.observeLabels(drawn.map(() => 'malignant'));
    expect(shifted.classScore()).toBeGreaterThan(0.25);
    steady.observeLabels(sample.map((_, i) => targets[i % targets.length]!));
    expect(steady.classScore()).toBeLessThan(0.1);
  });
});
