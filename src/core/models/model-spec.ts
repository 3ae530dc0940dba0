import { isDType, type DType } from '../tensors/dtypes.js';
import type { FeatureConfig, ModelConfig } from './model-config.js';

/** One dim of a tensor as the ONNX file declares it: a fixed size, a symbolic name, or unknown. */
export type Dim = number | string | null;

/** A model shape as messages write it: [batch,3,?]. */
export function shapeText(shape: readonly Dim[]): string {
  return `[${shape.map((d) => d ?? '?').join(',')}]`;
}

/** What the ONNX file says about one input or output. */
export interface TensorInfo {
  name: string;
  /** onnxruntime's element type name: float32, int64, string, ...; 'non-tensor' for maps and sequences. */
  dtype: string;
  shape: Dim[];
}

export interface OnnxMetadata {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

/** An input or output the service can feed or read: a tensor of a known element type. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export type Task = 'classification' | 'regression' | 'raw';

/** Everything known about one model version before anything runs; built once at load time. */
export interface ModelSpec {
  name: string;
  version: string;
  key: string;
  path: string;
  sha256: string;
  task: Task;
  inputs: TensorSpec[];
  /** Tensor outputs only: maps and sequences are never fetched. */
  outputs: TensorSpec[];
  /** The input model.json's features describe (one value per feature along its last axis). */
  featureInput?: string;
  features?: FeatureConfig[];
  labels?: string[];
  /** The output decoded into labels or values for classification and regression. */
  taskOutput?: string;
  outputKind: 'probabilities' | 'logits' | 'values';
  validation: 'strict' | 'permissive';
  config: ModelConfig;
}

export function modelKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/** Thrown when the model can be loaded but not fed: an input that is not a tensor of a known type. */
export class UnsupportedModel extends Error {}

/** Combines model.json with the ONNX file's own metadata; throws with a reason when they disagree. */
export function buildModelSpec(
  base: { name: string; version: string; path: string; sha256: string },
  config: ModelConfig,
  meta: OnnxMetadata,
  defaultValidation: 'strict' | 'permissive',
): ModelSpec {
  const outputs = meta.outputs.filter((o): o is TensorSpec => isDType(o.dtype));
  if (outputs.length === 0) throw new Error('the model has no tensor outputs');
  const inputs = meta.inputs.map((input): TensorSpec => {
    if (!isDType(input.dtype))
      throw new UnsupportedModel(
        `input "${input.name}" is ${input.dtype === 'non-tensor' ? 'not a tensor' : `of element type ${input.dtype}`}, which the service cannot feed`,
      );
    return { name: input.name, dtype: input.dtype, shape: input.shape };
  });
  if (config.input && !inputs.some((i) => i.name === config.input)) {
    throw new Error(`model.json names input "${config.input}", the model has ${names(inputs)}`);
  }
  const featureInput = config.features ? featureInputOf(config, inputs) : undefined;

  const task: Task = config.task ?? (config.labels ? 'classification' : 'raw');
  let taskOutput: string | undefined;
  if (task !== 'raw') {
    taskOutput = config.output ?? outputs[0]!.name;
    const output = outputs.find((o) => o.name === taskOutput);
    if (!output) throw new Error(`model.json names output "${taskOutput}", the model has ${names(outputs)}`);
    const width = output.shape
      .slice(1)
      .reduce<number | null>((a, d) => (a === null || typeof d !== 'number' ? null : a * d), 1);
    if (task === 'classification' && width !== null && width !== config.labels!.length) {
      throw new Error(
        `output "${taskOutput}" has ${width} values per row but model.json lists ${config.labels!.length} labels`,
      );
    }
  }

  return {
    ...base,
    key: modelKey(base.name, base.version),
    task,
    inputs,
    outputs,
    featureInput,
    features: config.features,
    labels: config.labels,
    taskOutput,
    outputKind: config.output_kind ?? (task === 'classification' ? 'probabilities' : 'values'),
    validation: config.validation ?? defaultValidation,
    config,
  };
}

/** Named features describe one input whose rows (everything after the batch dim) are fixed in size. */
function featureInputOf(config: ModelConfig, inputs: TensorSpec[]): string {
  const name = config.input ?? (inputs.length === 1 ? inputs[0]!.name : undefined);
  if (!name)
    throw new Error(
      `model.json lists features but not the input they describe ("input"); the model has ${names(inputs)}`,
    );
  const input = inputs.find((i) => i.name === name)!;
  const row = input.shape.slice(1);
  if (input.shape.length === 0 || !row.every((d): d is number => typeof d === 'number')) {
    throw new Error('named features need an input whose row shape is fixed');
  }
  const size = row.reduce((a, b) => a * b, 1);
  if (size !== config.features!.length)
    throw new Error(`model.json lists ${config.features!.length} features but the input row holds ${size} values`);
  return name;
}

function names(tensors: { name: string }[]): string {
  return tensors.map((t) => `"${t.name}"`).join(', ');
}
