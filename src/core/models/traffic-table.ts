import type { RepositoryModel } from './model-repository.js';
import type { TrafficVariant } from './traffic-config.js';
import { ModelTraffic } from './traffic-router.js';

/**
 * The traffic splits of the repository's models, as their model.json declare them. A split set
 * through the control API holds until its model.json's `traffic` changes (or the process
 * restarts): a rescan that finds the same declaration keeps the weights the API set.
 */
export class TrafficTable {
  private readonly splits = new Map<string, { declared: string; traffic: ModelTraffic }>();

  constructor(private readonly random?: () => number) {}

  /** After a scan: the splits of these models, none for models without one or no longer there. */
  apply(models: readonly RepositoryModel[]): void {
    const names = new Set(models.map((m) => m.name));
    for (const name of this.splits.keys()) if (!names.has(name)) this.splits.delete(name);
    for (const model of models) {
      // A model.json refused on a rescan leaves the loaded versions serving as they were: their split too.
      if (model.error && this.splits.has(model.name)) continue;
      const config = model.config.traffic;
      if (!config) {
        this.splits.delete(model.name);
        continue;
      }
      const declared = JSON.stringify(config);
      if (this.splits.get(model.name)?.declared === declared) continue;
      this.splits.set(model.name, { declared, traffic: new ModelTraffic(model.name, config, this.random) });
    }
  }

  /**
   * A model unloaded through the control API: loaded again, it starts from its model.json, not from
   * weights set before.
   */
  forget(model: string): void {
    this.splits.delete(model);
  }

  get(model: string): ModelTraffic | undefined {
    return this.splits.get(model)?.traffic;
  }

  all(): ModelTraffic[] {
    return [...this.splits.values()].map((s) => s.traffic);
  }

  /** Each split's variants with their current weights: plain data a decode worker routes by (restore()). */
  snapshot(): TrafficSnapshot {
    return this.all().map((t) => ({ model: t.model, variants: [...t.list()] }));
  }

  /** A table holding the splits of a snapshot (their shadows aside: only routing needs it). */
  static restore(snapshot: TrafficSnapshot): TrafficTable {
    const table = new TrafficTable();
    for (const { model, variants } of snapshot)
      table.splits.set(model, { declared: '', traffic: new ModelTraffic(model, { variants }) });
    return table;
  }
}

export type TrafficSnapshot = { model: string; variants: TrafficVariant[] }[];
