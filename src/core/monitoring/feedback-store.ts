import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { predictionIdTime } from '../serving/prediction-id.js';

/** What a prediction said, kept until ground truth arrives: per row, the label or the values. */
const recordSchema = z.object({
  model: z.string(),
  version: z.string(),
  /** The traffic split's variant that answered, so feedback counts toward its experiment. */
  variant: z.string().optional(),
  task: z.enum(['classification', 'regression', 'raw']),
  rows: z.array(z.union([z.string(), z.array(z.number())])),
});
export type PredictionRecord = z.infer<typeof recordSchema>;

/** Redis, when configured, so feedback may reach any replica. Never throws; undefined means "could not ask". */
export interface SharedKeyValue {
  get(key: string): Promise<string | null | undefined>;
  set(key: string, value: string, ttlSeconds: number): void;
  /** SET NX: true if this call took the key, false if it existed. */
  claim(key: string, ttlSeconds: number): Promise<boolean | undefined>;
}

export type Unmatched = 'unknown' | 'expired' | 'duplicate';

export interface FeedbackOptions {
  maxEntries: number;
  ttlSeconds: number;
  now?: () => number;
}

/** Predictions joined to their ground truth by id, never by time. Bounded by entries and TTL. */
export class FeedbackStore {
  private readonly local: LRUCache<string, { record: PredictionRecord; labelled: Set<number> }>;
  private readonly now: () => number;

  constructor(
    private readonly options: FeedbackOptions,
    private readonly shared?: SharedKeyValue,
  ) {
    this.now = options.now ?? Date.now;
    this.local = new LRUCache({
      max: options.maxEntries,
      ttl: options.ttlSeconds * 1000,
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    });
  }

  remember(id: string, record: PredictionRecord): void {
    this.local.set(id, { record, labelled: new Set() });
    this.shared?.set(`feedback:${id}`, JSON.stringify(record), this.options.ttlSeconds);
  }

  /** The prediction behind an id, or why there is none. */
  async recall(id: string): Promise<PredictionRecord | Unmatched> {
    const local = this.local.get(id)?.record;
    if (local) return local;
    const text = await this.shared?.get(`feedback:${id}`);
    if (text) {
      const parsed = recordSchema.safeParse(safeJson(text));
      if (parsed.success) return parsed.data;
    }
    const made = predictionIdTime(id);
    return made !== undefined && this.now() - made > this.options.ttlSeconds * 1000 ? 'expired' : 'unknown';
  }

  /** Takes the right to label one row; false when it was labelled before (here or on another replica). */
  async claim(id: string, row: number): Promise<boolean> {
    const local = this.local.get(id);
    if (local?.labelled.has(row)) return false;
    local?.labelled.add(row);
    const shared = await this.shared?.claim(`feedback:${id}:${row}`, this.options.ttlSeconds);
    return shared !== false;
  }
}

/** JSON.parse, or undefined for text that is not JSON (a value read back from Redis is not trusted). */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
