import type { PredictionRecord } from '../monitoring/prediction-record.js';
import type { PredictionEvent, PredictionObserver } from '../serving/telemetry.js';
import type { TrafficVariant } from '../models/traffic-config.js';
import { VariantAccount, type VariantLabels } from './variant-account.js';

/** Where the splits are read from: the registry's TrafficTable. */
export interface TrafficSource {
  get(model: string): { list(): readonly TrafficVariant[] } | undefined;
  all(): { readonly model: string; list(): readonly TrafficVariant[] }[];
}

/** What the metrics adapter is told beside the counts it reads at scrape time. */
export interface VariantObserver {
  /** A successful request's latency (a histogram cannot be read back from the ledger). */
  variantLatency(labels: VariantLabels, seconds: number): void;
  /** A regressor's labelled row: its absolute error. */
  variantAbsoluteError(labels: VariantLabels, error: number): void;
  /** The account is gone (its variant left the split or serves another version): drop its series. */
  variantForgotten(labels: VariantLabels): void;
}

/** One model's split as the ledger counts it: each declared variant, in order (the control first), with its account. */
export interface ExperimentAccounts {
  readonly model: string;
  readonly variants: readonly { readonly declared: TrafficVariant; readonly account: VariantAccount }[];
}

export interface LedgerOptions {
  /** Successful requests per variant the latency percentiles are over. */
  latencyWindow: number;
  /** This process's id in the fleet; accounts are `<pod>.<serial>`. */
  pod: string;
}

/**
 * Per (model, variant) accounting of the splits this pod serves, fed by the data plane's
 * prediction events and by scored feedback. Only declared variants are counted, so labels stay
 * bounded; a variant with no traffic yet has an account of zeros. A request costs two map
 * lookups, a string comparison and a few additions; the split is read again only when an event
 * names a variant or version the ledger does not hold (a new or changed split, or a straggler
 * from the split before, which is then not counted).
 */
export class ExperimentLedger {
  private readonly models = new Map<string, Map<string, VariantAccount>>();
  private serial = 0;

  constructor(
    private readonly source: () => TrafficSource,
    private readonly options: LedgerOptions,
    private readonly observer?: VariantObserver,
  ) {}

  /** The data plane's observer, with every prediction a variant served counted here as well. */
  observing(inner: PredictionObserver): PredictionObserver {
    return {
      prediction: (event) => {
        inner.prediction(event);
        this.prediction(event);
      },
      inferenceCost: (model, version, cpuSeconds) => inner.inferenceCost(model, version, cpuSeconds),
    };
  }

  prediction(event: PredictionEvent): void {
    if (event.variant === undefined) return;
    const account = this.account(event.model, event.variant, event.version);
    if (account === undefined) return;
    account.requests[event.status]++;
    if (event.status === 'success') {
      account.latency.add(event.seconds);
      this.observer?.variantLatency(account.labels, event.seconds);
    }
  }

  /** A labelled row, scored by ModelMonitoring: 1/0 for a classifier's right/wrong label, |error| for a regressor. */
  scored(record: PredictionRecord, score: number): void {
    if (record.variant === undefined) return;
    const account = this.account(record.model, record.variant, record.version);
    if (account === undefined) return;
    if (record.task === 'classification') account.accuracy.add(score === 1);
    else if (record.task === 'regression') {
      account.errors.add(score);
      this.observer?.variantAbsoluteError(account.labels, score);
    }
  }

  /** One model's declared variants and their accounts; undefined when the model has no split. */
  experiment(model: string): ExperimentAccounts | undefined {
    const declared = this.source().get(model)?.list();
    const accounts = this.sync(model, declared);
    return (
      declared &&
      accounts && { model, variants: declared.map((d) => ({ declared: d, account: accounts.get(d.name)! })) }
    );
  }

  /** Every model with a split, in the registry's order. */
  experiments(): ExperimentAccounts[] {
    const splits = this.source().all();
    const names = new Set(splits.map((s) => s.model));
    for (const model of [...this.models.keys()]) if (!names.has(model)) this.sync(model, undefined);
    return splits.flatMap((s) => this.experiment(s.model) ?? []);
  }

  private account(model: string, variant: string, version: string): VariantAccount | undefined {
    const account = this.models.get(model)?.get(variant);
    if (account !== undefined && account.version === version) return account;
    const synced = this.sync(model, this.source().get(model)?.list())?.get(variant);
    return synced?.version === version ? synced : undefined;
  }

  /**
   * The accounts of the declared variants: kept where name and version are unchanged, new ones for
   * the rest, the others dropped.
   */
  private sync(
    model: string,
    declared: readonly TrafficVariant[] | undefined,
  ): Map<string, VariantAccount> | undefined {
    const current = this.models.get(model);
    if (
      current &&
      declared &&
      current.size === declared.length &&
      declared.every((d) => current.get(d.name)?.version === d.version)
    )
      return current;
    const next = new Map<string, VariantAccount>();
    for (const d of declared ?? []) {
      const kept = current?.get(d.name);
      next.set(
        d.name,
        kept?.version === d.version
          ? kept
          : new VariantAccount(
              model,
              d.name,
              d.version,
              `${this.options.pod}.${++this.serial}`,
              this.options.latencyWindow,
            ),
      );
    }
    for (const old of current?.values() ?? [])
      if (next.get(old.variant) !== old) this.observer?.variantForgotten(old.labels);
    if (declared === undefined) this.models.delete(model);
    else this.models.set(model, next);
    return declared && next;
  }
}
