import { ServiceError } from '../../errors.js';
import { AccuracyWindow } from './accuracy-window.js';
import { DriftMonitor, type DriftOptions } from './drift-monitor.js';
import type { FeedbackStore, Unmatched } from './feedback-store.js';
import type { PredictionRecord } from './prediction-record.js';
import type { ModelSpec } from '../models/model-spec.js';
import type { RowPrediction } from '../codec/output-codec.js';
import type { Tensor } from '../tensors/tensor.js';

export interface MonitoringObserver {
  rowPredicted(model: string, version: string, label: string | undefined, confidence: number | undefined): void;
  feedback(model: string, version: string, result: 'correct' | 'incorrect'): void;
  unmatchedFeedback(reason: Unmatched): void;
}

/**
 * Told of each labelled row once scored (1/0 for right/wrong, or |error|): the experiments count it
 * toward the variant that answered.
 */
export interface ScoredFeedbackObserver {
  scored(record: PredictionRecord, score: number): void;
}

export interface FeedbackRequest {
  id: string;
  row?: number;
  label?: string;
  value?: number;
}

export interface FeedbackResult {
  id: string;
  row: number;
  model: string;
  version: string;
  correct?: boolean;
  error?: number;
}

const UNMATCHED = {
  unknown: ['UNKNOWN_PREDICTION', 'no prediction with this id (never made, or evicted from the bounded store)'],
  expired: ['PREDICTION_EXPIRED', 'the prediction is older than FEEDBACK_TTL_SECONDS'],
  duplicate: ['DUPLICATE_FEEDBACK', 'this prediction row already has feedback'],
} as const satisfies Record<Unmatched, readonly [string, string]>;

/**
 * Model-level monitoring in fixed memory: drift per model version against its reference
 * statistics, the confidence and class of every prediction, and accuracy (or mean absolute
 * error) over the last N labelled predictions, joined to ground truth by prediction id.
 */
export class ModelMonitoring {
  private readonly drift = new Map<string, { spec: ModelSpec; monitor: DriftMonitor }>();
  private readonly accuracy = new Map<
    string,
    { model: string; version: string; task: PredictionRecord['task']; window: AccuracyWindow }
  >();

  constructor(
    private readonly options: { drift: DriftOptions; accuracyWindow: number },
    private readonly store: FeedbackStore,
    private readonly observer: MonitoringObserver,
    /** The registry's view, to check a feedback label against the model's labels. */
    private readonly specOf: (model: string, version: string) => ModelSpec | undefined,
    private readonly experiments?: ScoredFeedbackObserver,
  ) {}

  /** Feature drift sees every row of the feature input the model receives, as it receives it (after clamping). */
  observeInput(spec: ModelSpec, features: Tensor, rows: number): void {
    this.driftOf(spec)?.observeRows(features, rows);
  }

  /**
   * The record feedback will be joined to, kept before the answer is sent: a client may send the
   * ground truth the moment it has the answer, and under load a record kept a turn of the event
   * loop later was not there yet for it (404 UNKNOWN_PREDICTION).
   */
  rememberPrediction(
    spec: ModelSpec,
    id: string,
    predictions: RowPrediction[] | undefined,
    rows: number,
    variant?: string,
  ): void {
    const record: PredictionRecord = {
      model: spec.name,
      version: spec.version,
      ...(variant !== undefined ? { variant } : {}),
      task: spec.task,
      rows: predictions
        ? predictions.map((p) => ('label' in p ? p.label : 'values' in p ? p.values : []))
        : Array.from({ length: rows }, () => []),
    };
    this.store.remember(id, record);
  }

  /** After an answer: class mix and confidence. */
  observePredictions(spec: ModelSpec, rowPredictions: RowPrediction[] | undefined, rows: number): void {
    const predictions = rowPredictions ?? Array.from({ length: rows }, (): RowPrediction => ({ outputs: {} }));
    const labels = predictions.flatMap((p) => ('label' in p ? [p.label] : []));
    this.driftOf(spec)?.observeLabels(labels);
    for (const p of predictions)
      this.observer.rowPredicted(
        spec.name,
        spec.version,
        'label' in p ? p.label : undefined,
        'confidence' in p ? p.confidence : undefined,
      );
  }

  async feedback(request: FeedbackRequest): Promise<FeedbackResult> {
    const row = request.row ?? 0;
    const record = await this.store.recall(request.id);
    if (typeof record === 'string') throw this.unmatched(record);
    const predicted = record.rows[row];
    if (predicted === undefined) throw invalid('row', `the prediction has ${record.rows.length} row(s)`);
    if (record.task === 'raw') throw invalid('id', 'the model has no labels or values to compare with');
    let score: number;
    let result: FeedbackResult;
    if (record.task === 'classification') {
      if (request.label === undefined)
        throw invalid('label', `model ${record.model} is a classifier: send the true "label"`);
      const labels = this.specOf(record.model, record.version)?.labels;
      if (labels && !labels.includes(request.label))
        throw invalid('label', `not a label of ${record.model}: ${labels.join(', ')}`);
      score = request.label === predicted ? 1 : 0;
      result = { id: request.id, row, model: record.model, version: record.version, correct: score === 1 };
    } else {
      if (request.value === undefined)
        throw invalid('value', `model ${record.model} is a regressor: send the true "value"`);
      score = Math.abs(request.value - (predicted as number[])[0]!);
      result = { id: request.id, row, model: record.model, version: record.version, error: score };
    }
    if (!(await this.store.claim(request.id, row))) throw this.unmatched('duplicate');
    this.accuracyOf(record).add(score);
    this.experiments?.scored(record, score);
    if (record.task === 'classification')
      this.observer.feedback(record.model, record.version, score === 1 ? 'correct' : 'incorrect');
    return result;
  }

  /** For the gauges: PSI per feature, class-mix PSI, accuracy or MAE per model version. */
  stats() {
    const drift = [...this.drift.values()].map(({ spec, monitor }) => ({
      model: spec.name,
      version: spec.version,
      features: monitor.featureScores(),
      classes: monitor.classScore(),
    }));
    const accuracy = [...this.accuracy.values()].map(({ model, version, task, window }) => ({
      model,
      version,
      task,
      value: window.mean,
    }));
    return { drift, accuracy };
  }

  private unmatched(reason: Unmatched): ServiceError {
    this.observer.unmatchedFeedback(reason);
    const [code, message] = UNMATCHED[reason];
    return new ServiceError(code, message, [{ path: 'id', message: reason }]);
  }

  private driftOf(spec: ModelSpec): DriftMonitor | undefined {
    let entry = this.drift.get(spec.key);
    if (!entry) {
      entry = { spec, monitor: new DriftMonitor(spec, this.options.drift) };
      this.drift.set(spec.key, entry);
    }
    return entry.monitor.monitored ? entry.monitor : undefined;
  }

  private accuracyOf(record: PredictionRecord): AccuracyWindow {
    const key = `${record.model}@${record.version}`;
    let entry = this.accuracy.get(key);
    if (!entry) {
      entry = {
        model: record.model,
        version: record.version,
        task: record.task,
        window: new AccuracyWindow(this.options.accuracyWindow),
      };
      this.accuracy.set(key, entry);
    }
    return entry.window;
  }
}

function invalid(path: string, message: string): ServiceError {
  return new ServiceError('INVALID_FEEDBACK', `invalid feedback at ${path}: ${message}`, [{ path, message }]);
}
