import type { ExperimentAccounts, ExperimentLedger } from './experiment-ledger.js';
import { experimentReport, type ExperimentReport, type ResultScope, type Task } from './experiment-report.js';
import { local, type FleetTallies } from './fleet-tallies.js';

/** What the results need to know of the registry: each version's task and whether it is ready. */
export interface ModelView {
  taskOf(model: string, version: string): Task | undefined;
  isReady(model: string, version: string): boolean;
}

const NO_REDIS: ResultScope = {
  kind: 'pod',
  why: "REDIS_URL is not set: these are this pod's counts; Prometheus (ml_variant_*) sums the pods",
};

/**
 * The results of every split: this pod's ledger, summed with the other pods' totals when Redis is
 * configured and answers, turned into estimates and tests (experiment-report.ts).
 */
export class ExperimentResults {
  constructor(
    readonly ledger: ExperimentLedger,
    private readonly models: ModelView,
    private readonly fleet?: FleetTallies,
  ) {}

  /** One model's results; undefined when it has no split. */
  async of(model: string): Promise<ExperimentReport | undefined> {
    const experiment = this.ledger.experiment(model);
    return experiment && (await this.report([experiment]))[0];
  }

  async all(): Promise<ExperimentReport[]> {
    return this.report(this.ledger.experiments());
  }

  /** The experiment's task: its control's, or the first variant's whose version is loaded. */
  taskOf(experiment: ExperimentAccounts): Task | undefined {
    for (const { declared } of experiment.variants) {
      const task = this.models.taskOf(experiment.model, declared.version);
      if (task !== undefined) return task;
    }
    return undefined;
  }

  /** Writes this pod's changed totals to Redis (every one when `rewrite`); true without Redis. */
  async flush(rewrite = false): Promise<boolean> {
    return this.fleet ? this.fleet.flush(accountsOf(this.ledger.experiments()), rewrite) : true;
  }

  private async report(experiments: ExperimentAccounts[]): Promise<ExperimentReport[]> {
    const accounts = accountsOf(experiments);
    const { scope, totals } = this.fleet
      ? await this.fleet.read(accounts)
      : { scope: NO_REDIS, totals: local(accounts) };
    return experiments.map((experiment) => {
      const variants = experiment.variants.map(({ declared, account }) => ({
        name: declared.name,
        version: declared.version,
        weight: declared.weight,
        ready: this.models.isReady(experiment.model, declared.version),
        totals: totals.get(account)!,
        latency: account.latency.summary(),
      }));
      return experimentReport(experiment.model, this.taskOf(experiment), variants, scope);
    });
  }
}

function accountsOf(experiments: readonly ExperimentAccounts[]) {
  return experiments.flatMap((e) => e.variants.map((v) => v.account));
}
