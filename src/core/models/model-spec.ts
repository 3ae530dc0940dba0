import { isSupportedDType, type DType } from '../tensors/dtypes.js';
import type { FeatureConfig, ModelConfig } from './model-config.js';

/** What the ONNX file says about one input or output. */
export interface TensorInfo {
  name: string;
  /** onnxruntime's element type name: float32, int64, ... ; 'non-tensor' for maps and sequences. */
  dtype: string;
  /** Fixed sizes as numbers; symbolic or unknown dimensions as null. */
  shape: (number | null)[];
}

export interface OnnxMetadata {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

export type Task = 'classification' | 'regression' | 'raw';

/** Everything needed to validate, run and decode one model version; built once at load time. */
export interface ModelSpec {
  name: string;
  version: string;
  key: string;
  path: string;
  sha256: string;
  task: Task;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** The single input fed by /predict, or why the model cannot be fed by it. */
  input: { name: string; dtype: DType } | { unsupported: string };
  /** Dims of one row (the input's shape without the batch dim); null where the model leaves it open. */
  rowShape: (number | null)[];
  /** Elements per row when rowShape is fully known. */
  rowSize: number | null;
  /** The ONNX file fixes the batch dim at 1: rows must be run one at a time. */
  singleRowBatch: boolean;
  features?: FeatureConfig[];
  labels?: string[];
  /** Outputs fetched from the session: the answer's output for classifiers/regressors, every tensor output for raw models. */
  fetch: string[];
  outputKind: 'probabilities' | 'logits' | 'values';
  validation: 'strict' | 'permissive';
  config: ModelConfig;
}

export function modelKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/** Combines model.json with the ONNX file's own metadata; throws with a reason when they disagree. */
export function buildModelSpec(
  base: { name: string; version: string; path: string; sha256: string },
  config: ModelConfig,
  meta: OnnxMetadata,
  defaultValidation: 'strict' | 'permissive',
): ModelSpec {
  const tensorOutputs = meta.outputs.filter((o) => o.dtype !== 'non-tensor');
  if (tensorOutputs.length === 0) throw new Error('the model has no tensor outputs');

  const input = pickInput(config, meta.inputs);
  const batched = 'name' in input ? meta.inputs.find((i) => i.name === input.name)?.shape ?? [] : [];
  const rowShape = batched.slice(1);
  const rowSize = rowShape.every((d): d is number => d !== null) ? rowShape.reduce((a, b) => a * b, 1) : null;

  if (config.features && rowSize !== null && config.features.length !== rowSize) {
    throw new Error(`model.json lists ${config.features.length} features but the input row holds ${rowSize} values`);
  }
  if (config.features && rowSize === null && 'name' in input) {
    throw new Error('named features need an input whose row shape is fixed');
  }

  const task: Task = config.task ?? (config.labels ? 'classification' : 'raw');
  let fetch = tensorOutputs.map((o) => o.name);
  if (task !== 'raw') {
    const outputName = config.output ?? tensorOutputs[0]!.name;
    const output = tensorOutputs.find((o) => o.name === outputName);
    if (!output) throw new Error(`model.json names output "${outputName}", the model has ${fetch.join(', ')}`);
    const width = output.shape.slice(1).reduce<number | null>((a, d) => (a === null || d === null ? null : a * d), 1);
    if (task === 'classification' && width !== null && width !== config.labels!.length) {
      throw new Error(`output "${outputName}" has ${width} values per row but model.json lists ${config.labels!.length} labels`);
    }
    fetch = [outputName];
  }

  return {
    ...base,
    key: modelKey(base.name, base.version),
    task,
    inputs: meta.inputs,
    outputs: meta.outputs,
    input,
    rowShape,
    rowSize,
    singleRowBatch: batched[0] === 1,
    features: config.features,
    labels: config.labels,
    fetch,
    outputKind: config.output_kind ?? (task === 'classification' ? 'probabilities' : 'values'),
    validation: config.validation ?? defaultValidation,
    config,
  };
}

function pickInput(config: ModelConfig, inputs: TensorInfo[]): ModelSpec['input'] {
  if (inputs.length !== 1) {
    return { unsupported: `the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); /predict feeds single-input models` };
  }
  const only = inputs[0]!;
  if (config.input && config.input !== only.name) throw new Error(`model.json names input "${config.input}", the model has "${only.name}"`);
  if (!isSupportedDType(only.dtype)) return { unsupported: `input "${only.name}" has element type ${only.dtype}, which JSON cannot feed` };
  if (only.shape.length === 0) return { unsupported: `input "${only.name}" has no batch dimension` };
  const batch = only.shape[0];
  if (batch !== null && batch !== 1) return { unsupported: `input "${only.name}" has a fixed batch of ${batch} rows` };
  return { name: only.name, dtype: only.dtype };
}
