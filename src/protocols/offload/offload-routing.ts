import type { TrafficVariant } from '../../core/models/traffic-config.js';
import { CompiledSplits } from '../../core/models/traffic-split.js';
import { routingKeyFrom } from '../routing-key.js';

/**
 * What a decode worker needs to decode a large body for the version it will run on: the traffic
 * split's variants that take requests now, per model, and the X-Routing-Key header. The body's own
 * routing key (`routing_key`, OIP `parameters.routing_key`) is read there, after parsing, so the
 * worker chooses as ModelRouter.route() would: compileSplit(live, { salt: model }), the same
 * function over the same variants, hence the same variant for a key. The main thread then pins
 * that variant (InferTarget.variant), so a keyless request is drawn once, not twice.
 */
export interface OffloadRouting {
  /** The X-Routing-Key header, already checked. */
  header?: string;
  /** Per model with a split (for OIP: the URL's model, when it names no version), ModelRegistry.liveVariants(). */
  splits: Record<string, TrafficVariant[]>;
}

/** On the main thread: the routing of the models given (all with a split, for /predict, whose body names the model). */
export function offloadRouting(
  models: Iterable<string>,
  liveVariants: (model: string) => TrafficVariant[] | undefined,
  header: string | undefined,
): OffloadRouting {
  const splits: Record<string, TrafficVariant[]> = {};
  for (const model of models) {
    const live = liveVariants(model);
    if (live && live.length > 0) splits[model] = live;
  }
  return { ...(header !== undefined ? { header } : {}), splits };
}

/** On a decode worker: the variant for a request, each split compiled once (a split changes rarely). */
export class OffloadChooser {
  private readonly compiled = new CompiledSplits<TrafficVariant>(64);

  /** The variant a request that names no version runs on; undefined for a model without live variants. */
  choose(routing: OffloadRouting | undefined, model: string, named: string | undefined): TrafficVariant | undefined {
    const live = routing?.splits[model];
    if (!live) return undefined;
    return this.compiled
      .get(JSON.stringify([model, live]), () => live, { salt: model })
      .assign(routingKeyFrom(named, routing.header));
  }
}
