import { ServiceError } from '../../errors.js';
import { dtypes } from '../tensors/dtypes.js';
import type { ModelRuntime } from '../serving/model-runtime.js';
import { InputCodec } from '../codec/input-codec.js';
import type { AnomalyKind } from '../monitoring/model-monitoring.js';
import { scanRepository, sha256File, type RepositoryModel } from './model-repository.js';
import { buildModelSpec, modelKey, type ModelSpec } from './model-spec.js';

/**
 * loading: being checked and warmed; ready: served; unsupported: loaded but /predict cannot
 * feed it (several inputs); failed: could not load, with the reason.
 */
export type ModelState = 'loading' | 'ready' | 'unsupported' | 'failed';

export interface ModelEntry {
  name: string;
  version: string;
  path: string;
  state: ModelState;
  reason?: string;
  spec?: ModelSpec;
  codec?: InputCodec;
}

export interface RegistryLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type RegistryPhase = 'starting' | 'loaded';

/** Every model version in the repository and its state; resolves a request's model and version. */
export class ModelRegistry {
  private readonly models = new Map<string, ModelEntry[]>();
  phase: RegistryPhase = 'starting';
  /** Set when the repository itself could not be read. */
  error?: string;

  constructor(
    private readonly runtime: ModelRuntime,
    private readonly log: RegistryLog,
    private readonly defaultValidation: 'strict' | 'permissive' = 'strict',
    private readonly anomalies?: (model: string, version: string, kind: AnomalyKind, count: number) => void,
  ) {}

  /** Loads, checks and warms every model; a model that fails is recorded, never thrown. */
  async load(dir: string): Promise<void> {
    let repository: RepositoryModel[] = [];
    try {
      repository = await scanRepository(dir);
      if (repository.length === 0) this.error = `no models found in ${dir}`;
    } catch (err) {
      this.error = `cannot read the model repository ${dir}: ${(err as Error).message}`;
    }
    if (this.error) this.log.error({ dir }, this.error);

    for (const model of repository) {
      const entries: ModelEntry[] = model.versions.map((v) => ({ name: model.name, version: v.version, path: v.path, state: 'loading' }));
      if (entries.length === 0) entries.push({ name: model.name, version: '0', path: '', state: 'failed', reason: 'no <version>/model.onnx found' });
      this.models.set(model.name, entries);
    }
    await Promise.all(repository.flatMap((model) => this.entries(model.name).map((entry) => this.inspect(model, entry))));

    const servable = this.all().filter((e) => e.state === 'loading');
    if (servable.length > 0) {
      this.runtime.start(servable.map((e) => ({ key: e.spec!.key, path: e.path })));
      await Promise.all(servable.map((e) => this.warmUp(e)));
    }
    this.phase = 'loaded';
  }

  private async inspect(model: RepositoryModel, entry: ModelEntry): Promise<void> {
    if (entry.state === 'failed') return this.fail(entry, entry.reason!);
    if (model.configError) return this.fail(entry, model.configError);
    try {
      const sha256 = await sha256File(entry.path);
      const expected = model.config.card?.versions[entry.version]?.sha256;
      if (expected && expected !== sha256) {
        return this.fail(entry, `sha256 mismatch: the file has ${sha256}, model.json expects ${expected}`);
      }
      const meta = await this.runtime.describe(entry.path).catch((err: Error) => {
        throw new Error(`cannot load the ONNX file: ${err.message.split('\n')[0]}`);
      });
      entry.spec = buildModelSpec({ name: entry.name, version: entry.version, path: entry.path, sha256 }, model.config, meta, this.defaultValidation);
      if (!('name' in entry.spec.input)) {
        entry.state = 'unsupported';
        entry.reason = entry.spec.input.unsupported;
        return;
      }
      const { name, version } = entry;
      entry.codec = new InputCodec(entry.spec, this.anomalies && ((kind, count) => this.anomalies!(name, version, kind, count)));
    } catch (err) {
      this.fail(entry, (err as Error).message);
    }
  }

  /** One inference on every worker with a zero row, so the first real request pays no lazy cost. */
  private async warmUp(entry: ModelEntry): Promise<void> {
    const spec = entry.spec!;
    if (!('name' in spec.input)) return;
    const { name, dtype } = spec.input;
    const dims = [1, ...spec.rowShape.map((d) => d ?? 1)];
    const size = dims.reduce((a, b) => a * b, 1);
    try {
      await Promise.all(
        Array.from({ length: this.runtime.workers }, () =>
          this.runtime.run({ key: spec.key, input: name, dtype, data: dtypes[dtype].create(size), dims, fetch: spec.fetch }),
        ),
      );
      entry.state = 'ready';
      this.log.info({ model: entry.name, version: entry.version, sha256: spec.sha256 }, 'model ready');
    } catch (err) {
      this.fail(entry, `warm-up inference failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  private fail(entry: ModelEntry, reason: string): void {
    entry.state = 'failed';
    entry.reason = reason;
    delete entry.codec;
    this.log.error({ model: entry.name, version: entry.version, reason }, 'model failed to load');
  }

  entries(name: string): ModelEntry[] {
    return this.models.get(name) ?? [];
  }

  all(): ModelEntry[] {
    return [...this.models.values()].flat();
  }

  /** True once loading finished with at least one model served (or, when required, all of them). */
  isReady(requireAll: boolean): boolean {
    if (this.phase !== 'loaded') return false;
    const all = this.all();
    const served = all.filter((e) => e.state === 'ready');
    return served.length > 0 && (!requireAll || all.every((e) => e.state !== 'failed'));
  }

  /** The requested version, or the highest ready one (the highest version when none is ready). */
  resolve(name: string, version?: string): ModelEntry {
    const entries = this.models.get(name);
    if (!entries) throw new ServiceError('MODEL_NOT_FOUND', `unknown model "${name}"`, [{ path: 'model', message: `models: ${[...this.models.keys()].join(', ')}` }]);
    const entry = version === undefined ? defaultVersion(entries) : entries.find((e) => e.version === String(Number(version)));
    if (!entry) {
      throw new ServiceError('VERSION_NOT_FOUND', `model "${name}" has no version ${version}`, [
        { path: 'version', message: `versions: ${entries.map((e) => e.version).join(', ')}` },
      ]);
    }
    if (entry.state === 'loading') throw new ServiceError('MODEL_NOT_READY', `model ${modelKey(name, entry.version)} is still loading`);
    if (entry.state === 'failed') throw new ServiceError('MODEL_FAILED', `model ${modelKey(name, entry.version)} failed to load: ${entry.reason}`);
    if (entry.state === 'unsupported') throw new ServiceError('UNSUPPORTED_MODEL', `model ${modelKey(name, entry.version)} cannot be served by /predict: ${entry.reason}`);
    return entry;
  }
}

function defaultVersion(entries: ModelEntry[]): ModelEntry {
  const ready = entries.filter((e) => e.state === 'ready');
  return (ready.length > 0 ? ready : entries).at(-1)!;
}
