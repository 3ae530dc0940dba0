import { describe, expect, it } from 'vitest';
import {
  ExperimentLedger,
  type TrafficSource,
  type VariantObserver,
} from '../../../src/core/experiments/experiment-ledger.js';
import { LatencyWindow } from '../../../src/core/experiments/latency-window.js';
import { trafficConfigSchema } from '../../../src/core/models/traffic-config.js';
import { ModelTraffic } from '../../../src/core/models/traffic-router.js';
import type { VariantLabels } from '../../../src/core/experiments/variant-account.js';
import type { PredictionRecord } from '../../../src/core/monitoring/prediction-record.js';
import type { PredictionEvent, PredictionObserver } from '../../../src/core/serving/telemetry.js';

/**
 * The registry's splits, as model.json declares them: real ModelTraffic objects, replaced as a
 * changed declaration replaces them.
 */
class Splits implements TrafficSource {
  readonly byModel = new Map<string, ModelTraffic>();
  declare(model: string, variants: { name: string; version: number; weight: number }[]): ModelTraffic {
    const traffic = new ModelTraffic(model, trafficConfigSchema.parse({ variants }));
    this.byModel.set(model, traffic);
    return traffic;
  }
  get(model: string) {
    return this.byModel.get(model);
  }
  all() {
    return [...this.byModel.values()];
  }
}

/** What the metrics adapter would be told, in order. */
class Told implements VariantObserver {
  readonly calls: string[] = [];
  variantLatency(l: VariantLabels, seconds: number) {
    this.calls.push(`latency ${l.model}/${l.variant} ${seconds}`);
  }
  variantAbsoluteError(l: VariantLabels, error: number) {
    this.calls.push(`error ${l.model}/${l.variant} ${error}`);
  }
  variantForgotten(l: VariantLabels) {
    this.calls.push(`forget ${l.model}/${l.variant}`);
  }
}

const event = (
  variant: string | undefined,
  version: string,
  status: PredictionEvent['status'] = 'success',
  seconds = 0.001,
  model = 'fraud',
): PredictionEvent => ({ model, version, variant, status, seconds, rows: 1 });
const record = (
  variant: string | undefined,
  version: string,
  task: PredictionRecord['task'],
  model = 'fraud',
): PredictionRecord => ({ model, version, ...(variant ? { variant } : {}), task, rows: ['a'] });

function setUp() {
  const splits = new Splits();
  splits.declare('fraud', [
    { name: 'stable', version: 1, weight: 90 },
    { name: 'canary', version: 2, weight: 10 },
    { name: 'next', version: 3, weight: 0 },
  ]);
  const told = new Told();
  const ledger = new ExperimentLedger(() => splits, { latencyWindow: 8, pod: 'pod-a' }, told);
  const counts = () =>
    Object.fromEntries(
      ledger.experiment('fraud')!.variants.map(({ declared, account }) => [declared.name, { ...account.requests }]),
    );
  return { splits, told, ledger, counts };
}

describe('ExperimentLedger: per (model, variant) accounting of the splits', () => {
  it('counts requests by status and the latency of successes, for declared variants only', () => {
    const { ledger, told, counts } = setUp();
    ledger.prediction(event('stable', '1', 'success', 0.002));
    ledger.prediction(event('stable', '1', 'invalid_input', 0.0001));
    ledger.prediction(event('canary', '2', 'error', 0.5));
    ledger.prediction(event('canary', '2', 'success', 0.003));
    // none of these is a declared variant of a split: no account, no series
    ledger.prediction(event(undefined, '1'));
    ledger.prediction(event('ghost', '1'));
    ledger.prediction(event('stable', '1', 'success', 0.001, 'iris'));
    expect(counts()).toEqual({
      stable: { success: 1, invalid_input: 1, error: 0 },
      canary: { success: 1, invalid_input: 0, error: 1 },
      next: { success: 0, invalid_input: 0, error: 0 }, // no traffic yet, still there
    });
    expect(told.calls).toEqual(['latency fraud/stable 0.002', 'latency fraud/canary 0.003']);
    expect(ledger.experiment('iris')).toBeUndefined();
  });

  it('lists the variants in declared order, the control first, with their current weights', () => {
    const { ledger, splits } = setUp();
    splits.get('fraud')!.setWeights({ stable: 50, canary: 50 });
    const variants = ledger
      .experiment('fraud')!
      .variants.map(({ declared, account }) => [declared.name, declared.weight, account.version, account.id]);
    expect(variants).toEqual([
      ['stable', 50, '1', 'pod-a.1'],
      ['canary', 50, '2', 'pod-a.2'],
      ['next', 0, '3', 'pod-a.3'],
    ]);
    expect(ledger.experiments().map((e) => e.model)).toEqual(['fraud']);
  });

  it("starts a variant pointed at another version from zero, forgets its series, and ignores the old version's stragglers", () => {
    const { ledger, splits, told, counts } = setUp();
    ledger.prediction(event('stable', '1'));
    ledger.prediction(event('canary', '2'));
    const canaryBefore = ledger.experiment('fraud')!.variants[1]!.account;
    splits.declare('fraud', [
      { name: 'stable', version: 1, weight: 80 },
      { name: 'canary', version: 4, weight: 20 },
    ]);
    ledger.prediction(event('canary', '4'));
    ledger.prediction(event('canary', '2')); // in flight when the split changed: counted nowhere
    ledger.prediction(event('next', '3')); // no longer declared
    expect(counts()).toEqual({
      stable: { success: 1, invalid_input: 0, error: 0 },
      canary: { success: 1, invalid_input: 0, error: 0 },
    });
    expect(ledger.experiment('fraud')!.variants[1]!.account).not.toBe(canaryBefore);
    expect(told.calls.filter((c) => c.startsWith('forget'))).toEqual(['forget fraud/canary', 'forget fraud/next']);
    // the split removed: every account goes, and its series with it
    splits.byModel.delete('fraud');
    expect(ledger.experiments()).toEqual([]);
    expect(told.calls.filter((c) => c.startsWith('forget'))).toEqual([
      'forget fraud/canary',
      'forget fraud/next',
      'forget fraud/stable',
      'forget fraud/canary',
    ]);
  });

  it('counts scored feedback toward the variant that answered: right/wrong for classifiers, |error| for regressors', () => {
    const { ledger, told } = setUp();
    ledger.scored(record('stable', '1', 'classification'), 1);
    ledger.scored(record('stable', '1', 'classification'), 0);
    ledger.scored(record('canary', '2', 'regression'), 2.5);
    ledger.scored(record('canary', '2', 'regression'), 0.5);
    ledger.scored(record(undefined, '1', 'classification'), 1); // a version named by the request: no variant
    ledger.scored(record('canary', '3', 'regression'), 1); // a version the variant does not serve
    const [stable, canary] = ledger.experiment('fraud')!.variants.map((v) => v.account);
    expect(stable!.totals().accuracy).toEqual({ n: 2, correct: 1 });
    expect(canary!.totals().errors).toEqual({ n: 2, sum: 3, sumSquares: 6.5 });
    expect(told.calls).toEqual(['error fraud/canary 2.5', 'error fraud/canary 0.5']);
  });

  it("observing() passes every event on to the data plane's observer and counts the variants' ones", () => {
    const { ledger, counts } = setUp();
    const seen: string[] = [];
    const inner: PredictionObserver = {
      prediction: (e) => seen.push(`${e.model}@${e.version}:${e.variant}`),
      inferenceCost: (m, v, s) => seen.push(`cost ${m}@${v} ${s}`),
    };
    const observer = ledger.observing(inner);
    observer.prediction(event('canary', '2'));
    observer.prediction(event(undefined, '1'));
    observer.inferenceCost('fraud', '2', 0.25);
    expect(seen).toEqual(['fraud@2:canary', 'fraud@1:undefined', 'cost fraud@2 0.25']);
    expect(counts().canary).toEqual({ success: 1, invalid_input: 0, error: 0 });
  });
});

describe('LatencyWindow', () => {
  it('gives nearest-rank percentiles of the values it holds, NaN when empty', () => {
    const window = new LatencyWindow(100);
    expect(window.summary()).toEqual({ p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, samples: 0 });
    for (const v of [...Array(100).keys()].reverse()) window.add((v + 1) / 1000); // 0.1 .. 0.001, out of order
    expect(window.summary()).toEqual({ p50: 0.05, p95: 0.095, p99: 0.099, samples: 100 });
    const one = new LatencyWindow(4);
    one.add(0.2);
    expect(one.summary()).toEqual({ p50: 0.2, p95: 0.2, p99: 0.2, samples: 1 });
  });

  it('holds only the last `capacity` values', () => {
    const window = new LatencyWindow(10);
    for (let i = 1; i <= 25; i++) window.add(i);
    expect(window.summary()).toEqual({ p50: 20, p95: 25, p99: 25, samples: 10 }); // 16..25
  });
});
