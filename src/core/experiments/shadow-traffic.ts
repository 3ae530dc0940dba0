import { ServiceError } from '../../errors.js';
import { decodeTaskRows, type RowPrediction } from '../codec/output-codec.js';
import type { ModelRouter } from '../models/model-router.js';
import type { RequestMirrors, ShadowLane, ShadowMirror } from '../serving/request-mirrors.js';
import type { InflightLimiter } from '../serving/inflight-limiter.js';
import type { ModelRunner } from '../serving/model-runner.js';
import { copyTensor, type NamedTensors } from '../tensors/tensor.js';
import { compareRows, type ShadowObserver } from './shadow-compare.js';
import type { TrafficShadow } from '../models/traffic-config.js';

export interface ShadowLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ShadowOptions {
  observer: ShadowObserver;
  log: ShadowLog;
  /**
   * Shadow requests holding a copy of their inputs at once (SHADOW_MAX_INFLIGHT); past it they are
   * shed; 0: no shadows.
   */
  maxInflight: number;
  /** A shadow request's own deadline (SHADOW_TIMEOUT_MS): still queued then, it is shed; running, it failed. */
  timeoutMs: number;
  /** The process's in-flight caps: while either is above SHED_ABOVE held, shadows are shed. */
  inflight?: InflightLimiter;
  /** False once the process drains (SIGTERM): shadows are shed. */
  accepting?: () => boolean;
  random?: () => number;
  now?: () => number;
}

/**
 * Shadows are shed while the requests in flight hold more than this share of MAX_INFLIGHT_ROWS or
 * MAX_INFLIGHT_BYTES.
 */
const SHED_ABOVE = 0.5;
/** A failing shadow warns at most this often; each failure is logged at debug. */
const WARN_EVERY_MS = 60_000;

/**
 * Shadow traffic (model.json `traffic.shadows`): a sample of the requests that name no version is
 * run again on each shadow's version, and its answer only compared with the client's. The client's
 * answer never waits for it: the data plane takes a copy of the checked inputs (only for the sampled
 * requests) before a worker owns them, and the shadow runs after the answer is decided, in the
 * batcher's background lane (batched with other shadows, on spare capacity only, never retried,
 * never cached, never recorded for feedback). Shadows are shed first: when clients' batches wait
 * for workers, when the in-flight caps are half full, when SHADOW_MAX_INFLIGHT copies are held, or
 * while draining. Every outcome is a metric (shadow-compare.ts); failures are logged at debug, with
 * a warning a minute at most per shadow.
 */
export class ShadowTraffic implements RequestMirrors {
  /** Copies held by shadow requests not yet settled. */
  private inflight = 0;
  private readonly signatures = new WeakMap<ModelRunner, string>();
  private readonly warned = new Map<string, { at: number; failures: number }>();
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(
    private readonly router: ModelRouter<ModelRunner>,
    private readonly lane: ShadowLane,
    private readonly options: ShadowOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * For a request that named no version, once its inputs are checked and before any worker owns
   * them: a copy for each shadow that samples it and has room. undefined (the common case: a map
   * lookup, and a draw per shadow) when none does.
   */
  sample(primary: ModelRunner, tensors: NamedTensors, rows: number): ShadowMirror | undefined {
    const model = primary.spec.name;
    const shadows = this.router.traffic.get(model)?.shadows;
    if (!shadows || shadows.length === 0) return undefined;
    const picked: { shadow: TrafficShadow; copy?: NamedTensors }[] = []; // no copy: shed
    for (const shadow of shadows) {
      // The split sent it to the shadow's version: nothing to compare
      if (shadow.version === primary.spec.version) continue;
      if (shadow.fraction < 1 && this.random() >= shadow.fraction) continue;
      if (this.inflight >= this.options.maxInflight || this.pressure()) {
        picked.push({ shadow });
        continue;
      }
      this.inflight++;
      picked.push({
        shadow,
        copy: Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, copyTensor(t)])),
      });
    }
    if (picked.length === 0) return undefined;
    const copies = picked.filter((p) => p.copy).length;
    let settled = false;
    return {
      // Outcomes are counted for the requests the model answers, shed ones included.
      launch: (predictions) => {
        if (settled) return;
        settled = true;
        for (const { shadow, copy } of picked)
          if (!copy) this.options.observer.outcome(model, shadow.name, 'shed', rows);
        if (copies > 0)
          setImmediate(() =>
            picked.forEach(({ shadow, copy }) => copy && void this.run(primary, shadow, copy, rows, predictions)),
          );
      },
      drop: () => {
        if (settled) return;
        settled = true;
        this.inflight -= copies;
      },
    };
  }

  /** Whether clients need the capacity a shadow would take. */
  private pressure(): boolean {
    if (this.options.accepting && !this.options.accepting()) return true;
    if (this.lane.clientsWaiting()) return true;
    const limiter = this.options.inflight;
    if (!limiter) return false;
    const held = limiter.stats();
    const caps = limiter.limits();
    return held.rows > SHED_ABOVE * caps.rows || held.bytes > SHED_ABOVE * caps.bytes;
  }

  private async run(
    primary: ModelRunner,
    shadow: TrafficShadow,
    tensors: NamedTensors,
    rows: number,
    predictions: RowPrediction[] | undefined,
  ): Promise<void> {
    const model = primary.spec.name;
    const observer = this.options.observer;
    let started: number | undefined;
    try {
      // Pressure rose while the primary ran
      if (this.pressure()) return observer.outcome(model, shadow.name, 'shed', rows);
      const runner = this.runnerOf(primary, shadow);
      const fetch = runner.spec.taskOutput ? [runner.spec.taskOutput] : runner.spec.outputs.map((o) => o.name);
      const outputs = await this.lane.execute(runner, tensors, rows, fetch, this.options.timeoutMs, {
        background: true,
        onDispatch: () => (started ??= this.now()),
      });
      const seconds = (this.now() - started!) / 1000;
      compareRows(observer, model, shadow.name, predictions, decodeTaskRows(runner.spec, outputs, rows), rows);
      observer.latency(model, shadow.name, seconds);
    } catch (err) {
      const code = err instanceof ServiceError ? err.code : undefined;
      // Never started: the version was still loading, or clients kept the workers (or its queue) busy
      // until its deadline.
      if (
        code === 'MODEL_NOT_READY' ||
        code === 'QUEUE_FULL' ||
        (code === 'DEADLINE_EXCEEDED' && started === undefined)
      )
        observer.outcome(model, shadow.name, 'shed', rows);
      else this.failed(model, shadow, rows, err);
    } finally {
      this.inflight--;
    }
  }

  /** The shadow's version, if it serves and takes what the primary took (the same inputs, batched alike). */
  private runnerOf(primary: ModelRunner, shadow: TrafficShadow): ModelRunner {
    const runner = this.router.resolve(primary.spec.name, shadow.version).runner!;
    if (this.signatureOf(runner) !== this.signatureOf(primary)) {
      throw new Error(
        `version ${shadow.version} takes other inputs than version ${primary.spec.version} (${this.signatureOf(runner)} against ${this.signatureOf(primary)})`,
      );
    }
    return runner;
  }

  private signatureOf(runner: ModelRunner): string {
    let signature = this.signatures.get(runner);
    if (signature === undefined) {
      const inputs = runner.spec.inputs.map(
        (i) => `${i.name} ${i.dtype}[${i.shape.map((d) => (typeof d === 'number' ? d : '?')).join(',')}]`,
      );
      signature = `${inputs.join(', ')}; batched on ${JSON.stringify(runner.plan?.inputs ?? null)}`;
      this.signatures.set(runner, signature);
    }
    return signature;
  }

  private failed(model: string, shadow: TrafficShadow, rows: number, err: unknown): void {
    this.options.observer.outcome(model, shadow.name, 'failed', rows);
    const reason = (err as Error)?.message ?? String(err);
    const about = { model, shadow: shadow.name, version: shadow.version };
    this.options.log.debug({ ...about, reason }, 'shadow request failed');
    const key = `${model}\u0000${shadow.name}`;
    const warned = this.warned.get(key) ?? { at: -Infinity, failures: 0 };
    warned.failures++;
    this.warned.set(key, warned);
    const now = this.now();
    if (now - warned.at < WARN_EVERY_MS) return;
    this.options.log.warn(
      { ...about, failures: warned.failures, reason },
      'shadow requests are failing (counted in ml_shadow_requests_total{outcome="failed"}; one warning a minute at most, each failure at debug)',
    );
    warned.at = now;
    warned.failures = 0;
  }
}
