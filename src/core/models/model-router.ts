import { ServiceError } from '../../errors.js';
import { UNLOADED, type ModelEntry, type ModelState } from './model-entry.js';
import { modelKey } from './model-spec.js';
import type { TrafficVariant } from './traffic-config.js';
import { TrafficTable, type TrafficSnapshot } from './traffic-table.js';
import { isCanonicalVersion, versionFolder } from './version-folder.js';

/**
 * The model versions served, and the way from a request's target (model, version, routing key) to
 * one of them: every 404 and 503 a target can get is worded here, once. The loader
 * (core/loading/model-registry.ts) places and takes out entries; the data plane, the protocols and
 * the shadows only read. `R` is what serves a loaded version (a ModelRunner).
 */
export class ModelRouter<R> {
  private readonly models = new Map<string, ModelEntry<R>[]>();
  /** Versions and models a rescan or the control API took away, and why: a request for one gets a 404 that says so. */
  private readonly removed = new Map<string, string>();

  constructor(
    /** Each model's traffic split (model.json `traffic`), over its ready versions. */
    readonly traffic = new TrafficTable(),
  ) {}

  /**
   * What routing reads, as plain data: a decode worker restores it (restore()) and routes a body
   * by the same code as the data plane. `keyOf`: the model version a runner serves.
   */
  snapshot(keyOf: (runner: R) => string): RouterSnapshot {
    const models: RouterSnapshot['models'] = [];
    for (const [name, entries] of this.models) {
      const plain = entries.map(({ version, file, state, reason, runner }) => ({
        version,
        file,
        state,
        ...(reason !== undefined ? { reason } : {}),
        ...(runner !== undefined ? { key: keyOf(runner) } : {}),
      }));
      models.push({ name, entries: plain });
    }
    const removed = [...this.removed];
    return {
      phase: this.phase,
      ...(this.error !== undefined ? { error: this.error } : {}),
      models,
      removed,
      traffic: this.traffic.snapshot(),
    };
  }

  /** A router that routes as the snapshot's did; each ready entry served by `runnerOf(key)` (none: unknown here). */
  static restore<R>(snapshot: RouterSnapshot, runnerOf: (key: string) => R | undefined): ModelRouter<R> {
    const router = new ModelRouter<R>(TrafficTable.restore(snapshot.traffic));
    router.phase = snapshot.phase;
    if (snapshot.error !== undefined) router.error = snapshot.error;
    for (const { name, entries } of snapshot.models) {
      router.models.set(
        name,
        entries.map(({ key, ...entry }) => {
          const runner = key === undefined ? undefined : runnerOf(key);
          return { ...entry, name, path: '', ...(runner !== undefined ? { runner } : {}) };
        }),
      );
    }
    for (const [key, why] of snapshot.removed) router.removed.set(key, why);
    return router;
  }
  /** 'loaded' once the first load has finished: until then an unknown model may be one still being read. */
  phase: 'starting' | 'loaded' = 'starting';
  /** Why the repository itself could not be read, or holds no model. */
  error?: string;

  entries(name: string): ModelEntry<R>[] {
    return this.models.get(name) ?? [];
  }

  all(): ModelEntry<R>[] {
    return [...this.models.values()].flat();
  }

  /** Sets a model's entries as first loaded (in version order). */
  set(name: string, entries: ModelEntry<R>[]): void {
    this.models.set(name, entries);
  }

  /**
   * Puts an entry in its model's list, in version order, in place of one with its version (and of a
   * placeholder): the next resolve() sees it.
   */
  place(entry: ModelEntry<R>): void {
    this.removed.delete(modelKey(entry.name, entry.version));
    const others = this.entries(entry.name).filter(
      (e) => e.version !== entry.version && (e.file !== '' || entry.file === ''),
    );
    this.models.set(
      entry.name,
      [...others, entry].sort((a, b) => Number(a.version) - Number(b.version)),
    );
  }

  /** Takes a version out of routing now; a request naming it gets a 404 that says why. */
  takeOut(entry: ModelEntry<R>, why: string): void {
    const rest = this.entries(entry.name).filter((e) => e !== entry);
    if (rest.length > 0) this.models.set(entry.name, rest);
    else this.models.delete(entry.name);
    if (entry.file) this.removed.set(modelKey(entry.name, entry.version), why);
  }

  /**
   * A request's model version: the one it names; else, for a model with a traffic split, the
   * variant its routing key (or a weighted draw) picks among the ready ones; else resolve()'s default.
   * `chosen` keeps the variant an earlier route() of the same request picked, while it is ready.
   */
  route(
    name: string,
    version?: string,
    routingKey?: string,
    chosen?: string,
  ): { entry: ModelEntry<R>; variant?: string } {
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
  resolve(name: string, version?: string): ModelEntry<R> {
    const entries = this.models.get(name);
    if (!entries) throw this.modelNotFound(name);
    const entry =
      version === undefined
        ? defaultVersion(entries)
        : isCanonicalVersion(version)
          ? entries.find((e) => e.version === version)
          : undefined;
    if (!entry) throw versionNotFound(name, version!, entries, this.removed.get(modelKey(name, version!)));
    const key = modelKey(name, entry.version);
    if (entry.state === 'loading') throw new ServiceError('MODEL_NOT_READY', `model ${key} is still loading`);
    if (entry.state === 'failed')
      throw new ServiceError('MODEL_FAILED', `model ${key} failed to load: ${entry.reason}`);
    if (entry.state === 'unsupported')
      throw new ServiceError('UNSUPPORTED_MODEL', `model ${key} cannot be served: ${entry.reason}`);
    return entry;
  }

  private modelNotFound(name: string): ServiceError {
    if (this.phase !== 'loaded')
      return new ServiceError('MODEL_NOT_READY', 'models are still loading; retry when /ready answers 200');
    const removed = [...this.removed].find(([key]) => key.startsWith(`${name}@`));
    if (removed) {
      const why = removed[1] === UNLOADED ? UNLOADED : 'removed from the repository';
      return new ServiceError('MODEL_NOT_FOUND', `model "${name}" was unloaded: ${why}`);
    }
    // An empty or unreadable repository says so, rather than listing no models.
    if (this.models.size === 0) {
      const why = this.error ?? 'no models are served';
      return new ServiceError('MODEL_NOT_FOUND', `unknown model "${name}": ${why}`, [
        { path: 'model', message: this.error ?? 'no models' },
      ]);
    }
    return new ServiceError('MODEL_NOT_FOUND', `unknown model "${name}"`, [
      { path: 'model', message: `models: ${[...this.models.keys()].join(', ')}` },
    ]);
  }
}

/** A router's state as plain data (ModelRouter.snapshot()), for a decode worker. */
export interface RouterSnapshot {
  phase: 'starting' | 'loaded';
  error?: string;
  models: {
    name: string;
    entries: { version: string; file: string; state: ModelState; reason?: string; key?: string }[];
  }[];
  removed: [string, string][];
  traffic: TrafficSnapshot;
}

/**
 * A version is named by its canonical spelling only (as its folder is): `01`, `1.0` or `0` name no
 * version, as in Triton, never version 1. The answer lists the versions there are, and says why a
 * spelling is none.
 */
function versionNotFound<R>(
  name: string,
  version: string,
  entries: ModelEntry<R>[],
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

function defaultVersion<R>(entries: ModelEntry<R>[]): ModelEntry<R> {
  const ready = entries.filter((e) => e.state === 'ready');
  return (ready.length > 0 ? ready : entries).at(-1)!;
}
