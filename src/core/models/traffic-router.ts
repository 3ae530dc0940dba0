import { CompiledSplits, compileSplit } from './traffic-split.js';
import type { TrafficConfig, TrafficShadow, TrafficVariant } from './traffic-config.js';

/** What the split chose for a request: the variant's name and the version that serves it. */
export interface RoutedVariant {
  name: string;
  version: string;
}

/**
 * One model's traffic split, as model.json declares it (or the control API last set it). A
 * variant whose version is not ready (still loading, failed, unloaded) takes no traffic: the
 * split is recompiled over the ready variants, so its keys go to the others by weight, and come
 * back when it is ready (rendezvous hashing moves only those keys). When no variant is ready the
 * caller falls back to the model's default version.
 */
export class ModelTraffic {
  private variants: TrafficVariant[];
  /** The versions a sample of the split's requests is mirrored to (shadow-traffic.ts). */
  readonly shadows: readonly TrafficShadow[];
  /** Compiled splits by the set of ready variant names: the set changes rarely, a request only looks it up. */
  private readonly compiled = new CompiledSplits<TrafficVariant>(16);

  constructor(
    readonly model: string,
    config: TrafficConfig,
    private readonly random?: () => number,
  ) {
    this.variants = config.variants;
    this.shadows = config.shadows ?? [];
    compileSplit(this.variants, { salt: model }); // refuses an invalid split now, not on the first request
  }

  /** The variants with their current weights. */
  list(): readonly TrafficVariant[] {
    return this.variants;
  }

  /**
   * New weights by variant name (the others keep theirs); throws InvalidSplitError and changes
   * nothing when the result is not a valid split.
   */
  setWeights(weights: Record<string, number>): void {
    const next = this.variants.map((v) => (weights[v.name] === undefined ? v : { ...v, weight: weights[v.name]! }));
    compileSplit(next, { salt: this.model });
    this.variants = next;
    this.compiled.clear();
  }

  /** The named variant, if the split has it with a weight and its version is ready. */
  variant(name: string | undefined, ready: (version: string) => boolean): RoutedVariant | undefined {
    if (name === undefined) return undefined;
    const variant = this.variants.find((v) => v.name === name);
    return variant && variant.weight > 0 && ready(variant.version) ? variant : undefined;
  }

  /** The variants that take traffic now: a weight above 0 and a ready version. */
  live(ready: (version: string) => boolean): TrafficVariant[] {
    return this.variants.filter((v) => v.weight > 0 && ready(v.version));
  }

  /**
   * The variant for a request, among those whose version is ready; undefined when none is. The
   * choice is compileSplit(live, { salt: model }): a decode worker given live() chooses the same.
   */
  choose(key: string | undefined, ready: (version: string) => boolean): RoutedVariant | undefined {
    let names = '';
    for (const v of this.variants) if (v.weight > 0 && ready(v.version)) names += `${v.name}\u0000`;
    if (names === '') return undefined;
    return this.compiled
      .get(names, () => this.live(ready), { salt: this.model, ...(this.random ? { random: this.random } : {}) })
      .assign(key);
  }
}
