import { ServiceError } from '../../errors.js';
import type { NamedTensors } from '../tensors/tensor.js';
import { mergeKey, mergeRequests, splitOutputs } from './batch-merge.js';
import type { ModelRunner } from './model-runner.js';
import { TRACE_ATTR, type TraceSpan } from './trace-span.js';

export interface BatchObserver {
  batch(model: string, version: string, rows: number, requests: number): void;
  queueWait(model: string, version: string, seconds: number): void;
}

/**
 * One inference over tensors already merged; resolves to the outputs of the whole batch. `traces`:
 * the traced requests in it; `background`: no client waits for it.
 */
export type RunBatch = (
  runner: ModelRunner,
  inputs: NamedTensors,
  fetch: string[],
  rows: number,
  traces?: TraceSpan[],
  background?: boolean,
) => Promise<NamedTensors>;

/** A request as the batcher queues it: its tensors, its size along the batch dim, the outputs it wants. */
export interface BatchRequest {
  tensors: NamedTensors;
  rows: number;
  fetch: string[];
  /** The request's trace, when it is traced: its queue wait and inference are recorded there. */
  trace?: TraceSpan;
  /** Work no client waits for (shadow traffic): queued apart, run only on capacity no client batch wants. */
  background?: boolean;
  /** Told when the request's batch goes to a worker. */
  onDispatch?: () => void;
}

interface Item extends BatchRequest {
  /**
   * Requests with the same key may share an inference; undefined runs alone. Worked out when a
   * batch is formed beside another request (NOT_YET until then): a lone request never needs it.
   */
  key: string | undefined | typeof NOT_YET;
  enqueued: number;
  state: 'queued' | 'running' | 'settled';
  resolve(outputs: NamedTensors): void;
  reject(err: unknown): void;
  timer?: NodeJS.Timeout;
}

interface ModelQueue {
  runner: ModelRunner;
  background: boolean;
  items: Item[];
  rows: number;
  inflight: number;
}

/**
 * Dynamic batching across requests and models, sharing the worker pool's slots. A model's queue
 * is dispatched when it holds a full batch, or its oldest request has waited maxDelayMs; while no
 * worker is free, queues keep growing (up to a full batch) and the oldest goes first when one
 * frees. Only requests with one merge key share a run (see batch-merge.ts); the rest run one at a
 * time, through the same queue, limits and deadlines. Every request in a failed batch gets the
 * error. A request past its deadline is answered 504 and, if still queued, never reaches a worker.
 *
 * Background requests (shadow traffic) have queues of their own, apart from the clients' rows and
 * limits, and runs of their own: at most BACKGROUND_SLOTS at a time, beside the client slots rather
 * than in them, dispatched only while no client batch is due and waiting for a worker. A client
 * request is thus never queued behind one nor refused for one; a background run shares only the CPU.
 */
export class Batcher {
  private readonly queues = new Map<string, ModelQueue>();
  /** The queues holding requests: what pump() looks at, however many versions are loaded. */
  private readonly waiting = new Set<ModelQueue>();
  private inflight = 0;
  private backgroundInflight = 0;
  private wakeTimer?: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];
  /** Per runtime key: waiting for a replaced or removed version's queue to empty. */
  private readonly retiring = new Map<string, (() => void)[]>();

  constructor(
    private readonly slots: number,
    private readonly run: RunBatch,
    private readonly observer: BatchObserver,
    private readonly now: () => number = () => performance.now(),
  ) {}

  submit(runner: ModelRunner, request: BatchRequest, timeoutMs: number): Promise<NamedTensors> {
    const queue = this.queueOf(runner, request.background);
    try {
      this.admit(runner, request.rows, request.background);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<NamedTensors>((resolve, reject) => {
      const item: Item = {
        tensors: request.tensors,
        rows: request.rows,
        fetch: request.fetch,
        trace: request.trace,
        background: request.background,
        onDispatch: request.onDispatch,
        key: NOT_YET,
        enqueued: this.now(),
        state: 'queued',
        resolve,
        reject,
      };
      item.timer = setTimeout(() => this.expire(queue, item, timeoutMs), timeoutMs);
      queue.items.push(item);
      queue.rows += request.rows;
      this.waiting.add(queue);
      this.pump();
    });
  }

  /**
   * Throws QUEUE_FULL unless `rows` more fit in the model's queue now. A request run in parts asks
   * for all its rows first, so it is queued whole or not at all: refusing its tenth part would
   * leave the first nine running for an answer nobody gets.
   */
  admit(runner: ModelRunner, rows: number, background = false): void {
    const queue = this.queueOf(runner, background);
    const max = runner.policy.maxQueueRows;
    if (queue.rows > 0 && queue.rows + rows > max) {
      throw new ServiceError(
        'QUEUE_FULL',
        `model ${runner.spec.key} has ${queue.rows} rows queued (max_queue_size ${max}); retry shortly`,
      );
    }
  }

  /** Resolves once nothing is queued or running: shutdown waits for it before closing the workers. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Resolves once nothing of this runner is queued or running (a batch of a request already
   * answered 504 may still be on a worker), then forgets its queue. For a version being unloaded:
   * the caller makes sure no new request reaches it first.
   */
  runnerIdle(runner: ModelRunner): Promise<void> {
    return new Promise((resolve) => {
      this.retiring.set(runner.spec.key, [...(this.retiring.get(runner.spec.key) ?? []), resolve]);
      this.settleRetiring();
    });
  }

  private settleRetiring(): void {
    for (const [key, waiters] of this.retiring) {
      const queues = [this.queues.get(key), this.queues.get(key + BACKGROUND)];
      if (queues.some((queue) => queue && (queue.items.length > 0 || queue.inflight > 0))) continue;
      this.queues.delete(key);
      this.queues.delete(key + BACKGROUND);
      this.retiring.delete(key);
      waiters.forEach((resolve) => resolve());
    }
  }

  private isIdle(): boolean {
    return this.inflight === 0 && this.backgroundInflight === 0 && this.waiting.size === 0;
  }

  /** Whether a client batch is due and waiting for a worker: the service is short of capacity now. */
  clientsWaiting(): boolean {
    return this.nextDue(false) !== undefined;
  }

  /** Rows waiting and batches running, per model version, for the gauges. */
  stats(): { model: string; version: string; queuedRows: number; inflightBatches: number }[] {
    // While a changed file replaces a version, its old and new runners both have a queue: summed.
    const byVersion = new Map<
      string,
      { model: string; version: string; queuedRows: number; inflightBatches: number }
    >();
    for (const q of this.queues.values()) {
      const { name: model, version } = q.runner.spec;
      const s = byVersion.get(`${model}@${version}`) ?? { model, version, queuedRows: 0, inflightBatches: 0 };
      s.queuedRows += q.rows;
      s.inflightBatches += q.inflight;
      byVersion.set(`${model}@${version}`, s);
    }
    return [...byVersion.values()];
  }

  private queueOf(runner: ModelRunner, background = false): ModelQueue {
    const key = background ? runner.spec.key + BACKGROUND : runner.spec.key;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { runner, background, items: [], rows: 0, inflight: 0 };
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** The queue of this lane whose batch is due (full, or its oldest request waited maxDelayMs), oldest first. */
  private nextDue(background: boolean): ModelQueue | undefined {
    const now = this.now();
    let next: ModelQueue | undefined;
    for (const q of this.waiting) {
      if (q.background !== background) continue;
      if (q.rows < q.runner.policy.maxBatchRows && now - q.items[0]!.enqueued < q.runner.policy.maxDelayMs) continue;
      if (!next || q.items[0]!.enqueued < next.items[0]!.enqueued) next = q;
    }
    return next;
  }

  /** Background work runs only on spare capacity: a free background slot, and no client batch waiting. */
  private backgroundMayRun(): boolean {
    return this.backgroundInflight < BACKGROUND_SLOTS && !this.clientsWaiting();
  }

  private pump(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    for (let ready; this.inflight < this.slots && (ready = this.nextDue(false));) this.dispatch(ready);
    for (let ready; this.backgroundMayRun() && (ready = this.nextDue(true));) this.dispatch(ready);
    this.wakeForDelays();
    if (this.retiring.size > 0) this.settleRetiring();
    if (this.idleWaiters.length > 0 && this.isIdle()) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  /** A slot is free but no queue of its lane is due yet: wake when the earliest one is. */
  private wakeForDelays(): void {
    if (this.waiting.size === 0) return;
    const now = this.now();
    const clientFree = this.inflight < this.slots;
    const backgroundFree = this.backgroundMayRun();
    let wait = Infinity;
    for (const q of this.waiting) {
      if (!(q.background ? backgroundFree : clientFree)) continue;
      wait = Math.min(wait, q.runner.policy.maxDelayMs - (now - q.items[0]!.enqueued));
    }
    if (wait !== Infinity) this.wakeTimer = setTimeout(() => this.pump(), Math.max(0, wait));
  }

  private dispatch(queue: ModelQueue): void {
    const first = queue.items[0]!;
    const batch: Item[] = [first];
    let rows = first.rows;
    if (queue.items.length === 1) {
      queue.items = [];
    } else {
      const key = keyOf(queue.runner, first);
      if (key !== undefined) {
        for (let i = 1; i < queue.items.length; i++) {
          const item = queue.items[i]!;
          if (keyOf(queue.runner, item) !== key) continue;
          if (rows + item.rows > queue.runner.policy.maxBatchRows) break;
          batch.push(item);
          rows += item.rows;
        }
      }
      queue.items = batch.length === 1 ? queue.items.slice(1) : queue.items.filter((item) => !batch.includes(item));
    }
    if (queue.items.length === 0) this.waiting.delete(queue);
    queue.rows -= rows;
    const { spec, plan } = queue.runner;
    const now = this.now();
    let traces: TraceSpan[] | undefined;
    for (const item of batch) {
      item.state = 'running';
      item.onDispatch?.();
      // A client's wait, not the background's
      if (!queue.background) this.observer.queueWait(spec.name, spec.version, (now - item.enqueued) / 1000);
      if (item.trace) {
        item.trace
          .child('queue wait', item.enqueued, {
            [TRACE_ATTR.batchRows]: rows,
            [TRACE_ATTR.batchRequests]: batch.length,
          })
          .end(now);
        (traces ??= []).push(item.trace);
      }
    }
    this.observer.batch(spec.name, spec.version, rows, batch.length);

    if (queue.background) this.backgroundInflight++;
    else this.inflight++;
    queue.inflight++;
    const merged = mergeRequests(
      plan,
      batch.map((item) => item.tensors),
    );
    this.run(queue.runner, merged, first.fetch, rows, traces, queue.background)
      .then(
        (outputs) =>
          splitOutputs(
            plan,
            outputs,
            batch.map((item) => item.rows),
          ).forEach((out, i) => settle(batch[i]!, () => batch[i]!.resolve(out))),
        (err) =>
          batch.length > 1 && rejectsInput(err)
            ? this.isolate(queue, batch)
            : batch.forEach((item) => settle(item, () => item.reject(err))),
      )
      .finally(() => {
        if (queue.background) this.backgroundInflight--;
        else this.inflight--;
        queue.inflight--;
        this.pump();
      });
  }

  /**
   * The model refused a merged batch's values: one request's bad value must not fail the others,
   * so each runs again alone, in the same slot, and only the one at fault gets the error.
   */
  private async isolate(queue: ModelQueue, batch: Item[]): Promise<void> {
    for (const item of batch) {
      if (item.state === 'settled') continue;
      await this.run(
        queue.runner,
        item.tensors,
        item.fetch,
        item.rows,
        item.trace && [item.trace],
        queue.background,
      ).then(
        (outputs) => settle(item, () => item.resolve(outputs)),
        (err) => settle(item, () => item.reject(err)),
      );
    }
  }

  private expire(queue: ModelQueue, item: Item, timeoutMs: number): void {
    if (item.state === 'settled') return;
    if (item.state === 'queued') {
      queue.items = queue.items.filter((i) => i !== item);
      queue.rows -= item.rows;
      if (queue.items.length === 0) this.waiting.delete(queue);
    }
    settle(item, () => item.reject(new ServiceError('DEADLINE_EXCEEDED', `no answer within ${timeoutMs} ms`)));
    this.pump();
  }
}

/**
 * Background runs at a time, beside the client slots: shadow traffic takes at most this much of the
 * CPU from clients.
 */
const BACKGROUND_SLOTS = 1;
/** An item's merge key before it is worked out. */
const NOT_YET = Symbol('not yet');

/** The item's merge key, worked out once. */
function keyOf(runner: ModelRunner, item: Item): string | undefined {
  if (item.key === NOT_YET) item.key = mergeKey(runner.plan, item.tensors, item.fetch);
  return item.key;
}

/** Appended to a runtime key for its background queue. */
const BACKGROUND = '\u0000background';

function rejectsInput(err: unknown): boolean {
  return err instanceof ServiceError && err.code === 'MODEL_REJECTED_INPUT';
}

function settle(item: Item, action: () => void): void {
  if (item.state === 'settled') return;
  item.state = 'settled';
  clearTimeout(item.timer);
  action();
}
