import { InputChecks } from '../codec/input-checks.js';
import { RowsCodec } from '../codec/rows-codec.js';
import type { ModelSpec } from '../models/model-spec.js';
import type { AnomalyKind } from '../codec/input-checks.js';
import { decideBatching, type BatchDecision, type BatchPlan } from '../models/batch-plan.js';
import { planImage, type ImagePlan } from '../preprocess/image-plan.js';
import { planText, type TextPlan } from '../preprocess/text-plan.js';
import type { TextTokenizer } from '../preprocess/raw-texts.js';

export interface BatchPolicy {
  /** Rows per inference (a request with 5 rows counts 5); a larger request runs in parts. */
  maxBatchRows: number;
  /** How long a batch may wait for more rows while a worker is free. */
  maxDelayMs: number;
  /** Rows waiting per model before new requests get 503 at once. */
  maxQueueRows: number;
}

/**
 * Everything a request needs about one model version, built once when it loads: the spec, the
 * compiled input checks, where its batch dim is, its batching and cache policy, and the codec for
 * JSON rows where one input takes them. A request only looks it up.
 */
export interface ModelRunner {
  spec: ModelSpec;
  /** undefined: nothing proves rows independent, so each request runs alone. */
  plan?: BatchPlan;
  /** How the plan (or its absence) was established, and why: what /models reports. */
  batching: BatchDecision;
  checks: InputChecks;
  /** The one input rows feed (batch dim first), with the codec of JSON rows; or why rows cannot feed the model. */
  rowInput: { input: string; codec: RowsCodec } | { refusal: string };
  policy: BatchPolicy;
  cache: { enabled: boolean; ttlSeconds?: number };
  /** Inputs that take encoded images (model.json `preprocess`), each with its plan. */
  images: Record<string, ImagePlan>;
  /** Texts (model.json `preprocess`) by the name clients send them under, each with the token inputs it fills. */
  texts: Record<string, TextPlan>;
  /** The texts' tokenizers, loaded with the version (model-registry.ts); not on decode workers. */
  tokenizers?: Record<string, TextTokenizer>;
}

/**
 * What decoding a request needs of a model version: a ModelRunner on the main thread, or its like
 * on a decode worker (decodeView()), so a protocol's decoder runs the same code on either.
 */
export type DecodeView = Pick<ModelRunner, 'spec' | 'plan' | 'rowInput' | 'images' | 'texts'> & {
  policy: Pick<BatchPolicy, 'maxQueueRows'>;
};

/** A model version's DecodeView built from plain data, as a decode worker receives it. */
export function decodeView(
  spec: ModelSpec,
  plan: BatchPlan | undefined,
  maxQueueRows: number,
  onAnomaly?: (kind: AnomalyKind, count: number) => void,
): DecodeView {
  return {
    spec,
    plan,
    rowInput: rowInputOf(spec, plan, onAnomaly),
    ...preprocessPlans(spec),
    policy: { maxQueueRows },
  };
}

/**
 * A version's runner. `batching` defaults to what the file and model.json tell (decideBatching);
 * the registry builds it again with the probe's verdict where that was unproven.
 */
export function buildRunner(
  spec: ModelSpec,
  defaults: BatchPolicy,
  onAnomaly?: (kind: AnomalyKind, count: number) => void,
  batching: BatchDecision = decideBatching(spec.inputs, spec.outputs, spec.config.batching),
): ModelRunner {
  const options = spec.config.batching;
  const plan = batching.plan;
  return {
    spec,
    plan,
    batching,
    checks: new InputChecks(spec, plan, onAnomaly),
    rowInput: rowInputOf(spec, plan, onAnomaly),
    policy: {
      maxBatchRows: plan?.fixedOne ? 1 : (options?.max_batch_size ?? defaults.maxBatchRows),
      maxDelayMs: options?.max_queue_delay_ms ?? defaults.maxDelayMs,
      maxQueueRows: options?.max_queue_size ?? defaults.maxQueueRows,
    },
    cache: { enabled: spec.config.cache?.enabled !== false, ttlSeconds: spec.config.cache?.ttl_seconds },
    ...preprocessPlans(spec),
  };
}

/** model.json `preprocess` checked against the model; throws when an entry names no input or does not fit. */
function preprocessPlans(spec: ModelSpec): Pick<ModelRunner, 'images' | 'texts'> {
  const images: Record<string, ImagePlan> = {};
  const texts: Record<string, TextPlan> = {};
  for (const [name, entry] of Object.entries(spec.config.preprocess ?? {})) {
    if ('text' in entry) {
      texts[name] = planText(name, spec.inputs, entry.text);
      continue;
    }
    const input = spec.inputs.find((i) => i.name === name);
    if (!input)
      throw new Error(
        `model.json preprocess names input "${name}"; the model's inputs are ${spec.inputs.map((i) => i.name).join(', ')}`,
      );
    images[name] = planImage(input, entry.image);
  }
  return { images, texts };
}

/** Rows stack into a model's only input along its first dim, and each output's first dim is the row again. */
function rowInputOf(
  spec: ModelSpec,
  plan: BatchPlan | undefined,
  onAnomaly?: (kind: AnomalyKind, count: number) => void,
): ModelRunner['rowInput'] {
  if (spec.inputs.length !== 1)
    return { refusal: `the model has ${spec.inputs.length} inputs (${spec.inputs.map((i) => i.name).join(', ')})` };
  const input = spec.inputs[0]!;
  if (input.dtype === 'string') return { refusal: `input "${input.name}" holds strings` };
  if (plan?.inputs[input.name] !== 0 || !Object.values(plan.outputs).every((axis) => axis === 0)) {
    return { refusal: `input "${input.name}" has no batch dim first that its outputs share` };
  }
  return { input: input.name, codec: new RowsCodec(input, spec.config.features, onAnomaly) };
}
