import type { RepositoryModel, RepositoryVersion } from './model-repository.js';

/**
 * loading: being checked and warmed; ready: served; unsupported: loaded, but an input is not a
 * tensor the service can feed; failed: could not load, with the reason.
 */
export type ModelState = 'loading' | 'ready' | 'unsupported' | 'failed';

/** A model version as the repository and the loader know it; `R` is what serves it once loaded (a ModelRunner). */
export interface ModelEntry<R = unknown> {
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
  runner?: R;
  /** The file's sha256 and model.json as loaded: a rescan reloads the version when it differs. */
  identity?: string;
  /** A changed file being loaded beside this one, or why it could not be (this one keeps serving). */
  reload?: { state: 'loading' | 'failed'; sha256?: string; reason?: string; identity: string };
}

function noVersion(model: RepositoryModel): string {
  const skipped = model.skipped.map((s) => s.entry);
  return `no <version>/model.onnx found${skipped.length > 0 ? ` (skipped: ${skipped.join(', ')})` : ''}`;
}

/** Why a version unloaded through the control API is not served. */
export const UNLOADED = 'unloaded through the control API';

export function newEntry<R>(model: RepositoryModel, v: RepositoryVersion): ModelEntry<R> {
  const base = { name: model.name, version: v.version, file: v.file, path: v.path };
  return v.refused ? { ...base, state: 'failed', reason: v.refused } : { ...base, state: 'loading' };
}

/** A model with no version to serve is still listed, failed, with why. */
export function placeholder<R>(model: RepositoryModel): ModelEntry<R> {
  return {
    name: model.name,
    version: '0',
    file: '',
    path: '',
    state: 'failed',
    reason: model.error ?? noVersion(model),
  };
}
