import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { modelConfigSchema, type ModelConfig } from './model-config.js';

/**
 * Triton's layout, which users already know:
 *   <dir>/<name>/model.json          optional
 *   <dir>/<name>/<version>/model.onnx numeric versions, the highest is the default
 */
export interface RepositoryModel {
  name: string;
  config: ModelConfig;
  /** Why model.json could not be used; every version of the model then fails with it. */
  configError?: string;
  versions: { version: string; path: string }[];
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export async function scanRepository(dir: string): Promise<RepositoryModel[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const models: RepositoryModel[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || !MODEL_NAME.test(entry.name)) continue;
    const modelDir = join(dir, entry.name);
    const { config, error } = await readModelConfig(join(modelDir, 'model.json'));
    models.push({ name: entry.name, config, configError: error, versions: await findVersions(modelDir) });
  }
  return models;
}

async function readModelConfig(file: string): Promise<{ config: ModelConfig; error?: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { config: modelConfigSchema.parse({}) }; // no model.json: everything comes from the ONNX file
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { config: modelConfigSchema.parse({}), error: `model.json is not valid JSON: ${(err as Error).message}` };
  }
  const parsed = modelConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { config: modelConfigSchema.parse({}), error: `model.json is invalid: ${issues}` };
  }
  return { config: parsed.data };
}

async function findVersions(modelDir: string): Promise<{ version: string; path: string }[]> {
  const entries = await readdir(modelDir, { withFileTypes: true });
  const versions: { version: string; path: string }[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !/^\d{1,9}$/.test(entry.name)) continue;
    const path = join(modelDir, entry.name, 'model.onnx');
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile()) versions.push({ version: String(Number(entry.name)), path });
  }
  return versions.sort((a, b) => Number(a.version) - Number(b.version));
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
