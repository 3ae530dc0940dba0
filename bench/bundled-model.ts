import { readFileSync } from 'node:fs';
import type { RowsCodec } from '../src/core/codec/rows-codec.js';
import { modelConfigSchema } from '../src/core/models/model-config.js';
import { buildModelSpec, type ModelSpec } from '../src/core/models/model-spec.js';
import { buildRunner, type ModelRunner } from '../src/core/serving/model-runner.js';
import { describeOnnx } from '../src/runtime/onnx-describe.js';

export const MODELS = new URL('../models/', import.meta.url).pathname;

/**
 * A bundled model's spec, runner and rows codec, built as the registry builds them (model.json +
 * the ONNX file's metadata).
 */
export async function bundledModel(
  name: string,
): Promise<{ spec: ModelSpec; runner: ModelRunner; codec: RowsCodec; path: string }> {
  const path = `${MODELS}${name}/1/model.onnx`;
  const config = modelConfigSchema.parse(JSON.parse(readFileSync(`${MODELS}${name}/model.json`, 'utf8')));
  const spec = buildModelSpec(
    { name, version: '1', path, sha256: 'unchecked' },
    config,
    await describeOnnx(path),
    'strict',
  );
  const runner = buildRunner(spec, { maxBatchRows: 64, maxDelayMs: 0, maxQueueRows: 4096 }, () => {});
  if ('refusal' in runner.rowInput) throw new Error(`${name}: ${runner.rowInput.refusal}`);
  return { spec, runner, codec: runner.rowInput.codec, path };
}

/** The first row of a bundled model's holdout set. */
export function holdoutRow(name: string): number[] {
  return holdoutRows(name)[0]!;
}

/** Every row of a bundled model's holdout set. */
export function holdoutRows(name: string): number[][] {
  return (JSON.parse(readFileSync(`${MODELS}${name}/holdout.json`, 'utf8')) as { rows: number[][] }).rows;
}
