import xxhash from 'xxhash-wasm';
import { z } from 'zod';

/**
 * Which variant of a traffic split (canary, A/B) serves a request.
 *
 * With a routing key (a user id), the choice is **weighted rendezvous hashing** (highest random
 * weight): each variant i draws u_i = hash(key, i) in (0,1) and the key goes to the variant with
 * the smallest -ln(u_i) / w_i (the largest -w_i / ln(u_i)). The -ln(u_i) are independent Exp(1)
 * draws, so this is an exponential race, and it gives:
 *  - shares that converge to the weights: P(i wins) = w_i / Σw, exactly;
 *  - stickiness without state: the same key, weights and variant names give the same variant on
 *    every replica, after every restart;
 *  - the least movement a weight change allows. Scores depend only on the key, the variant's name
 *    and its own weight, and scaling every weight changes no choice. So raising one weight (relative
 *    to the rest) moves keys only *to* that variant, exactly as many as its share grew; adding a
 *    variant takes keys only for itself, from the others in proportion; removing one moves only its
 *    own keys, spread over the rest by weight. With two variants every change is of that kind
 *    (90/10 -> 80/20 is 90/10 -> 90/22.5): the keys that move are exactly the |Δshare| minimum.
 *  - When several weights of three or more variants change at once, the fraction that moves is
 *    1 - Σ_i 1 / Σ_j max(x_j/x_i, y_j/y_i) (x, y the old and new weights), at most 2δ/(1+δ) for a
 *    total variation δ. No function of (key, weights) alone can promise δ for every pair of weight
 *    vectors with three or more outcomes, and this coupling (P-MinHash) is Pareto-optimal among those
 *    that try (Moulton and Jiang, 2018). A table of hash buckets reassigned on each change could reach
 *    δ, but the table would then depend on the history of changes, not on the weights: two replicas
 *    (or one restarted) could disagree on a user's variant, which stickiness forbids.
 *  - Rejected: a hash ring with virtual nodes (shares match weights only roughly, and it needs many
 *    nodes per variant to get close), ranges of one hash laid end to end (90/10 -> 80/20 is minimal,
 *    but adding a variant shifts every boundary), jump hash (buckets of equal weight only).
 *
 * The hash is xxHash64 (xxhash-wasm: WebAssembly, no native binary) of the key, seeded per variant by
 * the hash of the split's salt and the variant's name. The name, not the position: reordering
 * variants moves no key. The salt (the public model name) keeps two experiments over the same variant
 * names independent, so the same users are not the canary of every model.
 *
 * Without a key (or with an empty one), the choice is weighted random.
 */

/**
 * One variant of a split. What a variant serves (a model version) is the caller's: extra fields
 * come back unchanged.
 */
export const splitVariantSchema = z.object({
  name: z.string().min(1),
  weight: z.number().finite().nonnegative(),
});

export type SplitVariant = z.infer<typeof splitVariantSchema>;

/** A list of variants of the given shape that makes a split: one or more, unique names, some weight. */
export const splitVariantsOf = <T extends z.ZodType<SplitVariant, unknown>>(variant: T) =>
  z
    .array(variant)
    .min(1, 'a split needs at least one variant')
    .refine((vs) => new Set(vs.map((v) => v.name)).size === vs.length, { message: 'variant names must be unique' })
    .refine((vs) => vs.some((v) => v.weight > 0), { message: 'at least one variant needs a weight above 0' });

export const splitVariantsSchema = splitVariantsOf(splitVariantSchema);

/** A split refused at compile time; `details` says which field and why, as the error table's details do. */
export class InvalidSplitError extends Error {
  constructor(readonly details: { path: string; message: string }[]) {
    super(`invalid traffic split: ${details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ')}`);
    this.name = 'InvalidSplitError';
  }
}

export interface SplitOptions {
  /** Mixed into every variant's seed: the public model (or experiment) name. */
  salt?: string;
  /** A uniform draw in [0, 1) for requests without a key; Math.random unless a test injects one. */
  random?: () => number;
}

export interface TrafficSplit<V extends SplitVariant> {
  /** The variants as given, zero weights included. */
  readonly variants: readonly V[];
  /** The variant for a request: sticky for a non-empty key, weighted random without one. */
  assign(key?: string): V;
}

// One WebAssembly instance for the process: instantiating costs far more than a hash.
// eslint-disable-next-line @typescript-eslint/unbound-method -- typed as methods, but closures over the instance
const { h64 } = await xxhash();

const TWO_POW_53 = 2 ** 53;

/**
 * Validates the variants and precomputes what a request needs: the live variants, their seeds, 1/w,
 * cumulative weights.
 */
export function compileSplit<V extends SplitVariant>(
  variants: readonly V[],
  options: SplitOptions = {},
): TrafficSplit<V> {
  const parsed = splitVariantsSchema.safeParse(variants);
  if (!parsed.success) {
    throw new InvalidSplitError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  }
  const random = options.random ?? Math.random;
  const salt = options.salt ?? '';
  // A zero weight never wins (its score would be +∞), so it is left out of the loop.
  const live = variants.filter((v) => v.weight > 0);
  const seeds = live.map((v) => h64(`${salt}\u0000${v.name}`));
  // Weights are relative: taken over the largest, so their sum stays finite (1e308 + 1e308) and so
  // does the inverse of the smallest one that matters (1 / 5e-324 is Infinity, 5e-324 / 5e-324 is 1).
  const largest = Math.max(...live.map((v) => v.weight));
  const inverseWeights = live.map((v) => largest / v.weight);
  const cumulative: number[] = [];
  let total = 0;
  for (const v of live) cumulative.push((total += v.weight / largest));

  const byKey = (key: string): V => {
    let best = 0;
    let bestScore = Infinity;
    for (let i = 0; i < live.length; i++) {
      // The top 53 bits, centred in their interval: u is in (0, 1), so ln(u) is finite and negative.
      const u = (Number(h64(key, seeds[i]) >> 11n) + 0.5) / TWO_POW_53;
      const score = -Math.log(u) * inverseWeights[i]!;
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return live[best]!;
  };

  const byRandom = (): V => {
    const r = random() * total;
    for (let i = 0; i < live.length - 1; i++) if (r < cumulative[i]!) return live[i]!;
    return live[live.length - 1]!;
  };

  if (live.length === 1) {
    const only = live[0]!;
    return { variants, assign: () => only };
  }
  return { variants, assign: (key) => (key ? byKey(key) : byRandom()) };
}

/**
 * Compiled splits by an id of their variants (and weights): compiling costs a hash per variant and
 * splits change rarely, so a request only looks one up. Emptied past `limit` ids, which only
 * a stream of weight changes reaches.
 */
export class CompiledSplits<V extends SplitVariant> {
  private readonly splits = new Map<string, TrafficSplit<V>>();

  constructor(private readonly limit: number) {}

  get(id: string, variants: () => readonly V[], options: SplitOptions): TrafficSplit<V> {
    let split = this.splits.get(id);
    if (!split) {
      split = compileSplit(variants(), options);
      if (this.splits.size >= this.limit) this.splits.clear();
      this.splits.set(id, split);
    }
    return split;
  }

  clear(): void {
    this.splits.clear();
  }
}
