import { ServiceError, type ErrorDetail } from '../../errors.js';
import { cacheKeys } from '../cache/cache-key.js';
import type { RequestMirrors, ShadowLane, ShadowMirror } from './request-mirrors.js';
import type { PredictionCache } from '../cache/prediction-cache.js';
import { CacheUsage } from '../cache/cache-usage.js';
import { SingleFlight } from '../cache/single-flight.js';
import type { ValidationLevel } from '../codec/input-checks.js';
import { decodeTaskRows, type RowPrediction } from '../codec/output-codec.js';
import type { ModelSpec } from '../models/model-spec.js';
import type { Locator } from '../tensors/paths.js';
import type { ModelRouter } from '../models/model-router.js';
import type { ModelMonitoring } from '../monitoring/model-monitoring.js';
import { takeAlong } from '../tensors/batch-axis.js';
import type { NamedTensors } from '../tensors/tensor.js';
import { tensorsFromRaw, type ImageDecoder, type ImageObserver, type RawInputs } from '../preprocess/raw-inputs.js';
import type { TextObserver } from '../preprocess/raw-texts.js';
import { MAX_DETAILS } from '../tensors/tensor-errors.js';
import { admitRows, refuseOversized, type AdmissionLimits, type DeclaredRows } from './admission.js';
import { chunkRequest, joinOutputs, splitOutputs } from './batch-merge.js';
import { Batcher, type BatchObserver, type BatchRequest } from './batcher.js';
import type { ModelRunner } from './model-runner.js';
import type { ModelRuntime } from './model-runtime.js';
import { newPredictionId } from '../monitoring/prediction-id.js';
import type { PredictionObserver, PredictionStatus } from './telemetry.js';
import type { InferenceLog } from '../inference-log/inference-log.js';
import { TRACE_ATTR, traceCacheLookup, traceInference, type TraceSpan } from './trace-span.js';

/** Which model a request is for; no version means the highest ready one. */
export interface InferTarget {
  model: string;
  version?: string;
  /** Keeps a caller on one variant of the model's traffic split (a user id); none: a weighted draw. */
  routingKey?: string;
  /**
   * The split's variant an earlier resolve() of this request chose (to decode for it first), kept
   * while it is ready.
   */
  variant?: string;
}

export interface InferOptions {
  /** This request's deadline; past it the answer is 504 and queued rows never reach a worker. */
  timeoutMs?: number;
  validation?: ValidationLevel;
  /** The request's span when it is traced: validation, cache, queue and inference are recorded under it. */
  trace?: TraceSpan | null;
  /**
   * The request's rows as its envelope declares them (`instances`' length, a shape's batch dim),
   * known before any value is decoded: the row caps refuse an oversized request on it, before
   * decode() walks a single row.
   */
  declared?: (runner: ModelRunner) => DeclaredRows;
}

/** What a protocol decoded from its request: the input tensors (now owned by the data plane). */
export interface DecodedInputs {
  tensors: NamedTensors;
  /** Outputs to fetch; all tensor outputs when absent. */
  outputs?: string[];
  /** Decoding warnings (numeric strings read as numbers), ahead of the input checks' own. */
  warnings?: ErrorDetail[];
  /** How the protocol names positions in its request, for error messages. */
  locator?: Locator;
  /**
   * Inputs sent as encoded items (images) or texts instead of tensors: the model's preprocessing turns them
   * into tensors (core/preprocess/), off the event loop, before the checks.
   */
  raw?: RawInputs;
}

export interface InferResult {
  /** The prediction id (a UUIDv7) ground-truth feedback is joined by. */
  id: string;
  runner: ModelRunner;
  /**
   * The traffic split's variant that served the request, when the model has a split and the request
   * named no version.
   */
  variant?: string;
  /** The fetched outputs, the batch dim as the request sent it. */
  outputs: NamedTensors;
  /** Size along the batch dim; 1 for a model that runs requests alone. */
  rows: number;
  /** Per row, where model.json describes the task. */
  predictions?: RowPrediction[];
  /** True when every row came from the cache. */
  cached: boolean;
  warnings: ErrorDetail[];
}

export interface DataPlaneDeps {
  /** Which version serves a request (model, version, routing key), with the 404/503 wording. */
  router: ModelRouter<ModelRunner>;
  runtime: ModelRuntime;
  observer: PredictionObserver;
  batchObserver: BatchObserver;
  cache?: PredictionCache;
  monitoring?: ModelMonitoring;
  timeoutMs: number;
  /** Below this hit rate a model version skips the cache (CacheUsage); 0: always use it. */
  cacheMinHitRate?: number;
  /** Told when a model version starts or stops skipping the cache. */
  onCacheUsage?: (spec: ModelSpec, using: boolean, hitRate: number) => void;
  /** Row caps per request and in flight (admission.ts); none when absent. */
  admission?: AdmissionLimits;
  /** Shadow traffic (model.json `traffic.shadows`), given the data plane's background lane; none when absent. */
  shadows?: (lane: ShadowLane) => RequestMirrors;
  /** Decodes images for inputs whose model.json declares image preprocessing; none: such requests are refused. */
  images?: ImageDecoder;
  imageObserver?: ImageObserver;
  /** Told of every text tokenised or refused. */
  textObserver?: TextObserver;
  /** The inference log (core/inference-log/): sampled predictions' inputs and outputs; none when off. */
  inferenceLog?: InferenceLog;
  newId?: () => string;
  now?: () => number;
}

/**
 * The protocol-neutral data plane, one infer() for every protocol: resolve the model, decode
 * (the protocol's part), check every input, look up the cache, batch, run, decode the task's
 * answer. Protocols in src/protocols/ only translate their wire shape to and from named tensors.
 */
export class DataPlane {
  private readonly flights = new SingleFlight<NamedTensors>();
  /** Output selections already checked, per model version. */
  private readonly fetchLists = new WeakMap<ModelRunner, Map<string, string[]>>();
  /** Whether the cache pays for itself, per model version. */
  private readonly cacheUsage = new WeakMap<ModelRunner, CacheUsage>();
  private readonly batcher: Batcher;
  /** Requests between resolve() and their answer, per runner: a version is unloaded only when it has none. */
  private readonly active = new Map<ModelRunner, { count: number; waiters: (() => void)[] }>();
  private readonly newId: () => string;
  private readonly now: () => number;
  private readonly shadows?: RequestMirrors;

  constructor(private readonly deps: DataPlaneDeps) {
    this.newId = deps.newId ?? (() => newPredictionId());
    this.now = deps.now ?? (() => performance.now());
    this.batcher = new Batcher(
      deps.runtime.workers,
      (runner, inputs, fetch, rows, traces, background) => this.run(runner, inputs, fetch, rows, traces, background),
      deps.batchObserver,
      this.now,
    );
    const lane: ShadowLane = {
      execute: (runner, tensors, rows, fetch, timeoutMs, background) =>
        this.execute(runner, tensors, rows, fetch, timeoutMs, undefined, background),
      clientsWaiting: () => this.batcher.clientsWaiting(),
    };
    this.shadows = deps.shadows?.(lane);
  }

  /** Resolves when no request is queued or running. */
  drained(): Promise<void> {
    return this.batcher.idle();
  }

  /**
   * Resolves once no request is in flight on this runner: none between resolve() and its answer
   * (a cache lookup may be pending), none queued, no batch running. The registry calls it after it
   * stopped routing to the runner, so nothing new arrives while it waits.
   */
  async runnerDrained(runner: ModelRunner): Promise<void> {
    const active = this.active.get(runner);
    if (active) await new Promise<void>((resolve) => active.waiters.push(resolve));
    await this.batcher.runnerIdle(runner);
  }

  private enter(runner: ModelRunner): void {
    const active = this.active.get(runner);
    if (active) active.count++;
    else this.active.set(runner, { count: 1, waiters: [] });
  }

  private leave(runner: ModelRunner): void {
    const active = this.active.get(runner)!;
    if (--active.count > 0) return;
    this.active.delete(runner);
    active.waiters.forEach((resolve) => resolve());
  }

  /** Queue depth and running batches per model, for the gauges. */
  batchStats() {
    return this.batcher.stats();
  }

  /** The runner a request would use, and its split's variant: 404 unknown, 503 loading or failed. */
  resolve(target: InferTarget): { runner: ModelRunner; variant?: string } {
    const { entry, variant } = this.deps.router.route(target.model, target.version, target.routingKey, target.variant);
    return { runner: entry.runner!, ...(variant !== undefined ? { variant } : {}) };
  }

  async infer(
    target: InferTarget,
    decode: (runner: ModelRunner) => DecodedInputs,
    options: InferOptions = {},
  ): Promise<InferResult> {
    const { runner, variant } = this.resolve(target);
    const { spec } = runner;
    this.enter(runner);
    const started = this.now();
    let status: PredictionStatus = 'error';
    let rows = 0;
    const trace = options.trace ?? undefined;
    let validated = false;
    let release: (() => void) | undefined;
    let shadow: ShadowMirror | undefined;
    try {
      if (options.declared) refuseOversized(runner, options.declared(runner), this.deps.admission);
      const decoded = decode(runner);
      if (decoded.raw) {
        const { images, imageObserver, textObserver } = this.deps;
        Object.assign(
          decoded.tensors,
          await tensorsFromRaw(spec.name, decoded.raw, {
            images: runner.images,
            decoder: images,
            imageObserver,
            texts: runner.texts,
            tokenizers: runner.tokenizers,
            textObserver,
          }),
        );
      }
      release = admitRows(runner, decoded.tensors, this.deps.admission, decoded.locator);
      const checked = runner.checks.check(decoded.tensors, options.validation ?? spec.validation, decoded.locator);
      rows = checked.rows;
      const fetch = this.fetchOf(runner, decoded.outputs);
      validated = true;
      trace?.child('validate', started).end(this.now());
      // Before a worker owns the data
      if (spec.featureInput) this.deps.monitoring?.observeInput(spec, checked.tensors[spec.featureInput]!, rows);
      // Copied now, for the same reason
      if (target.version === undefined) shadow = this.shadows?.sample(runner, checked.tensors, rows);
      const logged = this.deps.inferenceLog?.choose(spec, checked.tensors);
      const timeoutMs = options.timeoutMs ?? this.deps.timeoutMs;
      const { outputs, cached } =
        this.deps.cache && runner.cache.enabled && this.usageOf(runner).use()
          ? await this.throughCache(runner, checked.tensors, rows, fetch, timeoutMs, trace)
          : { outputs: await this.execute(runner, checked.tensors, rows, fetch, timeoutMs, trace), cached: false };
      trace?.set({ [TRACE_ATTR.cached]: cached });
      const predictions = decodeTaskRows(spec, outputs, rows);
      status = 'success';
      shadow?.launch(predictions);
      const id = this.newId();
      const monitoring = this.deps.monitoring;
      if (monitoring) {
        // Before the answer: feedback may follow it at once
        monitoring.rememberPrediction(spec, id, predictions, rows, variant);
        setImmediate(() => monitoring.observePredictions(spec, predictions, rows));
      }
      const warnings = [...(decoded.warnings ?? []), ...checked.warnings].slice(0, MAX_DETAILS);
      if (logged) {
        const latencyMs = this.now() - started;
        this.deps.inferenceLog!.answered(logged, { id, spec, variant, outputs, predictions, cached, latencyMs });
      }
      return {
        id,
        runner,
        ...(variant !== undefined ? { variant } : {}),
        outputs,
        rows,
        predictions,
        cached,
        warnings,
      };
    } catch (err) {
      const error = inferenceError(err);
      if (error.statusCode < 500) status = 'invalid_input';
      if (trace && !validated) trace.child('validate', started).fail(error.code, error.message).end(this.now());
      throw error;
    } finally {
      if (status !== 'success') shadow?.drop();
      release?.();
      this.leave(runner);
      trace?.set({ [TRACE_ATTR.model]: spec.name, [TRACE_ATTR.version]: spec.version, [TRACE_ATTR.rows]: rows });
      this.deps.observer.prediction({
        model: spec.name,
        version: spec.version,
        variant,
        status,
        seconds: (this.now() - started) / 1000,
        rows,
      });
    }
  }

  /** Whether cache lookups are worth it for this model version, as measured so far. */
  usageOf(runner: ModelRunner): CacheUsage {
    let usage = this.cacheUsage.get(runner);
    if (!usage) {
      const onCacheUsage = this.deps.onCacheUsage;
      usage = new CacheUsage(
        this.deps.cacheMinHitRate ?? 0,
        onCacheUsage && ((using, rate) => onCacheUsage(runner.spec, using, rate)),
      );
      this.cacheUsage.set(runner, usage);
    }
    return usage;
  }

  /** The outputs to fetch: those asked for (all by default), plus the task's output, in the model's order. */
  private fetchOf(runner: ModelRunner, requested: string[] | undefined): string[] {
    let known = this.fetchLists.get(runner);
    if (!known) this.fetchLists.set(runner, (known = new Map<string, string[]>()));
    const key = requested ? requested.join('\0') : '\0all';
    const cached = known.get(key);
    if (cached) return cached;
    const outputs = runner.spec.outputs.map((o) => o.name);
    const unknown = (requested ?? []).filter((name) => !outputs.includes(name));
    if (unknown.length > 0) {
      throw new ServiceError('INVALID_REQUEST', `unknown output "${unknown[0]}"; the model has ${outputs.join(', ')}`, [
        { path: 'outputs', message: `outputs: ${outputs.join(', ')}` },
      ]);
    }
    const fetch = requested
      ? outputs.filter((name) => requested.includes(name) || name === runner.spec.taskOutput)
      : outputs;
    if (known.size < 64) known.set(key, fetch); // the selections a model's clients make are few
    return fetch;
  }

  /**
   * Each row is looked up on its own, so a row seen before hits whatever batch it arrives in.
   * Misses already being computed by another request are joined (single flight); the rest run
   * as one inference, and their outputs are written to the cache after the answer is sent.
   */
  private async throughCache(
    runner: ModelRunner,
    tensors: NamedTensors,
    rows: number,
    fetch: string[],
    timeoutMs: number,
    trace?: TraceSpan,
  ) {
    const cache = this.deps.cache!;
    const { plan } = runner;
    const lookupStart = trace && this.now();
    const keys = cacheKeys(runner.spec, plan, tensors, rows, fetch);
    const looked = cache.lookup(keys, runner, fetch);
    const remoteStart = trace && !Array.isArray(looked) ? this.now() : undefined;
    const found = Array.isArray(looked) ? looked : await looked;
    let hits = 0;
    for (const f of found) if (f !== undefined) hits++;
    if (trace) traceCacheLookup(trace, lookupStart!, remoteStart, this.now(), rows, hits);
    this.usageOf(runner).record(rows, hits);
    if (hits === rows) {
      // Answered in the check phase, after the poll phase has read every request that arrived, as
      // a batched miss is: answering each hit the moment it is read made the event loop turn once
      // per request, and hits ran at 8-9k req/s against 14k for misses (iris, 32 connections);
      // deferred, 18-19k. One connection: the same either way.
      await new Promise((resolve) => setImmediate(resolve));
      return { outputs: joinOutputs(plan, found as NamedTensors[]), cached: true };
    }

    const pending = new Map<string, Promise<NamedTensors>>();
    const leaders = new Map<string, number>(); // key -> the row that computes it
    keys.forEach((key, r) => {
      if (found[r] || pending.has(key) || leaders.has(key)) return;
      const flight = this.flights.joinable(key);
      if (flight) pending.set(key, flight);
      else leaders.set(key, r);
    });
    let whole: NamedTensors | undefined; // every row computed here in one run: answered as it came
    if (leaders.size > 0) {
      const leadKeys = [...leaders.keys()];
      const leadRows = [...leaders.values()];
      const subset = plan
        ? Object.fromEntries(
            Object.entries(tensors).map(([name, t]) => [
              name,
              plan.inputs[name] === undefined ? t : takeAlong(t, plan.inputs[name], leadRows),
            ]),
          )
        : tensors;
      const ttl = runner.cache.ttlSeconds;
      const promises = this.flights.lead(leadKeys, async () => {
        const outputs = await this.execute(runner, subset, leadRows.length, fetch, timeoutMs, trace);
        if (leadRows.length === rows) whole = outputs;
        const perRow = splitOutputs(
          plan,
          outputs,
          leadRows.map(() => 1),
        );
        setImmediate(() => perRow.forEach((row, i) => cache.set(leadKeys[i]!, row, ttl)));
        return perRow;
      });
      leadKeys.forEach((key, i) => pending.set(key, promises[i]!));
    }
    const resolved = new Map<string, NamedTensors>();
    await Promise.all([...pending].map(async ([key, promise]) => resolved.set(key, await promise)));
    const outputs =
      whole ??
      joinOutputs(
        plan,
        keys.map((key, r) => found[r] ?? resolved.get(key)!),
      );
    return { outputs, cached: pending.size === 0 };
  }

  /** Through the batcher; a request larger than the model's batch runs in parts, joined back in order. */
  private async execute(
    runner: ModelRunner,
    tensors: NamedTensors,
    rows: number,
    fetch: string[],
    timeoutMs: number,
    trace?: TraceSpan,
    lane?: Pick<BatchRequest, 'background' | 'onDispatch'>,
  ): Promise<NamedTensors> {
    const max = runner.policy.maxBatchRows;
    if (!runner.plan || rows <= max)
      return this.batcher.submit(runner, { tensors, rows, fetch, trace, ...lane }, timeoutMs);
    this.batcher.admit(runner, rows, lane?.background); // every part, or none
    const parts = chunkRequest(runner.plan, tensors, rows, max);
    const outputs = await Promise.all(
      parts.map((part) => this.batcher.submit(runner, { ...part, fetch, trace, ...lane }, timeoutMs)),
    );
    return joinOutputs(runner.plan, outputs);
  }

  private async run(
    runner: ModelRunner,
    inputs: NamedTensors,
    fetch: string[],
    rows: number,
    traces?: TraceSpan[],
    background?: boolean,
  ): Promise<NamedTensors> {
    const { spec } = runner;
    const started = traces && this.now();
    const traced = traces && {
      [TRACE_ATTR.batchRows]: rows,
      [TRACE_ATTR.runsOn]: this.deps.runtime.placement?.(spec.key) ?? 'workers',
    };
    try {
      const result = await this.deps.runtime.run({
        key: spec.key,
        inputs,
        fetch,
        rows,
        ...(background ? { background } : {}),
      });
      this.deps.observer.inferenceCost(spec.name, spec.version, result.seconds * this.deps.runtime.threadsPerRun);
      if (traces) traceInference(traces, started!, this.now(), traced!, result);
      return result.outputs;
    } catch (err) {
      const error = inferenceError(err);
      if (traces) traceInference(traces, started!, this.now(), traced!, undefined, error);
      throw error;
    }
  }
}

/**
 * A failure as the client sees it: a ServiceError as it is, anything else a 500 INFERENCE_FAILED
 * with the cause kept for the log.
 */
function inferenceError(err: unknown): ServiceError {
  return err instanceof ServiceError
    ? err
    : new ServiceError('INFERENCE_FAILED', 'inference failed', undefined, { cause: err });
}
