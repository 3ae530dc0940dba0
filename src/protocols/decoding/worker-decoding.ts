import type { AnomalyKind } from '../../core/codec/input-checks.js';
import { ModelRouter, type RouterSnapshot } from '../../core/models/model-router.js';
import { rowsRefusal } from '../../core/serving/admission.js';
import { decodeView, type DecodeView } from '../../core/serving/model-runner.js';
import { routingKeyFrom } from '../routing-key.js';
import { CODECS } from './codecs.js';
import { plainError, type DecodeResult, type DecodeTask, type WorkerModel } from './decode-task.js';

/**
 * A decode worker's side: a body parsed by its protocol's codec, routed by the same ModelRouter as
 * the data plane (restored from the main thread's snapshot), held to the row caps, and decoded for
 * the version it routes to, where this worker knows it.
 */
export class WorkerDecoding {
  private readonly views = new Map<string, DecodeView>();
  private counted: Partial<Record<AnomalyKind, number>> = {};
  private restored?: { json: string; router: ModelRouter<DecodeView> };

  constructor(
    models: WorkerModel[],
    /** MAX_JSON_DEPTH */
    private readonly maxDepth: number,
    /** MAX_REQUEST_ROWS */
    private readonly maxRequestRows: number,
  ) {
    const count = (kind: AnomalyKind, n: number) => (this.counted[kind] = (this.counted[kind] ?? 0) + n);
    for (const { spec, plan, maxQueueRows } of models)
      this.views.set(spec.key, decodeView(spec, plan, maxQueueRows, count));
  }

  decode(task: DecodeTask): DecodeResult {
    const codec = CODECS[task.codec];
    if (!codec) throw new Error(`no codec "${task.codec}"`);
    const body = Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength);
    let parsed;
    try {
      parsed = codec.parse(body, task.head, this.maxDepth);
    } catch (err) {
      return { kind: 'refused', error: plainError(err) };
    }
    const envelope = codec.portable?.(parsed.envelope) ?? parsed.envelope;
    const target = codec.target(parsed.envelope, task.head);
    let routed;
    try {
      const key = routingKeyFrom(target.routingKey, task.head.routingHeader);
      routed = this.router(task.routing).route(target.model, target.version, key);
    } catch {
      return { kind: 'decoded', envelope }; // 404 or 503: the main thread's router says which, now
    }
    const view = routed.entry.runner;
    const variant = routed.variant !== undefined ? { variant: routed.variant } : {};
    if (!view) return { kind: 'decoded', envelope, ...variant };
    const { key } = view.spec;
    const caps = { maxRequestRows: this.maxRequestRows, maxQueueRows: view.policy.maxQueueRows, key };
    if (rowsRefusal(codec.declared(parsed.envelope, view), caps)) return { kind: 'decoded', envelope, key, ...variant };
    try {
      const { locator: _locator, ...inputs } = codec.decode(parsed.envelope, parsed.data, view);
      return { kind: 'decoded', envelope, key, ...variant, inputs, ...this.anomalies(view) };
    } catch (err) {
      return { kind: 'decoded', envelope, key, ...variant, error: plainError(err), ...this.anomalies(view) };
    }
  }

  /** The router as the snapshot has it, restored once per distinct state. */
  private router(snapshot: RouterSnapshot): ModelRouter<DecodeView> {
    const json = JSON.stringify(snapshot);
    if (this.restored?.json !== json)
      this.restored = { json, router: ModelRouter.restore(snapshot, (key) => this.views.get(key)) };
    return this.restored.router;
  }

  /** The anomalies counted while decoding for this version, taken. */
  private anomalies({ spec }: DecodeView) {
    const counts = this.counted;
    if (Object.keys(counts).length === 0) return {};
    this.counted = {};
    return { anomalies: { model: spec.name, version: spec.version, counts } };
  }
}
