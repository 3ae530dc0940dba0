import { Writable } from 'node:stream';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';

interface TensorInfo {
  name: string;
  dtype: string;
  shape: (number | string | null)[];
}

interface VersionInfo {
  version: string;
  file?: string;
  state: string;
  reason?: string;
  warmup?: string;
  task?: string;
  inputs?: TensorInfo[];
  outputs?: TensorInfo[];
  features?: { name: string; min?: number; max?: number }[];
  labels?: string[];
  batching?: { dim: string; max_batch_size: number } | null;
  predict?: string;
}

interface ModelInfo {
  name: string;
  description?: string;
  versions: VersionInfo[];
  skipped: { entry: string; reason: string }[];
}

/** What GET /models answers, and the verdict. */
export interface RepositoryReport {
  repository: string;
  ok: boolean;
  /** Why a version (or the repository) cannot be served. */
  errors: string[];
  /** Served all the same, but worth a look: skipped entries, a failed warm-up. */
  warnings: string[];
  models: ModelInfo[];
  skipped: { entry: string; reason: string }[];
}

/**
 * Loads a model repository exactly as the server does (the same app, one inference worker, no
 * listener, logs discarded), reads what GET /models would answer, and judges it: an error for
 * every version that is failed or unsupported, or a repository that cannot be read or is empty;
 * a warning for every skipped entry and failed warm-up (errors with `strict`).
 */
export async function checkRepository(dir: string, options: { strict?: boolean } = {}): Promise<RepositoryReport> {
  const config = loadConfig({
    ...process.env,
    MODEL_DIR: dir,
    INFERENCE_WORKERS: '1',
    JSON_DECODE_WORKERS: '0',
    LOG_LEVEL: 'warn',
    REDIS_URL: '',
  });
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const app = await buildApp(config, { logStream: discard });
  try {
    await app.modelsLoaded;
    const body = (await app.inject('/models')).json<{
      models: ModelInfo[];
      skipped: { entry: string; reason: string }[];
    }>();
    const errors: string[] = [];
    const warnings: string[] = [];
    if (app.router.error) errors.push(app.router.error);
    for (const model of body.models) {
      for (const v of model.versions) {
        if (v.state !== 'ready')
          errors.push(`${model.name}/${v.version}: ${v.state}: ${v.reason ?? 'no reason given'}`);
        if (v.warmup) warnings.push(`${model.name}/${v.version}: ${v.warmup}`);
      }
      for (const s of model.skipped) warnings.push(`${s.entry}: skipped: ${s.reason}`);
    }
    for (const s of body.skipped) warnings.push(`${s.entry}: skipped: ${s.reason}`);
    const ok = errors.length === 0 && (!options.strict || warnings.length === 0);
    return { repository: dir, ok, errors, warnings, models: body.models, skipped: body.skipped };
  } finally {
    await app.close();
  }
}

/** Features with their model.json ranges; long lists (64 pixels) shortened to their ends. */
function featureList(features: { name: string; min?: number; max?: number }[]): string {
  const one = (f: { name: string; min?: number; max?: number }) =>
    f.min !== undefined || f.max !== undefined ? `${f.name} [${f.min ?? ''}, ${f.max ?? ''}]` : f.name;
  if (features.length <= 12) return features.map(one).join(', ');
  return `${features.length}: ${features.slice(0, 3).map(one).join(', ')}, ..., ${one(features.at(-1)!)}`;
}

const shape = (t: TensorInfo) => `${t.name} ${t.dtype}[${t.shape.map((d) => d ?? '?').join(',')}]`;

/** The report as a person reads it. */
export function printReport(report: RepositoryReport, out: { write(text: string): unknown }): void {
  const lines: string[] = [`repository ${report.repository}`];
  for (const model of report.models) {
    lines.push('', `${model.name}${model.description ? `: ${model.description}` : ''}`);
    for (const v of model.versions) {
      lines.push(`  version ${v.version} (${v.file || 'no file'}): ${v.state}${v.reason ? ` - ${v.reason}` : ''}`);
      if (v.inputs) lines.push(`    inputs:  ${v.inputs.map(shape).join(', ')}`);
      if (v.outputs) lines.push(`    outputs: ${v.outputs.map(shape).join(', ')}`);
      if (v.task)
        lines.push(
          `    task: ${v.task}${v.labels ? ` (labels: ${v.labels.join(', ')})` : ''}${v.task === 'raw' ? ' (no model.json task: answers are the raw output tensors)' : ''}`,
        );
      if (v.features) lines.push(`    features: ${featureList(v.features)}`);
      if (v.batching !== undefined)
        lines.push(
          `    batching: ${v.batching ? `along ${v.batching.dim}, up to ${v.batching.max_batch_size} rows` : 'none (each request runs alone)'}`,
        );
      if (v.predict) lines.push(`    /predict: ${v.predict}`);
    }
  }
  if (report.warnings.length > 0) lines.push('', 'warnings:', ...report.warnings.map((w) => `  ${w}`));
  if (report.errors.length > 0) lines.push('', 'errors:', ...report.errors.map((e) => `  ${e}`));
  const versions = report.models.reduce((n, m) => n + m.versions.length, 0);
  lines.push(
    '',
    `${report.ok ? 'OK' : 'FAILED'}: ${report.models.length} models, ${versions} versions, ${report.errors.length} errors, ${report.warnings.length} warnings`,
    '',
  );
  out.write(lines.join('\n'));
}
