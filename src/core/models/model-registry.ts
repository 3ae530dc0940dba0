import { ServiceError } from '../../errors.js';
import type { AnomalyKind } from '../monitoring/model-monitoring.js';
import type { BatchPolicy } from '../serving/batcher.js';
import { buildRunner, type ModelRunner } from '../serving/model-runner.js';
import type { ModelRuntime } from '../serving/model-runtime.js';
import { emptyTensor } from '../tensors/tensor.js';
import { scanRepository, sha256File, type Repository, type RepositoryModel, type SkippedEntry } from './model-repository.js';
import { PathRedactor } from './repository-root.js';
import { buildModelSpec, modelKey, UnsupportedModel } from './model-spec.js';

/**
 * loading: being checked and warmed; ready: served; unsupported: loaded, but an input is not a
 * tensor the service can feed; failed: could not load, with the reason.
 */
export type ModelState = 'loading' | 'ready' | 'unsupported' | 'failed';

export interface ModelEntry {
  name: string;
  version: string;
  /** The file relative to the repository (`iris/1/model.onnx`), as answers name it; '' when there is none. */
  file: string;
  /** Its absolute path, symlinks resolved: what is loaded. Logged, never answered. */
  path: string;
  state: ModelState;
  reason?: string;
  /** Why the warm-up inference on zeros failed, when it did; the model is served all the same. */
  warmup?: string;
  runner?: ModelRunner;
}

export interface RegistryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RegistryOptions {
  defaultValidation: 'strict' | 'permissive';
  /** Batching defaults; model.json `batching` overrides them per model. */
  batching: BatchPolicy;
  anomalies?: (model: string, version: string, kind: AnomalyKind, count: number) => void;
}

export type RegistryPhase = 'starting' | 'loaded';

/** Every model version in the repository and its state; resolves a request's model and version. */
export class ModelRegistry {
  private readonly models = new Map<string, ModelEntry[]>();
  phase: RegistryPhase = 'starting';
  /** Set when the repository itself could not be read. */
  error?: string;
  /** Top-level entries of the repository that are not models, and why. */
  skipped: SkippedEntry[] = [];
  private readonly skippedIn = new Map<string, SkippedEntry[]>();
  private redactor: { redact(text: string): string } = new PathRedactor([]);

  constructor(
    private readonly runtime: ModelRuntime,
    private readonly log: RegistryLog,
    private readonly options: RegistryOptions,
  ) {}

  /** Loads, checks and warms every model; a model that fails is recorded, never thrown. */
  async load(dir: string): Promise<void> {
    // Answers name files relative to the repository; the log has the absolute paths.
    this.redactor = new PathRedactor([dir]);
    let repository: Repository | undefined;
    let failure: unknown;
    try {
      repository = await scanRepository(dir, this.log);
      this.redactor = repository.root;
      if (repository.models.length === 0) this.error = 'no models found in MODEL_DIR';
    } catch (err) {
      failure = err;
      this.error = `cannot read the model repository (MODEL_DIR): ${(err as NodeJS.ErrnoException).code ?? this.redact((err as Error).message)}`;
    }
    if (this.error) this.log.error({ dir, err: failure }, this.error);
    const models = repository?.models ?? [];
    this.skipped = repository?.skipped ?? [];

    for (const model of models) {
      this.skippedIn.set(model.name, model.skipped);
      const entries: ModelEntry[] = model.versions.map((v) => ({
        name: model.name,
        version: v.version,
        file: v.file,
        path: v.path,
        ...(v.refused ? { state: 'failed' as const, reason: v.refused } : { state: 'loading' as const }),
      }));
      if (entries.length === 0) entries.push({ name: model.name, version: '0', file: '', path: '', state: 'failed', reason: model.error ?? noVersion(model) });
      this.models.set(model.name, entries);
    }
    await Promise.all(models.flatMap((model) => this.entries(model.name).map((entry) => this.inspect(model, entry))));

    const servable = this.all().filter((e) => e.state === 'loading');
    if (servable.length > 0) {
      this.runtime.start(servable.map((e) => ({ key: e.runner!.spec.key, path: e.path })));
      await Promise.all(servable.map((e) => this.warmUp(e)));
    }
    this.phase = 'loaded';
  }

  private async inspect(model: RepositoryModel, entry: ModelEntry): Promise<void> {
    if (entry.state === 'failed') return this.fail(entry, entry.reason!);
    if (model.error) return this.fail(entry, model.error);
    try {
      const sha256 = await sha256File(entry.path);
      const expected = model.config.card?.versions[entry.version]?.sha256;
      if (expected && expected !== sha256) {
        return this.fail(entry, `sha256 mismatch: the file has ${sha256}, model.json expects ${expected}`);
      }
      const meta = await this.runtime.describe(entry.path).catch((err: Error) => {
        throw new Error(`cannot load the ONNX file: ${this.redact(err.message.split('\n')[0]!)}`);
      });
      const spec = buildModelSpec({ name: entry.name, version: entry.version, path: entry.path, sha256 }, model.config, meta, this.options.defaultValidation);
      const { name, version } = entry;
      const anomalies = this.options.anomalies;
      entry.runner = buildRunner(spec, this.options.batching, anomalies && ((kind, count) => anomalies(name, version, kind, count)));
    } catch (err) {
      if (err instanceof UnsupportedModel) {
        entry.state = 'unsupported';
        entry.reason = err.message;
        return;
      }
      this.fail(entry, this.redact((err as Error).message));
    }
  }

  /**
   * One inference on every worker with zeros (symbolic dims at 1), so the first real request pays
   * no lazy cost. Some models refuse zeros (a sample rate must be 8000 or 16000): that is
   * reported, and the model is served all the same, since its sessions did load.
   */
  private async warmUp(entry: ModelEntry): Promise<void> {
    const { spec } = entry.runner!;
    try {
      await Promise.all(
        Array.from({ length: this.runtime.workers }, () => {
          const inputs = Object.fromEntries(spec.inputs.map((i) => [i.name, emptyTensor(i.dtype, i.shape.map((d) => (typeof d === 'number' ? d : 1)))]));
          return this.runtime.run({ key: spec.key, inputs, fetch: spec.outputs.map((o) => o.name), rows: 1 });
        }),
      );
    } catch (err) {
      entry.warmup = `warm-up inference on zeros failed: ${this.redact((err as Error).message.split('\n')[0]!)}`;
      this.log.warn({ model: entry.name, version: entry.version, reason: entry.warmup, err }, 'model warm-up failed; serving it anyway');
    }
    entry.state = 'ready';
    this.log.info({ model: entry.name, version: entry.version, sha256: spec.sha256, path: entry.path }, 'model ready');
  }

  private fail(entry: ModelEntry, reason: string): void {
    entry.state = 'failed';
    entry.reason = reason;
    delete entry.runner;
    this.log.error({ model: entry.name, version: entry.version, reason, path: entry.path || undefined }, 'model failed to load');
  }

  /** Text for an answer: the repository's absolute paths replaced by relative ones (onnxruntime's messages name the file). */
  redact(text: string): string {
    return this.redactor.redact(text);
  }

  entries(name: string): ModelEntry[] {
    return this.models.get(name) ?? [];
  }

  /** Entries of a model's folder that are not served (`iris/01`, `iris/v2`), and why. */
  skippedEntries(name: string): SkippedEntry[] {
    return this.skippedIn.get(name) ?? [];
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

  /**
   * The requested version, or the highest ready one (the highest version when none is ready).
   * The one place "not ready while loading" is decided: every protocol resolves through here.
   */
  resolve(name: string, version?: string): ModelEntry {
    const entries = this.models.get(name);
    if (!entries) {
      if (this.phase !== 'loaded') throw new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200');
      throw new ServiceError('MODEL_NOT_FOUND', `unknown model "${name}"`, [{ path: 'model', message: `models: ${[...this.models.keys()].join(', ')}` }]);
    }
    const entry = version === undefined ? defaultVersion(entries) : entries.find((e) => e.version === String(Number(version)));
    if (!entry) {
      throw new ServiceError('VERSION_NOT_FOUND', `model "${name}" has no version ${version}`, [
        { path: 'version', message: `versions: ${entries.map((e) => e.version).join(', ')}` },
      ]);
    }
    if (entry.state === 'loading') throw new ServiceError('MODEL_NOT_READY', `model ${modelKey(name, entry.version)} is still loading`);
    if (entry.state === 'failed') throw new ServiceError('MODEL_FAILED', `model ${modelKey(name, entry.version)} failed to load: ${entry.reason}`);
    if (entry.state === 'unsupported') throw new ServiceError('UNSUPPORTED_MODEL', `model ${modelKey(name, entry.version)} cannot be served: ${entry.reason}`);
    return entry;
  }
}

function noVersion(model: RepositoryModel): string {
  const skipped = model.skipped.map((s) => s.entry);
  return `no <version>/model.onnx found${skipped.length > 0 ? ` (skipped: ${skipped.join(', ')})` : ''}`;
}

function defaultVersion(entries: ModelEntry[]): ModelEntry {
  const ready = entries.filter((e) => e.state === 'ready');
  return (ready.length > 0 ? ready : entries).at(-1)!;
}
