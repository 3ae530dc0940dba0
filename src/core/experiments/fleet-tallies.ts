import { z } from 'zod';
import type { ValueSigner } from '../cache/value-signer.js';
import type { ResultScope } from './experiment-report.js';
import { isEmpty, sumTotals, type VariantAccount, type VariantTotals } from './variant-account.js';

/** Redis hashes, when configured (the RedisCache adapter). Never throws. */
export interface SharedHashes {
  /**
   * HSET key field value and EXPIRE key, for each entry, in one round trip; false when Redis could
   * not be asked or refused.
   */
  writeFields(entries: readonly { key: string; field: string; value: string }[], ttlSeconds: number): Promise<boolean>;
  /** HGETALL of each key, in one round trip; undefined when Redis could not be asked. */
  readHashes(keys: readonly string[]): Promise<Record<string, string>[] | undefined>;
}

export interface FleetOptions {
  /** How long a variant's totals outlive the last pod that wrote them. */
  ttlSeconds: number;
}

const count = z.number().int().min(0);
const sum = z.number().finite().min(0);
/** Signed since version 2: a field of version 1 (the release before) is left out until its pod writes it again. */
const STORED_VERSION = 2;
const storedSchema = z.object({
  requests: z.object({ success: count, invalid_input: count, error: count }),
  accuracy: z.object({ n: count, correct: count }).refine((a) => a.correct <= a.n),
  errors: z.object({ n: count, sum, sumSquares: sum }),
});

/** The totals of every pod, per account of this pod, or why they could not be read. */
export type FleetResult = { scope: ResultScope; totals: Map<VariantAccount, VariantTotals> };

/**
 * The fleet-wide view of the experiments. Each account writes its totals, absolute, into a
 * Redis hash per (model, variant, version), under its own field (`<pod>.<serial>`); a reader sums
 * the fields. Writing absolute totals rather than HINCRBY deltas makes every write idempotent: a
 * write that timed out after Redis applied it, or one repeated after an outage, is never counted
 * twice, and nothing is lost while Redis is away (the next write carries everything). A pod that
 * is gone leaves its last totals, which are real counts. What a pod counted since its last write
 * (at most a flush interval) is lost if it dies.
 */
export class FleetTallies {
  /** What each account last wrote, so an unchanged one is not written again. */
  private written = new WeakMap<VariantAccount, string>();

  constructor(
    private readonly shared: SharedHashes,
    /** Each pod's field is signed: a planted one is left out, as it could sway a rollout's decision. */
    private readonly signer: ValueSigner,
    private readonly options: FleetOptions,
  ) {}

  /**
   * Writes the accounts whose totals changed since they last wrote (every non-empty one when
   * `rewrite`: refreshes the TTL, refills a Redis that lost its data); false when the write failed.
   */
  async flush(accounts: readonly VariantAccount[], rewrite = false): Promise<boolean> {
    if (rewrite) this.written = new WeakMap();
    const pending = accounts.flatMap((account) => {
      const totals = account.totals();
      if (isEmpty(totals)) return [];
      const value = this.signer.sign(signedName(keyOf(account), account.id), STORED_VERSION, totals);
      return this.written.get(account) === value ? [] : [{ account, value }];
    });
    if (pending.length === 0) return true;
    const ok = await this.shared.writeFields(
      pending.map(({ account, value }) => ({ key: keyOf(account), field: account.id, value })),
      this.options.ttlSeconds,
    );
    if (ok) for (const { account, value } of pending) this.written.set(account, value);
    return ok;
  }

  /**
   * Every pod's totals for these accounts (this pod's own taken from memory, as of now), or this
   * pod's alone when Redis does not answer.
   */
  async read(accounts: readonly VariantAccount[]): Promise<FleetResult> {
    await this.flush(accounts);
    const hashes = await this.shared.readHashes(accounts.map(keyOf));
    if (hashes === undefined)
      return {
        scope: { kind: 'pod', why: "Redis did not answer: these are this pod's counts" },
        totals: local(accounts),
      };
    const pods = new Set(accounts.map((a) => podOf(a.id)));
    const totals = new Map<VariantAccount, VariantTotals>();
    accounts.forEach((account, i) => {
      const parts = [account.totals()];
      // Its own field gone (a Redis that restarted without its data): written again at the next flush.
      if (hashes[i]![account.id] === undefined) this.written.delete(account);
      for (const [field, text] of Object.entries(hashes[i]!)) {
        if (field === account.id) continue;
        const verified = this.signer.verify(signedName(keyOf(account), field), STORED_VERSION, text);
        const parsed = storedSchema.safeParse('fields' in verified ? verified.fields : undefined);
        if (!parsed.success) continue; // not signed by this deployment, or not totals: left out
        parts.push(parsed.data);
        pods.add(podOf(field));
      }
      totals.set(account, sumTotals(parts));
    });
    return { scope: { kind: 'fleet', pods: pods.size }, totals };
  }
}

export function local(accounts: readonly VariantAccount[]): Map<VariantAccount, VariantTotals> {
  return new Map(accounts.map((a) => [a, a.totals()]));
}

/** Model names, variant names and versions are letters, digits, `_ . -`: a colon cannot occur in them. */
function keyOf(account: VariantAccount): string {
  return `experiment:${account.model}:${account.variant}:${account.version}`;
}

/** What a field's value is signed under: its hash and its field, so it cannot be moved to another. */
function signedName(key: string, field: string): string {
  return `${key}#${field}`;
}

function podOf(field: string): string {
  return field.slice(0, field.lastIndexOf('.'));
}
