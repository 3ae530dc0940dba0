import type { ModelRunner } from '../../core/serving/model-runner.js';
import { packageInfo as pkg } from '../../package-info.js';
import { metadataShape, OIP_DATATYPE } from './datatypes.js';
import { fedInputs, type TextPlan } from '../../core/preprocess/text-plan.js';

/**
 * The extensions this server implements, as GET /v2 lists them; the model repository one only with
 * the control API on (ADMIN_TOKEN).
 */
export const EXTENSIONS = ['binary_tensor_data', 'classification', 'model_repository'];

export function serverMetadata(controlApi = false) {
  return {
    name: pkg.name,
    version: pkg.version,
    extensions: controlApi ? EXTENSIONS : EXTENSIONS.filter((e) => e !== 'model_repository'),
  };
}

/**
 * A model version's metadata: every version of the model, the platform, and each tensor's datatype
 * and shape (-1 where it varies).
 */
export function modelMetadata(runner: ModelRunner, versions: string[]) {
  const { spec } = runner;
  const tensor = (t: (typeof spec.inputs)[number]) => ({
    name: t.name,
    datatype: OIP_DATATYPE[t.dtype],
    shape: metadataShape(t.shape),
  });
  // An input that takes images shows as BYTES [-1], and the tensor its images become.
  const input = (t: (typeof spec.inputs)[number]) =>
    runner.images[t.name]
      ? {
          name: t.name,
          datatype: OIP_DATATYPE.string,
          shape: [-1],
          parameters: {
            preprocess: 'image' as const,
            tensor: { datatype: OIP_DATATYPE[t.dtype], shape: metadataShape(t.shape) },
          },
        }
      : tensor(t);
  // A text shows as BYTES [-1] in place of the token tensors it fills (still accepted as tensors).
  const texts = Object.values(runner.texts);
  const fed = new Set(texts.flatMap(fedInputs));
  const text = (plan: TextPlan) => ({
    name: plan.name,
    datatype: OIP_DATATYPE.string,
    shape: [-1],
    parameters: {
      preprocess: 'text' as const,
      tensors: Object.fromEntries(
        spec.inputs
          .filter((t) => fedInputs(plan).includes(t.name))
          .map((t) => [t.name, { datatype: OIP_DATATYPE[t.dtype], shape: metadataShape(t.shape) }]),
      ),
    },
  });
  return {
    name: spec.name,
    versions,
    platform: 'onnxruntime_onnx' as const,
    inputs: [...texts.map(text), ...spec.inputs.filter((t) => !fed.has(t.name)).map(input)],
    outputs: spec.outputs.map(tensor),
  };
}
