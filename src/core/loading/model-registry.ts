import type { AnomalyKind } from '../codec/input-checks.js';
import type { BatchPolicy } from '../serving/model-runner.js';
import { buildRunner, type ModelRunner } from '../serving/model-runner.js';
import type { ModelRuntime } from '../serving/model-runtime.js';
import { emptyTensor } from '../tensors/tensor.js';
import { FileIdentity } from './file-identity.js';
import { newEntry, placeholder, type ModelEntry } from '../models/model-entry.js';
import { ModelRouter } from '../models/model-router.js';
import {
  scanRepository,
  type Repository,
  type RepositoryModel,
  type RepositoryVersion,
  type SkippedEntry,
} from '../models/model-repository.js';
import { RepositoryRescan, type RescanResult } from './repository-rescan.js';
import { PathRedactor } from '../models/repository-root.js';
import { buildModelSpec, modelKey, UnsupportedModel, type ModelSpec } from '../models/model-spec.js';
import type { BatchDecision } from '../models/batch-plan.js';
import { probeBatching, type ProbeRun } from './batch-probe.js';
import type { TextTokenizer, TokenizerLoader } from '../preprocess/raw-texts.js';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** The first of the paths that is a file. */
async function firstFile(paths: string[]): Promise<string | undefined> {
  for (const path of paths) if ((await stat(path).catch(() => undefined))?.isFile()) return path;
  return undefined;
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
  /**
   * Resolves once no request is queued or running on the runner (the data plane knows); a replaced or
   * removed version is unloaded after it.
   */
  drained?: (runner: ModelRunner) => Promise<void>;
  /** Loads the tokenizer.json of each text model.json preprocesses; none: such versions fail. */
  tokenizers?: TokenizerLoader;
}

/** A model version as loaded here: what serves it is a ModelRunner. */
export type LoadedEntry = ModelEntry<ModelRunner>;

/**
 * Loads the model repository into the router: scans it, checks and builds each version's runner,
 * loads it on the runtime and warms it; rescans it (repository-rescan.ts) and unloads what went.
 * Routing a request is the router's (core/models/model-router.ts).
 */
export class ModelRegistry {
  readonly router = new ModelRouter<ModelRunner>();
  /** Top-level entries of the repository that are not models, and why. */
  skipped: SkippedEntry[] = [];
  private readonly skippedIn = new Map<string, SkippedEntry[]>();
  private redactor: { redact(text: string): string } = new PathRedactor([]);
  private dir?: string;
  private readonly identities = new FileIdentity();
  /**
   * Runtime keys handed out: a version loaded again (a changed file) gets a new one, so its old
   * session and queue never mix with the new.
   */
  private readonly keys = new Set<string>();
  private readonly rescanner = new RepositoryRescan(this);
  /** Repository entries already warned about: a poll every few seconds must not repeat them. */
  private readonly warned = new Set<string>();
  private readonly scanLog = {
    warn: (obj: object, msg: string) => {
      const key = JSON.stringify([msg, obj]);
      if (this.warned.has(key)) return;
      this.warned.add(key);
      this.log.warn(obj, msg);
    },
  };

  constructor(
    private readonly runtime: ModelRuntime,
    readonly log: RegistryLog,
    private readonly options: RegistryOptions,
  ) {}

  /** Loads, checks and warms every model; a model that fails is recorded, never thrown. */
  async load(dir: string): Promise<void> {
    // Answers name files relative to the repository; the log has the absolute paths.
    this.dir = dir;
    this.redactor = new PathRedactor([dir]);
    let repository: Repository | undefined;
    let failure: unknown;
    try {
      repository = await scanRepository(dir, this.scanLog);
      this.redactor = repository.root;
      if (repository.models.length === 0) this.router.error = 'no models found in MODEL_DIR';
    } catch (err) {
      failure = err;
      this.router.error = `cannot read the model repository (MODEL_DIR): ${(err as NodeJS.ErrnoException).code ?? this.redact((err as Error).message)}`;
    }
    if (this.router.error) this.log.error({ dir, err: failure }, this.router.error);
    const models = repository?.models ?? [];
    this.skipped = repository?.skipped ?? [];

    this.router.traffic.apply(models);
    for (const model of models) {
      this.skippedIn.set(model.name, model.skipped);
      const entries = model.versions.map((v) => newEntry<ModelRunner>(model, v));
      if (entries.length === 0) entries.push(placeholder(model));
      this.router.set(model.name, entries);
    }
    await Promise.all(
      models.flatMap((model) =>
        this.router.entries(model.name).map((entry) =>
          this.inspect(
            model,
            entry,
            model.versions.find((v) => v.version === entry.version),
          ),
        ),
      ),
    );

    const servable = this.router.all().filter((e) => e.state === 'loading');
    if (servable.length > 0) {
      this.runtime.start(servable.map((e) => ({ key: e.runner!.spec.key, path: e.path })));
      await Promise.all(servable.map((e) => this.warmUp(e)));
    }
    this.router.phase = 'loaded';
  }

  private async inspect(model: RepositoryModel, entry: LoadedEntry, version?: RepositoryVersion): Promise<void> {
    const identity = version && (await this.identities.of(model, version));
    entry.identity = identity?.identity;
    if (entry.state === 'failed') return this.fail(entry, entry.reason!);
    if (model.error) return this.fail(entry, model.error);
    if (!identity?.sha256) return this.fail(entry, identity?.unreadable ?? `${entry.file} cannot be read`);
    try {
      const { sha256 } = identity;
      const expected = model.config.card?.versions[entry.version]?.sha256;
      if (expected && expected !== sha256) {
        return this.fail(entry, `sha256 mismatch: the file has ${sha256}, model.json expects ${expected}`);
      }
      const meta = await this.runtime.describe(entry.path).catch((err: Error) => {
        throw new Error(`cannot load the ONNX file: ${this.redact(err.message.split('\n')[0]!)}`);
      });
      const spec = {
        ...buildModelSpec(
          { name: entry.name, version: entry.version, path: entry.path, sha256 },
          model.config,
          meta,
          this.options.defaultValidation,
        ),
        key: this.newKey(entry),
      };
      const runner = this.runnerFor(entry, spec);
      runner.tokenizers = await this.loadTokenizers(runner, model.name);
      entry.runner = runner;
    } catch (err) {
      if (err instanceof UnsupportedModel) {
        entry.state = 'unsupported';
        entry.reason = err.message;
        return;
      }
      this.fail(entry, this.redact((err as Error).message));
    }
  }

  private runnerFor(entry: LoadedEntry, spec: ModelSpec, batching?: BatchDecision): ModelRunner {
    const { name, version } = entry;
    const anomalies = this.options.anomalies;
    return buildRunner(
      spec,
      this.options.batching,
      anomalies && ((kind, count) => anomalies(name, version, kind, count)),
      batching,
    );
  }

  /**
   * The tokenizer of each text the version preprocesses: its file in the version's folder, else beside
   * model.json. A missing or unreadable one fails the version, with why.
   */
  private async loadTokenizers(runner: ModelRunner, model: string): Promise<ModelRunner['tokenizers']> {
    const plans = Object.values(runner.texts);
    if (plans.length === 0) return undefined;
    const loader = this.options.tokenizers;
    if (!loader) throw new Error('text preprocessing is not available in this process');
    const loaded: Record<string, TextTokenizer> = {};
    for (const plan of plans) {
      const places = [join(dirname(runner.spec.path), plan.tokenizer), join(this.dir!, model, plan.tokenizer)];
      const found = await firstFile(places);
      if (!found)
        throw new Error(
          `model.json preprocess.${plan.name}.text: no ${plan.tokenizer} in the version's folder or beside model.json`,
        );
      loaded[plan.name] = await loader.load(found, plan);
    }
    return loaded;
  }

  /**
   * Where the file leaves the batch dim unproven (axis 0 under different names, or batching.axes),
   * runs the probe (batch-probe.ts) and rebuilds the runner on its verdict. False when model.json's
   * batching.axes proved wrong: the version has failed, and its sessions are released.
   */
  private async settleBatching(entry: LoadedEntry): Promise<boolean> {
    const runner = entry.runner!;
    if (!runner.batching.unproven) return true;
    const { spec } = runner;
    const fetch = spec.outputs.map((o) => o.name);
    const run: ProbeRun = async (inputs, rows) =>
      (await this.runtime.run({ key: spec.key, inputs, fetch, rows })).outputs;
    try {
      const decision = await probeBatching(run, spec, runner.batching);
      const tokenizers = runner.tokenizers;
      entry.runner = this.runnerFor(entry, spec, { ...decision, reason: this.redact(decision.reason) });
      entry.runner.tokenizers = tokenizers;
      this.log.info(
        { model: entry.name, version: entry.version, batching: decision.source, reason: entry.runner.batching.reason },
        'batch dim probed',
      );
      return true;
    } catch (err) {
      await this.runtime.remove(spec.key).catch(() => {});
      this.fail(entry, this.redact((err as Error).message));
      return false;
    }
  }

  /**
   * One inference on every worker with zeros (symbolic dims at 1), so the first real request pays
   * no lazy cost. Some models refuse zeros (a sample rate must be 8000 or 16000): that is
   * reported, and the model is served all the same, since its sessions did load.
   */
  private async warmUp(entry: LoadedEntry): Promise<void> {
    const { spec } = entry.runner!;
    try {
      await Promise.all(
        Array.from({ length: this.runtime.workers }, () => {
          const inputs = Object.fromEntries(
            spec.inputs.map((i) => [
              i.name,
              emptyTensor(
                i.dtype,
                i.shape.map((d) => (typeof d === 'number' ? d : 1)),
              ),
            ]),
          );
          return this.runtime.run({ key: spec.key, inputs, fetch: spec.outputs.map((o) => o.name), rows: 1 });
        }),
      );
    } catch (err) {
      entry.warmup = `warm-up inference on zeros failed: ${this.redact((err as Error).message.split('\n')[0]!)}`;
      this.log.warn(
        { model: entry.name, version: entry.version, reason: entry.warmup, err },
        'model warm-up failed; serving it anyway',
      );
    }
    if (!(await this.settleBatching(entry))) return;
    entry.state = 'ready';
    this.log.info({ model: entry.name, version: entry.version, sha256: spec.sha256, path: entry.path }, 'model ready');
  }

  private newKey(entry: LoadedEntry): string {
    let key = modelKey(entry.name, entry.version);
    for (let n = 2; this.keys.has(key); n++) key = `${modelKey(entry.name, entry.version)}#${n}`;
    this.keys.add(key);
    return key;
  }

  /** Reads the repository again and applies the difference to what is loaded (repository-rescan.ts). */
  private readonly changeListeners: (() => void)[] = [];

  /**
   * Called after a rescan (or unload) changed which versions are served: what copies the served set
   * (decode workers) refreshes it.
   */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  rescan(): Promise<RescanResult> {
    return this.rescanner.rescan();
  }

  /**
   * Unloads a model until load(): out of routing now, released once its in-flight requests finish;
   * false when it is unknown.
   */
  unloadModel(name: string): Promise<boolean> {
    return this.rescanner.unloadModel(name);
  }

  /** Lets a model unloaded by unloadModel() load again, and rescans. */
  loadModel(name: string): Promise<RescanResult> {
    return this.rescanner.loadModel(name);
  }

  /**
   * Versions in the repository that are not loaded because their model was unloaded through the
   * control API (as of the last rescan).
   */
  unloadedVersions(): { name: string; version: string }[] {
    return this.rescanner.unloadedVersions();
  }

  /** Settles once no rescan is running (shutdown waits for it before closing the runtime). */
  settled(): Promise<void> {
    return this.rescanner.settled();
  }

  // What RepositoryRescan changes the loaded versions with.

  /** The repository read again; what is skipped is updated. Throws when it cannot be read, changing nothing. */
  async scan(): Promise<Repository> {
    const repository = await scanRepository(this.dir!, this.scanLog);
    this.redactor = repository.root;
    this.skipped = repository.skipped;
    if (repository.models.length > 0) delete this.router.error;
    const names = new Set(repository.models.map((m) => m.name));
    for (const name of this.skippedIn.keys()) if (!names.has(name)) this.skippedIn.delete(name);
    for (const model of repository.models) this.skippedIn.set(model.name, model.skipped);
    return repository;
  }

  identify(model: RepositoryModel, version: RepositoryVersion) {
    return this.identities.of(model, version);
  }

  /** Checks, loads on every worker and warms a version not yet routed to (or fails it, with why). */
  async loadVersion(model: RepositoryModel, version: RepositoryVersion, entry: LoadedEntry): Promise<void> {
    await this.inspect(model, entry, version);
    if (entry.state !== 'loading') return;
    try {
      await this.runtime.add({ key: entry.runner!.spec.key, path: entry.path });
      await this.warmUp(entry);
    } catch (err) {
      this.fail(entry, `cannot load the ONNX file: ${this.redact((err as Error).message.split('\n')[0]!)}`);
    }
  }

  /** Releases a version taken out of routing, once the data plane has nothing in flight on it. */
  async unload(entry: LoadedEntry): Promise<void> {
    const runner = entry.runner;
    if (!runner) return;
    await this.options.drained?.(runner);
    await this.runtime
      .remove(runner.spec.key)
      .catch((err: unknown) =>
        this.log.warn({ model: entry.name, version: entry.version, err }, 'releasing a model version failed'),
      );
    this.log.info({ model: entry.name, version: entry.version, sha256: runner.spec.sha256 }, 'model version unloaded');
  }

  private fail(entry: LoadedEntry, reason: string): void {
    entry.state = 'failed';
    entry.reason = reason;
    delete entry.runner;
    this.log.error(
      { model: entry.name, version: entry.version, reason, path: entry.path || undefined },
      'model failed to load',
    );
  }

  /**
   * Text for an answer: the repository's absolute paths replaced by relative ones (onnxruntime's
   * messages name the file).
   */
  redact(text: string): string {
    return this.redactor.redact(text);
  }

  /** Entries of a model's folder that are not served (`iris/01`, `iris/v2`), and why. */
  skippedEntries(name: string): SkippedEntry[] {
    return this.skippedIn.get(name) ?? [];
  }

  /**
   * What kept a repository from loading whole, once loading finished: its own error, or each version
   * that did not load; empty when all serve.
   */
  loadProblems(): string[] {
    const failed = this.router.all().filter((e) => e.state === 'failed' || e.state === 'unsupported');
    return [
      ...(this.router.error ? [this.router.error] : []),
      ...failed.map((e) => `${modelKey(e.name, e.version)}: ${e.reason}`),
    ];
  }

  /** True once loading finished with at least one model served (or, when required, all of them). */
  isReady(requireAll: boolean): boolean {
    if (this.router.phase !== 'loaded') return false;
    const all = this.router.all();
    const served = all.filter((e) => e.state === 'ready');
    return served.length > 0 && (!requireAll || all.every((e) => e.state !== 'failed'));
  }
}
