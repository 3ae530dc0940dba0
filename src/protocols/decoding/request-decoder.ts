import type { AnomalyKind } from '../../core/codec/input-checks.js';
import type { RouterSnapshot } from '../../core/models/model-router.js';
import type { DecodedInputs, InferOptions, InferTarget } from '../../core/serving/data-plane.js';
import type { ModelRunner } from '../../core/serving/model-runner.js';
import type { ProtocolCodec, RequestHead } from '../codec.js';
import { routingKeyFor } from '../routing-key.js';
import { serviceError, type DecodeResult, type DecodeTask } from './decode-task.js';

/** What a route gives the data plane (target, inputs' decoder, options), and the envelope for its answer. */
export interface DecodedRequest<E> {
  envelope: E;
  target: InferTarget;
  decode: (runner: ModelRunner) => DecodedInputs;
  options: Omit<InferOptions, 'trace'>;
}

/** The decode workers, as the decoder uses them (decode-pool.ts). */
export interface DecodeWorkers {
  /** Whether a body of this many bytes is decoded off the event loop. */
  wants(bytes: number): boolean;
  decode(task: DecodeTask): Promise<DecodeResult>;
}

export interface RequestDecoderDeps {
  /** MAX_JSON_DEPTH */
  maxDepth: number;
  workers?: DecodeWorkers;
  /** The router's state, for a worker to route a body by. */
  routing: () => RouterSnapshot;
  /** Feature anomalies a worker counted while decoding rows. */
  anomalies: (model: string, version: string, kind: AnomalyKind, count: number) => void;
}

/**
 * Every protocol's request on its way to the data plane: parsed and decoded by the protocol's codec,
 * on this thread or, for a large body, on a decode worker. Which, is decided here alone (the size,
 * and whether the codec's body is worth it); the codec, the router, the errors and the metrics are
 * the same either way.
 */
export class RequestDecoder {
  constructor(private readonly deps: RequestDecoderDeps) {}

  decode<E, D>(
    codec: ProtocolCodec<E, D>,
    body: Buffer | undefined,
    head: RequestHead,
  ): DecodedRequest<E> | Promise<DecodedRequest<E>> {
    if (body && this.deps.workers?.wants(body.length) && codec.offloads(head)) return this.offloaded(codec, body, head);
    const { envelope, data } = codec.parse(body, head, this.deps.maxDepth);
    return this.request(codec, envelope, head, (runner) => codec.decode(envelope, data, runner));
  }

  private request<E, D>(
    codec: ProtocolCodec<E, D>,
    envelope: E,
    head: RequestHead,
    decode: (runner: ModelRunner) => DecodedInputs,
    variant?: string,
  ): DecodedRequest<E> {
    const { model, version, routingKey } = codec.target(envelope, head);
    const key = routingKeyFor(routingKey, head.routingHeader);
    return {
      envelope,
      target: { model, version, routingKey: key, ...(variant !== undefined ? { variant } : {}) },
      decode,
      options: { declared: (runner) => codec.declared(envelope, runner), ...codec.options(envelope) },
    };
  }

  /**
   * Decoded on a worker for the version it routes to; the data plane may run another (the variant
   * stopped being ready in between, a version loaded after the worker started): then the same
   * bytes are decoded again here, for that one.
   */
  private async offloaded<E, D>(codec: ProtocolCodec<E, D>, body: Buffer, head: RequestHead) {
    const result = await this.deps.workers!.decode({ codec: codec.name, body, head, routing: this.deps.routing() });
    if (result.kind === 'refused') throw serviceError(result.error);
    const { key, inputs, error, anomalies } = result;
    if (anomalies)
      for (const [kind, count] of Object.entries(anomalies.counts))
        this.deps.anomalies(anomalies.model, anomalies.version, kind as AnomalyKind, count);
    const envelope = result.envelope as E;
    let again: D | undefined;
    const decode = (runner: ModelRunner): DecodedInputs => {
      if (key === runner.spec.key && error) throw serviceError(error);
      if (key === runner.spec.key && inputs) return { ...inputs, locator: codec.locate(envelope, inputs, runner) };
      again ??= codec.parse(body, head, this.deps.maxDepth).data;
      return codec.decode(envelope, again, runner);
    };
    return this.request(codec, envelope, head, decode, result.variant);
  }
}
