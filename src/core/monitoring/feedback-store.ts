import { LRUCache } from 'lru-cache';
import type { ValueSigner } from '../cache/value-signer.js';
import type { ModelSpec } from '../models/model-spec.js';
import { predictionIdTime } from './prediction-id.js';
import { recordMisfit, recordSchema, type PredictionRecord } from './prediction-record.js';

/** Redis, when configured, so feedback may reach any replica. Never throws; undefined means "could not ask". */
export interface SharedKeyValue {
  get(key: string): Promise<string | null | undefined>;
  set(key: string, value: string, ttlSeconds: number): void;
  /** SET NX: true if this call took the key, false if it existed. */
  claim(key: string, ttlSeconds: number): Promise<boolean | undefined>;
}

/** Redis and what a record read back from it is checked with: its signature, then the models loaded here. */
export interface SharedRecords {
  store: SharedKeyValue;
  signer: ValueSigner;
  specOf(model: string, version: string): ModelSpec | undefined;
  /** A record read back was not used (it reads as an id never seen), and why. */
  refused(why: string): void;
}

export type Unmatched = 'unknown' | 'expired' | 'duplicate';

export interface FeedbackOptions {
  maxEntries: number;
  ttlSeconds: number;
  /** Rows one prediction may have (MAX_REQUEST_ROWS): a record read back with more is refused. */
  maxRows: number;
  now?: () => number;
}

/** Signed since version 2 (version 1 was the bare record); a record of another version reads as unknown. */
const RECORD_VERSION = 2;

/** Predictions joined to their ground truth by id, never by time. Bounded by entries and TTL. */
export class FeedbackStore {
  /** Each prediction, and the rows labelled so far (no set until the first: most predictions get no feedback). */
  private readonly local: LRUCache<string, { record: PredictionRecord; labelled?: Set<number> }>;
  private readonly now: () => number;

  constructor(
    private readonly options: FeedbackOptions,
    private readonly shared?: SharedRecords,
  ) {
    this.now = options.now ?? Date.now;
    this.local = new LRUCache({
      max: options.maxEntries,
      ttl: options.ttlSeconds * 1000,
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    });
  }

  remember(id: string, record: PredictionRecord): void {
    this.local.set(id, { record });
    if (!this.shared) return;
    const key = `feedback:${id}`;
    this.shared.store.set(key, this.shared.signer.sign(key, RECORD_VERSION, record), this.options.ttlSeconds);
  }

  /**
   * The prediction behind an id, or why there is none. A record from Redis is used only when signed
   * and fitting a model loaded here.
   */
  async recall(id: string): Promise<PredictionRecord | Unmatched> {
    const local = this.local.get(id)?.record;
    if (local) return local;
    const key = `feedback:${id}`;
    const text = await this.shared?.store.get(key);
    const record = text ? this.verified(key, text) : undefined;
    if (record) return record;
    const made = predictionIdTime(id);
    return made !== undefined && this.now() - made > this.options.ttlSeconds * 1000 ? 'expired' : 'unknown';
  }

  /** Takes the right to label one row; false when it was labelled before (here or on another replica). */
  async claim(id: string, row: number): Promise<boolean> {
    const local = this.local.get(id);
    if (local?.labelled?.has(row)) return false;
    if (local) (local.labelled ??= new Set()).add(row);
    const shared = await this.shared?.store.claim(`feedback:${id}:${row}`, this.options.ttlSeconds);
    return shared !== false;
  }

  private verified(key: string, text: string): PredictionRecord | undefined {
    const shared = this.shared!;
    const verified = shared.signer.verify(key, RECORD_VERSION, text);
    if ('unsigned' in verified) {
      if (verified.unsigned !== 'version')
        shared.refused(verified.unsigned === 'signature' ? 'signature does not match' : 'not a prediction record');
      return undefined;
    }
    const parsed = recordSchema.safeParse(verified.fields);
    const why = parsed.success
      ? recordMisfit(parsed.data, shared.specOf(parsed.data.model, parsed.data.version), this.options.maxRows)
      : 'not a prediction record';
    if (why) shared.refused(why);
    return why ? undefined : parsed.data;
  }
}
