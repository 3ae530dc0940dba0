import { ServiceError } from '../../errors.js';
import type { TrafficVariant } from '../experiments/traffic-config.js';
import { TrafficTable } from '../experiments/traffic-table.js';
import type { AnomalyKind } from '../monitoring/model-monitoring.js';
import type { BatchPolicy } from '../serving/batcher.js';
import { buildRunner, type ModelRunner } from '../serving/model-runner.js';
import type { ModelRuntime } from '../serving/model-runtime.js';
import { emptyTensor } from '../tensors/tensor.js';
import { FileIdentity } from './file-identity.js';
import {
  scanRepository,
  type Repository,
  type RepositoryModel,
  type RepositoryVersion,
  type SkippedEntry,
} from './model-repository.js';
import { RepositoryRescan, type RescanResult } from './repository-rescan.js';
import { PathRedactor } from './repository-root.js';
import { buildModelSpec, modelKey, UnsupportedModel } from './model-spec.js';
import { isCanonicalVersion, versionFolder } from './version-folder.js';

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
  /** The file's sha256 and model.json as loaded: a rescan reloads the version when it differs. */
  identity?: string;
  /** A changed file being loaded beside this one, or why it could not be (this one keeps serving). */
  reload?: { state: 'loading' | 'failed'; sha256?: string; reason?: string; identity: string };
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
   * Resolves once no request is queued or running on the runner (the data plane knows); a replaced
   * or removed version is unloaded after it.
   */
  drained?: (runner: ModelRunner) => Promise<void>;
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
  private dir?: string;
  private readonly identities = new FileIdentity();
  /**
   * Runtime keys handed out: a version loaded again (a changed file) gets a new one, so its old
   * session and queue never mix with the new.
   */
  private readonly keys = new Set<string>();
  /** Versions and models a rescan took away, and why: a request for one gets a 404 that says so. */
  private readonly removed = new Map<string, string>();
  private readonly rescanner = new RepositoryRescan(this);
  /** Each model's traffic split (model.json `traffic`), over its ready versions. */
  readonly traffic = new TrafficTable();
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
      if (repository.models.length === 0) this.error = 'no models found in MODEL_DIR';
    } catch (err) {
      failure = err;
      this.error = `cannot read the model repository (MODEL_DIR): ${(err as NodeJS.ErrnoException).code ?? this.redact((err as Error).message)}`;
    }
    if (this.error) this.log.error({ dir, err: failure }, this.error);
    const models = repository?.models ?? [];
    this.skipped = repository?.skipped ?? [];

    this.traffic.apply(models);
    for (const model of models) {
      this.skippedIn.set(model.name, model.skipped);
      const entries = model.versions.map((v) => newEntry(model, v));
      if (entries.length === 0) entries.push(placeholder(model));
      this.models.set(model.name, entries);
    }
    await Promise.all(
      models.flatMap((model) =>
        this.entries(model.name).map((entry) =>
          this.inspect(
            model,
            entry,
            model.versions.find((v) => v.version === entry.version),
          ),
        ),
      ),
    );

    const servable = this.all().filter((e) => e.state === 'loading');
    if (servable.length > 0) {
      this.runtime.start(servable.map((e) => ({ key: e.runner!.spec.key, path: e.path })));
      await Promise.all(servable.map((e) => this.warmUp(e)));
    }
    this.phase = 'loaded';
  }

  private async inspect(model: RepositoryModel, entry: ModelEntry, version?: RepositoryVersion): Promise<void> {
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
      const { name, version } = entry;
      const anomalies = this.options.anomalies;
      entry.runner = buildRunner(
        spec,
        this.options.batching,
        anomalies && ((kind, count) => anomalies(name, version, kind, count)),
      );
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
    entry.state = 'ready';
    this.log.info({ model: entry.name, version: entry.version, sha256: spec.sha256, path: entry.path }, 'model ready');
  }

  private newKey(entry: ModelEntry): string {
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
    if (repository.models.length > 0) delete this.error;
    const names = new Set(repository.models.map((m) => m.name));
    for (const name of this.skippedIn.keys()) if (!names.has(name)) this.skippedIn.delete(name);
    for (const model of repository.models) this.skippedIn.set(model.name, model.skipped);
    return repository;
  }

  identify(model: RepositoryModel, version: RepositoryVersion) {
    return this.identities.of(model, version);
  }

  /** Checks, loads on every worker and warms a version not yet routed to (or fails it, with why). */
  async loadVersion(model: RepositoryModel, version: RepositoryVersion, entry: ModelEntry): Promise<void> {
    await this.inspect(model, entry, version);
    if (entry.state !== 'loading') return;
    try {
      await this.runtime.add({ key: entry.runner!.spec.key, path: entry.path });
      await this.warmUp(entry);
    } catch (err) {
      this.fail(entry, `cannot load the ONNX file: ${this.redact((err as Error).message.split('\n')[0]!)}`);
    }
  }

  /** Takes a version out of routing now; a request naming it gets a 404 that says why. */
  takeOut(entry: ModelEntry, why: string): void {
    const rest = this.entries(entry.name).filter((e) => e !== entry);
    if (rest.length > 0) this.models.set(entry.name, rest);
    else this.models.delete(entry.name);
    if (entry.file) this.removed.set(modelKey(entry.name, entry.version), why);
  }

  /** Releases a version taken out of routing, once the data plane has nothing in flight on it. */
  async unload(entry: ModelEntry): Promise<void> {
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

  /**
   * Puts an entry in its model's list, in version order, in place of one with its version (and of a
   * placeholder): the next resolve() sees it.
   */
  place(entry: ModelEntry): void {
    this.removed.delete(modelKey(entry.name, entry.version));
    const others = this.entries(entry.name).filter(
      (e) => e.version !== entry.version && (e.file !== '' || entry.file === ''),
    );
    this.models.set(
      entry.name,
      [...others, entry].sort((a, b) => Number(a.version) - Number(b.version)),
    );
  }

  private fail(entry: ModelEntry, reason: string): void {
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

  /**
   * What kept a repository from loading whole, once loading finished: its own error, or each
   * version that did not load; empty when all serve.
   */
  loadProblems(): string[] {
    const failed = this.all().filter((e) => e.state === 'failed' || e.state === 'unsupported');
    return [...(this.error ? [this.error] : []), ...failed.map((e) => `${modelKey(e.name, e.version)}: ${e.reason}`)];
  }

  /** True once loading finished with at least one model served (or, when required, all of them). */
  isReady(requireAll: boolean): boolean {
    if (this.phase !== 'loaded') return false;
    const all = this.all();
    const served = all.filter((e) => e.state === 'ready');
    return served.length > 0 && (!requireAll || all.every((e) => e.state !== 'failed'));
  }

  /**
   * A request's model version: the one it names; else, for a model with a traffic split, the
   * variant its routing key (or a weighted draw) picks among the ready ones; else resolve()'s default.
   * `chosen` keeps the variant an earlier route() of the same request picked, while it is ready.
   */
  route(name: string, version?: string, routingKey?: string, chosen?: string): { entry: ModelEntry; variant?: string } {
    const traffic = version === undefined ? this.traffic.get(name) : undefined;
    if (traffic) {
      const ready = this.versionReady(name);
      const variant = traffic.variant(chosen, ready) ?? traffic.choose(routingKey, ready);
      if (variant) return { entry: this.resolve(name, variant.version), variant: variant.name };
    }
    return { entry: this.resolve(name, version) };
  }

  /**
   * The split's variants route() chooses among now (weight above 0, version ready); undefined for a
   * model without a split.
   */
  liveVariants(name: string): TrafficVariant[] | undefined {
    return this.traffic.get(name)?.live(this.versionReady(name));
  }

  private versionReady(name: string): (version: string) => boolean {
    const entries = this.models.get(name) ?? [];
    return (v) => entries.some((e) => e.version === v && e.state === 'ready');
  }

  /**
   * The requested version, or the highest ready one (the highest version when none is ready).
   * The one place "not ready while loading" is decided: every protocol resolves through here.
   */
  resolve(name: string, version?: string): ModelEntry {
    const entries = this.models.get(name);
    if (!entries) {
      if (this.phase !== 'loaded')
        throw new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200');
      const removed = [...this.removed].find(([key]) => key.startsWith(`${name}@`));
      if (removed)
        throw new ServiceError(
          'MODEL_NOT_FOUND',
          `model "${name}" was unloaded: ${removed[1] === UNLOADED ? UNLOADED : 'removed from the repository'}`,
        );
      // An empty or unreadable repository says so, rather than listing no models.
      if (this.models.size === 0)
        throw new ServiceError('MODEL_NOT_FOUND', `unknown model "${name}": ${this.error ?? 'no models are served'}`, [
          { path: 'model', message: this.error ?? 'no models' },
        ]);
      throw new ServiceError('MODEL_NOT_FOUND', `unknown model "${name}"`, [
        { path: 'model', message: `models: ${[...this.models.keys()].join(', ')}` },
      ]);
    }
    const entry =
      version === undefined
        ? defaultVersion(entries)
        : isCanonicalVersion(version)
          ? entries.find((e) => e.version === version)
          : undefined;
    if (!entry) throw versionNotFound(name, version!, entries, this.removed.get(modelKey(name, version!)));
    if (entry.state === 'loading')
      throw new ServiceError('MODEL_NOT_READY', `model ${modelKey(name, entry.version)} is still loading`);
    if (entry.state === 'failed')
      throw new ServiceError('MODEL_FAILED', `model ${modelKey(name, entry.version)} failed to load: ${entry.reason}`);
    if (entry.state === 'unsupported')
      throw new ServiceError(
        'UNSUPPORTED_MODEL',
        `model ${modelKey(name, entry.version)} cannot be served: ${entry.reason}`,
      );
    return entry;
  }
}

function noVersion(model: RepositoryModel): string {
  const skipped = model.skipped.map((s) => s.entry);
  return `no <version>/model.onnx found${skipped.length > 0 ? ` (skipped: ${skipped.join(', ')})` : ''}`;
}

/** Why a version unloaded through the control API is not served. */
export const UNLOADED = 'unloaded through the control API';

export function newEntry(model: RepositoryModel, v: RepositoryVersion): ModelEntry {
  const base = { name: model.name, version: v.version, file: v.file, path: v.path };
  return v.refused ? { ...base, state: 'failed', reason: v.refused } : { ...base, state: 'loading' };
}

/** A model with no version to serve is still listed, failed, with why. */
export function placeholder(model: RepositoryModel): ModelEntry {
  return {
    name: model.name,
    version: '0',
    file: '',
    path: '',
    state: 'failed',
    reason: model.error ?? noVersion(model),
  };
}

/**
 * A version is named by its canonical spelling only (as its folder is): `01`, `1.0` or `0` name no
 * version, as in Triton, never version 1. The answer lists the versions there are, and says why a
 * spelling is none.
 */
function versionNotFound(
  name: string,
  version: string,
  entries: ModelEntry[],
  removed: string | undefined,
): ServiceError {
  const versions = entries.filter((e) => e.file !== '').map((e) => e.version);
  const detail = [{ path: 'version', message: `versions: ${versions.join(', ') || 'none'}` }];
  if (removed)
    return new ServiceError('VERSION_NOT_FOUND', `model "${name}" version ${version} was unloaded: ${removed}`, detail);
  const folder = versionFolder(version);
  const message =
    'problem' in folder
      ? `model "${name}" has no version ${JSON.stringify(version)}: ${folder.problem}`
      : `model "${name}" has no version ${version}`;
  return new ServiceError('VERSION_NOT_FOUND', message, detail);
}

function defaultVersion(entries: ModelEntry[]): ModelEntry {
  const ready = entries.filter((e) => e.state === 'ready');
  return (ready.length > 0 ? ready : entries).at(-1)!;
}
