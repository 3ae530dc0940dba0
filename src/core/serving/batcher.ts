import { ServiceError } from '../../errors.js';
import { batchKey, mergeInputs, splitBatch } from './batch-merge.js';
import type { EncodedInput } from '../codec/input-codec.js';
import type { ModelSpec } from '../models/model-spec.js';
import type { RowOutputs } from '../cache/row-outputs.js';

export interface BatchPolicy {
  /** Rows per inference (a request with 5 instances counts 5); a larger request runs alone. */
  maxBatchRows: number;
  /** How long a batch may wait for more rows while a worker is free. */
  maxDelayMs: number;
  /** Rows waiting per model before new requests get 503 at once. */
  maxQueueRows: number;
}

export interface BatchObserver {
  batch(model: string, version: string, rows: number, requests: number): void;
  queueWait(model: string, version: string, seconds: number): void;
}

export type RunBatch = (spec: ModelSpec, input: EncodedInput) => Promise<RowOutputs[]>;

interface Item {
  input: EncodedInput;
  key: string;
  enqueued: number;
  state: 'queued' | 'running' | 'settled';
  resolve(rows: RowOutputs[]): void;
  reject(err: unknown): void;
  timer?: NodeJS.Timeout;
}

interface ModelQueue {
  spec: ModelSpec;
  policy: BatchPolicy;
  items: Item[];
  rows: number;
  inflight: number;
}

/**
 * Dynamic batching across requests and models, sharing the worker pool's slots. A model's queue
 * is dispatched when it holds a full batch, or its oldest request has waited maxDelayMs; while no
 * worker is free, queues keep growing (up to a full batch) and the oldest goes first when one
 * frees. Every request in a failed batch gets the error. A request past its deadline is answered
 * 504 and, if still queued, never reaches a worker.
 */
export class Batcher {
  private readonly queues = new Map<string, ModelQueue>();
  private inflight = 0;
  private wakeTimer?: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly slots: number,
    private readonly run: RunBatch,
    private readonly observer: BatchObserver,
    private readonly now: () => number = () => performance.now(),
  ) {}

  submit(spec: ModelSpec, policy: BatchPolicy, input: EncodedInput, timeoutMs: number): Promise<RowOutputs[]> {
    const queue = this.queueOf(spec, policy);
    if (queue.rows > 0 && queue.rows + input.rows > policy.maxQueueRows) {
      return Promise.reject(
        new ServiceError('QUEUE_FULL', `model ${spec.key} has ${queue.rows} rows queued (max_queue_size ${policy.maxQueueRows}); retry shortly`),
      );
    }
    return new Promise<RowOutputs[]>((resolve, reject) => {
      const item: Item = { input, key: batchKey(input), enqueued: this.now(), state: 'queued', resolve, reject };
      item.timer = setTimeout(() => this.expire(queue, item, timeoutMs), timeoutMs);
      queue.items.push(item);
      queue.rows += input.rows;
      this.pump();
    });
  }

  /** Resolves once nothing is queued or running: shutdown waits for it before closing the workers. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.inflight === 0 && [...this.queues.values()].every((q) => q.items.length === 0);
  }

  /** Rows waiting and batches running, per model version, for the gauges. */
  stats(): { model: string; version: string; queuedRows: number; inflightBatches: number }[] {
    return [...this.queues.values()].map((q) => ({ model: q.spec.name, version: q.spec.version, queuedRows: q.rows, inflightBatches: q.inflight }));
  }

  private queueOf(spec: ModelSpec, policy: BatchPolicy): ModelQueue {
    let queue = this.queues.get(spec.key);
    if (!queue) {
      queue = { spec, policy, items: [], rows: 0, inflight: 0 };
      this.queues.set(spec.key, queue);
    }
    return queue;
  }

  private pump(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    while (this.inflight < this.slots) {
      const now = this.now();
      const ready = [...this.queues.values()]
        .filter((q) => q.items.length > 0 && (q.rows >= q.policy.maxBatchRows || now - q.items[0]!.enqueued >= q.policy.maxDelayMs))
        .sort((a, b) => a.items[0]!.enqueued - b.items[0]!.enqueued)[0];
      if (!ready) break;
      this.dispatch(ready);
    }
    if (this.inflight < this.slots) this.wakeForDelays();
    if (this.idleWaiters.length > 0 && this.isIdle()) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  /** A worker is free but no queue is due yet: wake when the earliest one is. */
  private wakeForDelays(): void {
    const now = this.now();
    const waits = [...this.queues.values()].filter((q) => q.items.length > 0).map((q) => q.policy.maxDelayMs - (now - q.items[0]!.enqueued));
    if (waits.length === 0) return;
    this.wakeTimer = setTimeout(() => this.pump(), Math.max(0, Math.min(...waits)));
  }

  private dispatch(queue: ModelQueue): void {
    const batch: Item[] = [];
    let rows = 0;
    const key = queue.items[0]!.key;
    for (const item of queue.items) {
      if (item.key !== key) continue;
      if (batch.length > 0 && rows + item.input.rows > queue.policy.maxBatchRows) break;
      batch.push(item);
      rows += item.input.rows;
    }
    queue.items = queue.items.filter((item) => !batch.includes(item));
    queue.rows -= rows;
    const now = this.now();
    for (const item of batch) {
      item.state = 'running';
      this.observer.queueWait(queue.spec.name, queue.spec.version, (now - item.enqueued) / 1000);
    }
    this.observer.batch(queue.spec.name, queue.spec.version, rows, batch.length);

    this.inflight++;
    queue.inflight++;
    const inputs = batch.map((item) => item.input);
    const merged = mergeInputs(inputs);
    this.run(queue.spec, merged.input)
      .then(
        (results) => splitBatch(results, inputs, merged.offsets).forEach((rowsOut, i) => settle(batch[i]!, () => batch[i]!.resolve(rowsOut))),
        (err) => batch.forEach((item) => settle(item, () => item.reject(err))),
      )
      .finally(() => {
        this.inflight--;
        queue.inflight--;
        this.pump();
      });
  }

  private expire(queue: ModelQueue, item: Item, timeoutMs: number): void {
    if (item.state === 'settled') return;
    if (item.state === 'queued') {
      queue.items = queue.items.filter((i) => i !== item);
      queue.rows -= item.input.rows;
    }
    settle(item, () => item.reject(new ServiceError('DEADLINE_EXCEEDED', `no answer within ${timeoutMs} ms`)));
    this.pump();
  }
}

function settle(item: Item, action: () => void): void {
  if (item.state === 'settled') return;
  item.state = 'settled';
  clearTimeout(item.timer);
  action();
}
