import { newEntry, placeholder, UNLOADED, type ModelEntry } from '../models/model-entry.js';
import type { ModelRouter } from '../models/model-router.js';
import type { ModelRunner } from '../serving/model-runner.js';
import type { Repository, RepositoryModel, RepositoryVersion } from '../models/model-repository.js';
import { modelKey } from '../models/model-spec.js';

/** What one rescan did, for the log and the control API. */
export interface RescanResult {
  /** The repository could not be read: nothing changed. */
  error?: string;
  added: string[];
  replaced: string[];
  removed: string[];
  failed: string[];
}

/**
 * What a rescan changes the loaded versions with: the registry's side of it (model-registry.ts), named
 * here so neither imports the other.
 */
export interface RescanTarget {
  readonly router: ModelRouter<ModelRunner>;
  readonly log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  scan(): Promise<Repository>;
  identify(
    model: RepositoryModel,
    version: RepositoryVersion,
  ): Promise<{ identity: string; sha256?: string; unreadable?: string }>;
  loadVersion(model: RepositoryModel, version: RepositoryVersion, entry: ModelEntry<ModelRunner>): Promise<void>;
  unload(entry: ModelEntry<ModelRunner>): Promise<void>;
  redact(text: string): string;
  changed(): void;
}

/**
 * Reads the repository again and applies the difference to what the registry has loaded: new
 * versions load and warm in the background and serve once ready; a changed file (or model.json)
 * loads beside the old version and replaces it once warm; a removed version stops taking
 * requests at once and is unloaded when its in-flight requests are done. A version that fails to
 * load leaves the old one serving. Rescans run one at a time; a scan that fails changes nothing.
 */
export class RepositoryRescan {
  private running: Promise<unknown> = Promise.resolve();
  /** Models unloaded through the control API: a rescan leaves them out until they are loaded again. */
  private readonly unloaded = new Set<string>();
  /** Their versions the last scan found in the repository. */
  private unloadedSeen: { name: string; version: string }[] = [];

  constructor(private readonly registry: RescanTarget) {}

  rescan(): Promise<RescanResult> {
    return this.queue(() => this.once());
  }

  /**
   * Takes every version of a model out of routing and unloads it once drained; false when the model is
   * not loaded and not unloaded already.
   */
  unloadModel(name: string): Promise<boolean> {
    return this.queue(async () => {
      const entries = this.registry.router.entries(name);
      if (entries.length === 0 && !this.unloaded.has(name)) return false;
      this.unloaded.add(name);
      this.registry.router.traffic.forget(name);
      const result: RescanResult = { added: [], replaced: [], removed: [], failed: [] };
      await Promise.all(entries.map((entry) => this.retire(entry, UNLOADED, result)));
      return true;
    });
  }

  loadModel(name: string): Promise<RescanResult> {
    this.unloaded.delete(name);
    return this.rescan();
  }

  unloadedVersions(): { name: string; version: string }[] {
    return this.unloadedSeen;
  }

  /** One rescan or unload at a time, in call order. */
  private queue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.running.then(work);
    this.running = next.catch(() => undefined);
    return next;
  }

  async settled(): Promise<void> {
    await this.running;
  }

  private async once(): Promise<RescanResult> {
    const { registry } = this;
    const result: RescanResult = { added: [], replaced: [], removed: [], failed: [] };
    if (registry.router.phase !== 'loaded') return { ...result, error: 'models are still loading' };
    let repository: Repository;
    try {
      repository = await registry.scan();
    } catch (err) {
      result.error = `cannot read the model repository (MODEL_DIR): ${(err as NodeJS.ErrnoException).code ?? registry.redact((err as Error).message)}`;
      registry.log.error({ err }, `model repository rescan failed; nothing changed: ${result.error}`);
      return result;
    }
    const work: Promise<void>[] = [];
    const models = repository.models.filter((m) => !this.unloaded.has(m.name));
    this.unloadedSeen = repository.models
      .filter((m) => this.unloaded.has(m.name))
      .flatMap((m) => m.versions.map((v) => ({ name: m.name, version: v.version })));
    registry.router.traffic.apply(models);
    const names = new Set(models.map((m) => m.name));
    for (const entry of registry.router.all()) {
      if (!names.has(entry.name))
        work.push(this.retire(entry, this.unloaded.has(entry.name) ? UNLOADED : 'removed from the repository', result));
    }
    for (const model of models) {
      const wanted = new Set(model.versions.map((v) => v.version));
      for (const entry of registry.router.entries(model.name)) {
        if (!wanted.has(entry.version))
          work.push(this.retire(entry, `${entry.file} was removed from the repository`, result));
      }
      for (const version of model.versions) work.push(this.reconcile(model, version, result));
      if (model.versions.length === 0) registry.router.place(placeholder(model));
    }
    await Promise.all(work);
    if (result.added.length + result.replaced.length + result.removed.length + result.failed.length > 0) {
      registry.log.info({ ...result }, 'model repository rescanned');
      registry.changed();
    }
    return result;
  }

  /** One scanned version against what is loaded for it: nothing, a new load, or a replacement. */
  private async reconcile(model: RepositoryModel, version: RepositoryVersion, result: RescanResult): Promise<void> {
    const { registry } = this;
    const current = registry.router.entries(model.name).find((e) => e.version === version.version);
    const { identity, sha256 } = await registry.identify(model, version);
    if (current?.identity === identity) {
      delete current.reload; // a failed candidate's file is gone: the loaded one is current again
      return;
    }
    if (current?.reload?.identity === identity) return; // this exact file already failed: not retried on every poll
    const label = modelKey(model.name, version.version);
    const candidate = newEntry<ModelRunner>(model, version);
    if (!current)
      registry.router.place(candidate); // listed as loading; resolve() never routes to it before it is ready
    else current.reload = { state: 'loading', identity, ...(sha256 ? { sha256 } : {}) };
    await registry.loadVersion(model, version, candidate);
    if (!current) {
      (candidate.state === 'ready' ? result.added : result.failed).push(label);
      return;
    }
    if (candidate.state !== 'ready' && current.state === 'ready') {
      current.reload = { state: 'failed', identity, reason: candidate.reason!, ...(sha256 ? { sha256 } : {}) };
      result.failed.push(label);
      registry.log.error(
        { model: model.name, version: version.version, reason: candidate.reason },
        'changed model file or model.json failed to load; the loaded version keeps serving',
      );
      return;
    }
    registry.router.place(candidate); // one assignment: the next resolve() gets the new runner
    (candidate.state === 'ready' ? result.replaced : result.failed).push(label);
    await registry.unload(current);
  }

  /** Out of routing now; unloaded once its in-flight requests are done. */
  private async retire(entry: ModelEntry<ModelRunner>, why: string, result: RescanResult): Promise<void> {
    this.registry.router.takeOut(entry, why);
    if (entry.file) result.removed.push(modelKey(entry.name, entry.version));
    await this.registry.unload(entry);
  }
}
