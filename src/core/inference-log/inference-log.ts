import type { ModelSpec } from '../models/model-spec.js';
import type { RowPrediction } from '../codec/output-codec.js';
import type { NamedTensors } from '../tensors/tensor.js';
import { createHmac } from 'node:crypto';
import {
  copyTensors,
  headOf,
  predictionLines,
  recordLine,
  versionText,
  type Redaction,
  type VersionText,
} from './log-records.js';

/** Which records a sampled prediction makes: its request, its response, or both. */
export type LogMode = 'request' | 'response' | 'all';

/** How a model's predictions are logged (INFERENCE_LOG_* and model.json's `inference_log`). */
export interface LogSettings {
  /** The fraction of predictions logged, 0 to 1. */
  sample: number;
  mode: LogMode;
  /** Whether request records carry the input tensors. */
  inputs: 'tensors' | 'omit';
}

/** Where records go: lines of JSON, written in batches. A write that throws is retried. */
export interface LogSink {
  readonly name: string;
  write(lines: string[]): Promise<void>;
  close(): Promise<void>;
}

export type LogOutcome = 'sent' | 'dropped' | 'failed';

export interface LogObserver {
  records(outcome: LogOutcome, count: number): void;
  queued(records: number): void;
}

export interface InferenceLogOptions {
  defaults: LogSettings;
  /** Records held at most; past it new ones are dropped and counted, never waited for. */
  maxQueue: number;
  /** Records per write. */
  batch: number;
  /** How long a partial batch waits for more. */
  flushMs: number;
  /** Attempts per batch, the first included; then its records count as failed. */
  attempts: number;
  /** The first retry's wait, doubled at each retry. */
  backoffMs: number;
  /** The HMAC key of `hash` redactions; without one, a hashed feature is dropped. */
  hashKey?: string;
}

/** What the log works out once per model version: settings, record text, redaction. */
interface VersionLog {
  settings: LogSettings;
  text: VersionText;
  redaction?: Redaction;
}

/** A prediction chosen for the log: its settings, and its inputs copied while they were ours. */
export interface LoggedPrediction {
  settings: LogSettings;
  inputs?: NamedTensors;
}

/** What the data plane tells the log of a prediction it answered. */
export interface AnsweredPrediction {
  id: string;
  spec: ModelSpec;
  variant?: string;
  outputs: NamedTensors;
  predictions?: RowPrediction[];
  cached: boolean;
  latencyMs: number;
}

/** Ground truth posted for a prediction (POST /feedback's body and what it joined). */
export interface FeedbackEvent {
  id: string;
  row: number;
  model: string;
  version: string;
  label?: string;
  value?: number;
  correct?: boolean;
  error?: number;
}

/**
 * The inference log (issue #24): for a sampled prediction, what was asked and answered, and later
 * the feedback on it, as JSON lines to a sink. It never stands in a request's way: records are
 * built once the answer is decided, after the event loop has written it (one setImmediate for all
 * of a turn's), queued up to maxQueue (dropped and counted past it), and written in batches by one
 * writer at a time, retried with backoff. A sink that hangs or fails costs the clients nothing;
 * its records are counted as failed or dropped.
 */
export class InferenceLog {
  private queue: string[] = [];
  private pending: (() => void)[] = [];
  private writing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** Each model version's settings and redaction, worked out once (a request's way pays a lookup). */
  private readonly perVersion = new WeakMap<ModelSpec, VersionLog>();

  constructor(
    private readonly sink: LogSink,
    private readonly options: InferenceLogOptions,
    private readonly observer: LogObserver,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether this prediction is logged, and how; its inputs copied now, before a worker owns them. */
  choose(spec: ModelSpec, inputs: NamedTensors): LoggedPrediction | undefined {
    if (this.closed) return undefined;
    const { settings } = this.of(spec);
    if (!(settings.sample > 0) || this.random() >= settings.sample) return undefined;
    const wantsInputs = settings.mode !== 'response' && settings.inputs === 'tensors';
    return { settings, ...(wantsInputs ? { inputs: copyTensors(inputs) } : {}) };
  }

  /** The records of a prediction answered, made after this turn's answers are written. */
  answered(logged: LoggedPrediction, answer: AnsweredPrediction): void {
    const time = this.now();
    this.later(() => {
      const { mode } = logged.settings;
      if (this.queue.length >= this.options.maxQueue) {
        // A full queue drops them anyway: counted, not built (a frozen sink costs no more than a healthy one)
        this.observer.records('dropped', mode === 'all' ? 2 : 1);
        return;
      }
      const { text, redaction } = this.of(answer.spec);
      const lines = predictionLines(answer, time, logged.inputs, text, mode, redaction);
      for (const line of lines) this.enqueue(line);
    });
  }

  /** Ground truth joined to a prediction: a record of its own, whatever the sampling. */
  feedback(event: FeedbackEvent): void {
    if (this.closed) return;
    const { id, model, version, ...rest } = event;
    const time = this.now();
    this.later(() => this.enqueue(recordLine({ ...headOf('feedback', id, { name: model, version }, time), ...rest })));
  }

  private of(spec: ModelSpec): VersionLog {
    let known = this.perVersion.get(spec);
    if (!known) {
      const { redact: _redact, ...own } = spec.config.inference_log ?? {};
      const redaction = this.redactionOf(spec);
      const settings = { ...this.options.defaults, ...own };
      known = { settings, text: versionText(spec), ...(redaction && { redaction }) };
      this.perVersion.set(spec, known);
    }
    return known;
  }

  /** model.json's `inference_log.redact` for the feature input, or undefined. */
  private redactionOf(spec: ModelSpec): Redaction | undefined {
    const redact = spec.config.inference_log?.redact;
    if (!redact || !spec.featureInput || !spec.features) return undefined;
    const key = this.options.hashKey;
    const hash = (value: unknown) => createHmac('sha256', key!).update(String(value)).digest('hex');
    const actions: Redaction['actions'] = {};
    for (const [feature, action] of Object.entries(redact)) actions[feature] = action === 'hash' && key ? hash : 'drop';
    return { input: spec.featureInput, features: spec.features.map((f) => f.name), actions };
  }

  /** Records still queued. */
  get depth(): number {
    return this.queue.length;
  }

  /**
   * Writes what is queued, for up to `graceMs`, then closes the sink; records still queued then are
   * counted as dropped. Nothing is accepted after.
   */
  async close(graceMs: number): Promise<void> {
    this.flushPending();
    this.closed = true;
    clearTimeout(this.timer);
    let timeout: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timeout = setTimeout(resolve, graceMs)));
    await Promise.race([this.drain(), deadline]);
    clearTimeout(timeout);
    if (this.queue.length > 0) {
      this.observer.records('dropped', this.queue.length);
      this.queue = [];
      this.observer.queued(0);
    }
    await Promise.race([this.sink.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  }

  private later(make: () => void): void {
    this.pending.push(make);
    if (this.pending.length === 1) setImmediate(() => this.flushPending());
  }

  private flushPending(): void {
    const pending = this.pending;
    this.pending = [];
    for (const make of pending) make();
    this.observer.queued(this.queue.length);
  }

  private enqueue(line: string): void {
    if (this.queue.length >= this.options.maxQueue) {
      this.observer.records('dropped', 1);
      return;
    }
    this.queue.push(line);
    if (this.writing) return;
    if (this.queue.length >= this.options.batch) this.write();
    else this.timer ??= setTimeout(() => this.write(), this.options.flushMs);
  }

  private write(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      if (this.queue.length > 0 && !this.closed) this.timer ??= setTimeout(() => this.write(), this.options.flushMs);
    });
  }

  /** Every queued batch, in order, each retried with backoff. */
  private async writeAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batch);
      this.observer.queued(this.queue.length);
      await this.writeBatch(batch);
    }
  }

  private async writeBatch(batch: string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sink.write(batch);
        this.observer.records('sent', batch.length);
        return;
      } catch {
        if (attempt >= this.options.attempts || this.closed) {
          this.observer.records('failed', batch.length);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, this.options.backoffMs * 2 ** (attempt - 1)).unref());
      }
    }
  }

  /** Until the queue is written (or its writes have failed). */
  private async drain(): Promise<void> {
    while (this.writing || this.queue.length > 0) {
      if (!this.writing) this.writing = this.writeAll().finally(() => (this.writing = undefined));
      await this.writing;
    }
  }
}
