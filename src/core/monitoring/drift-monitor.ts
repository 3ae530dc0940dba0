import { getElement } from '../tensors/dtypes.js';
import type { Tensor } from '../tensors/tensor.js';
import type { ModelSpec } from '../models/model-spec.js';
import { binOf, psi, SlidingHistogram } from './sliding-histogram.js';

export interface DriftOptions {
  /** Rows in the sliding window. */
  windowRows: number;
  /** Below this many rows the score is NaN: too few to tell drift from noise. */
  minRows: number;
}

interface FeatureWindow {
  name: string;
  index: number;
  edges: number[];
  expected: number[];
  window: SlidingHistogram;
}

/**
 * Feature and prediction drift of one model version against the reference statistics its
 * model.json was exported with: per feature the PSI of the last N rows over the reference's
 * quantile bins (the same bin rule as at export), and the PSI of the predicted-class mix against
 * the holdout class priors. Fixed memory: one ring per feature.
 */
export class DriftMonitor {
  private readonly features: FeatureWindow[] = [];
  private readonly classes?: { labels: string[]; expected: number[]; window: SlidingHistogram };

  constructor(
    spec: ModelSpec,
    private readonly options: DriftOptions,
  ) {
    const reference = spec.config.reference;
    if (!reference) return;
    // Values reach us as the model's float32; edges written as decimals must be compared in the
    // same precision, or a value equal to an edge (common: deciles of data with ties) changes bin.
    const input = spec.inputs.find((i) => i.name === spec.featureInput);
    const float32 = input?.dtype === 'float32';
    spec.features?.forEach((feature, index) => {
      const bins = reference.features[feature.name];
      const edges = bins && (float32 ? bins.edges.map(Math.fround) : bins.edges);
      if (bins && edges)
        this.features.push({
          name: feature.name,
          index,
          edges,
          expected: bins.fractions,
          window: new SlidingHistogram(bins.fractions.length, options.windowRows),
        });
    });
    if (reference.class_priors && spec.labels) {
      const labels = spec.labels;
      this.classes = {
        labels,
        expected: labels.map((l) => reference.class_priors![l] ?? 0),
        window: new SlidingHistogram(labels.length, options.windowRows),
      };
    }
  }

  get monitored(): boolean {
    return this.features.length > 0 || this.classes !== undefined;
  }

  /** The feature input's rows as the model received them. */
  observeRows(tensor: Tensor, rows: number): void {
    if (this.features.length === 0) return;
    const rowSize = tensor.data.length / rows;
    for (let r = 0; r < rows; r++) {
      for (const f of this.features)
        f.window.add(binOf(f.edges, getElement(tensor.data, tensor.dtype, r * rowSize + f.index)));
    }
  }

  /** Each row's predicted label. */
  observeLabels(labels: string[]): void {
    if (!this.classes) return;
    for (const label of labels) {
      const index = this.classes.labels.indexOf(label);
      if (index >= 0) this.classes.window.add(index);
    }
  }

  featureScores(): { feature: string; psi: number }[] {
    return this.features.map((f) => ({ feature: f.name, psi: this.score(f.expected, f.window) }));
  }

  classScore(): number | undefined {
    return this.classes ? this.score(this.classes.expected, this.classes.window) : undefined;
  }

  private score(expected: number[], window: SlidingHistogram): number {
    return window.size < this.options.minRows ? Number.NaN : psi(expected, window.fractions());
  }
}
