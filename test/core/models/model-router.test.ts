import { describe, expect, it } from 'vitest';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { UNLOADED, type ModelEntry, type ModelState } from '../../../src/core/models/model-entry.js';
import type { RepositoryModel } from '../../../src/core/models/model-repository.js';
import { ModelRouter } from '../../../src/core/models/model-router.js';
import { ServiceError } from '../../../src/errors.js';
import { keyFor, randomKeys, sharesOf, type DeclaredVariant } from '../../helpers/traffic.js';

/**
 * ModelRouter on its own: what serves a version is a string here (the router is generic over it), so a
 * failure is the router's wording or choice, never a runner's.
 */
const entry = (name: string, version: string, state: ModelState = 'ready', reason?: string): ModelEntry<string> => ({
  name,
  version,
  file: `${name}/${version}/model.onnx`,
  path: `/models/${name}/${version}/model.onnx`,
  state,
  ...(reason ? { reason } : {}),
  ...(state === 'ready' ? { runner: `${name}@${version} runner` } : {}),
});
/** A model with no version to serve, as the loader lists it. */
const placeholderOf = (name: string, reason: string): ModelEntry<string> => ({
  name,
  version: '0',
  file: '',
  path: '',
  state: 'failed',
  reason,
});

function loaded(...entries: ModelEntry<string>[]): ModelRouter<string> {
  const router = new ModelRouter<string>();
  for (const e of entries) router.place(e);
  router.phase = 'loaded';
  return router;
}

/** The error a call throws, as a plain object to compare whole. */
function refusal(call: () => unknown) {
  try {
    call();
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    const { statusCode, code, message, details } = err as ServiceError;
    return { statusCode, code, message, ...(details ? { details } : {}) };
  }
  return expect.unreachable('no error was thrown');
}

/** A traffic split as model.json declares it, applied to the router. */
function split(router: ModelRouter<string>, name: string, variants: DeclaredVariant[]): void {
  const config = modelConfigSchema.parse({ traffic: { variants } });
  const model: RepositoryModel = { name, config, versions: [], skipped: [] };
  router.traffic.apply([model]);
}
const versionOf = (router: ModelRouter<string>, ...args: Parameters<ModelRouter<string>['route']>) =>
  router.route(...args).entry.version;

describe('ModelRouter: place and takeOut', () => {
  it('keeps each model’s entries in numeric version order, whatever order they were placed in', () => {
    const router = loaded(entry('m', '10'), entry('m', '2'), entry('m', '9'));
    expect(router.entries('m').map((e) => e.version)).toEqual(['2', '9', '10']);
    expect(router.resolve('m').version).toBe('10');
  });

  it('replaces the entry of the same version: the next resolve gets the new one', () => {
    const router = loaded(entry('m', '1'));
    const first = router.resolve('m', '1');
    const replacement = { ...entry('m', '1'), runner: 'new runner' };
    router.place(replacement);
    expect(router.entries('m')).toHaveLength(1);
    expect(router.resolve('m', '1')).toBe(replacement);
    expect(router.resolve('m', '1')).not.toBe(first);
  });

  it('drops the placeholder once a real version is placed, and keeps real versions when a placeholder is', () => {
    const router = loaded(placeholderOf('m', 'no <version>/model.onnx found'));
    router.place(entry('m', '1'));
    expect(router.entries('m').map((e) => e.version)).toEqual(['1']);
    router.place(placeholderOf('m', 'no <version>/model.onnx found'));
    expect(router.entries('m').map((e) => e.version)).toEqual(['0', '1']);
  });

  it('takes a version out of routing at once; a request naming it is told why (404)', () => {
    const router = loaded(entry('m', '1'), entry('m', '2'));
    router.takeOut(router.resolve('m', '2'), 'm/2/model.onnx was removed from the repository');
    expect(router.resolve('m').version).toBe('1');
    expect(refusal(() => router.resolve('m', '2'))).toEqual({
      statusCode: 404,
      code: 'VERSION_NOT_FOUND',
      message: 'model "m" version 2 was unloaded: m/2/model.onnx was removed from the repository',
      details: [{ path: 'version', message: 'versions: 1' }],
    });
  });

  it('keeps why each version went, per version, when another is placed again', () => {
    const router = loaded(entry('m', '1'), entry('m', '2'));
    router.takeOut(router.resolve('m', '2'), 'gone');
    router.takeOut(router.resolve('m', '1'), 'gone');
    router.place(entry('m', '1'));
    expect(refusal(() => router.resolve('m', '2')).message).toBe('model "m" version 2 was unloaded: gone');
    expect(router.resolve('m').version).toBe('1');
    expect(refusal(() => router.resolve('m', '3')).message).toBe('model "m" has no version 3');
  });

  it('forgets a model whose last entry is taken out: all() and entries() no longer list it', () => {
    const router = loaded(entry('a', '1'), entry('b', '1'));
    router.takeOut(router.resolve('a'), 'removed from the repository');
    expect(router.entries('a')).toEqual([]);
    expect(router.all().map((e) => e.name)).toEqual(['b']);
  });
});

describe('ModelRouter: resolve and route', () => {
  it('resolves no version to the highest ready one, skipping versions loading or failed above it', () => {
    const router = loaded(entry('m', '1'), entry('m', '2'), entry('m', '3', 'loading'), entry('m', '4', 'failed', 'x'));
    expect(router.resolve('m').version).toBe('2');
    expect(router.route('m')).toEqual({ entry: router.resolve('m', '2') });
  });

  it('resolves no version to the highest one when none is ready, and answers for its state', () => {
    const router = loaded(entry('m', '1', 'failed', 'bad file'), entry('m', '2', 'loading'));
    expect(refusal(() => router.resolve('m')).message).toBe('model m@2 is still loading');
  });

  it('resolves a named version to that version, not to the default', () => {
    const router = loaded(entry('m', '1'), entry('m', '2'), entry('m', '3'));
    expect(router.resolve('m', '1').runner).toBe('m@1 runner');
    expect(versionOf(router, 'm', '2')).toBe('2');
  });

  it.each([
    ['01', 'model "m" has no version "01": not the canonical spelling of version 1'],
    ['1.0', 'model "m" has no version "1.0": not a version folder: versions are positive integers (1, 2, 10)'],
    ['+1', 'model "m" has no version "+1": not a version folder: versions are positive integers (1, 2, 10)'],
    ['0', 'model "m" has no version "0": version 0 is not a version: versions start at 1'],
    ['3', 'model "m" has no version 3'],
  ])('names a version by its canonical spelling only: %s is none (404)', (version, message) => {
    const router = loaded(entry('m', '1'), entry('m', '2'));
    expect(refusal(() => router.resolve('m', version))).toEqual({
      statusCode: 404,
      code: 'VERSION_NOT_FOUND',
      message,
      details: [{ path: 'version', message: 'versions: 1, 2' }],
    });
  });
});

describe('ModelRouter: the 404 and 503 wording', () => {
  it('answers 503 for any model while the first load runs, and 404 once it has finished', () => {
    const router = new ModelRouter<string>();
    expect(refusal(() => router.resolve('m'))).toEqual({
      statusCode: 503,
      code: 'MODEL_NOT_READY',
      message: 'models are still loading; retry when /ready answers 200',
    });
    router.place(entry('a', '1'));
    router.place(entry('b', '1'));
    router.phase = 'loaded';
    expect(refusal(() => router.resolve('m'))).toEqual({
      statusCode: 404,
      code: 'MODEL_NOT_FOUND',
      message: 'unknown model "m"',
      details: [{ path: 'model', message: 'models: a, b' }],
    });
  });

  it('says the repository is empty, or why it could not be read, rather than listing no models', () => {
    const router = loaded();
    expect(refusal(() => router.resolve('m'))).toEqual({
      statusCode: 404,
      code: 'MODEL_NOT_FOUND',
      message: 'unknown model "m": no models are served',
      details: [{ path: 'model', message: 'no models' }],
    });
    router.error = 'cannot read the model repository (MODEL_DIR): ENOENT';
    expect(refusal(() => router.resolve('m'))).toEqual({
      statusCode: 404,
      code: 'MODEL_NOT_FOUND',
      message: 'unknown model "m": cannot read the model repository (MODEL_DIR): ENOENT',
      details: [{ path: 'model', message: 'cannot read the model repository (MODEL_DIR): ENOENT' }],
    });
  });

  it('answers a model taken out whole with why: removed from the repository, or unloaded through the API', () => {
    const router = loaded(entry('gone', '1'), entry('off', '1'), entry('kept', '1'));
    router.takeOut(router.resolve('gone'), 'removed from the repository');
    router.takeOut(router.resolve('off'), UNLOADED);
    expect(refusal(() => router.resolve('gone'))).toEqual({
      statusCode: 404,
      code: 'MODEL_NOT_FOUND',
      message: 'model "gone" was unloaded: removed from the repository',
    });
    expect(refusal(() => router.resolve('off')).message).toBe(
      'model "off" was unloaded: unloaded through the control API',
    );
  });

  it('answers a version loading 503 MODEL_NOT_READY, failed 503 MODEL_FAILED with its reason, unsupported 400', () => {
    const router = loaded(
      entry('m', '1', 'loading'),
      entry('m', '2', 'failed', 'cannot load the ONNX file: protobuf parsing failed'),
      entry('m', '3', 'unsupported', 'input "x" is not a tensor, which the service cannot feed'),
      entry('m', '4'),
    );
    expect(refusal(() => router.resolve('m', '1'))).toEqual({
      statusCode: 503,
      code: 'MODEL_NOT_READY',
      message: 'model m@1 is still loading',
    });
    expect(refusal(() => router.resolve('m', '2'))).toEqual({
      statusCode: 503,
      code: 'MODEL_FAILED',
      message: 'model m@2 failed to load: cannot load the ONNX file: protobuf parsing failed',
    });
    expect(refusal(() => router.resolve('m', '3'))).toEqual({
      statusCode: 400,
      code: 'UNSUPPORTED_MODEL',
      message: 'model m@3 cannot be served: input "x" is not a tensor, which the service cannot feed',
    });
  });

  it("answers a model with no version to serve 503 with the loader's reason, and lists no versions for it", () => {
    const router = loaded(placeholderOf('m', 'no <version>/model.onnx found (skipped: m/v1)'));
    expect(refusal(() => router.resolve('m'))).toEqual({
      statusCode: 503,
      code: 'MODEL_FAILED',
      message: 'model m@0 failed to load: no <version>/model.onnx found (skipped: m/v1)',
    });
    expect(refusal(() => router.resolve('m', '1')).details).toEqual([{ path: 'version', message: 'versions: none' }]);
    // Its placeholder's version 0 is no version a request can name
    expect(refusal(() => router.resolve('m', '0'))).toEqual({
      statusCode: 404,
      code: 'VERSION_NOT_FOUND',
      message: 'model "m" has no version "0": version 0 is not a version: versions start at 1',
      details: [{ path: 'version', message: 'versions: none' }],
    });
  });
});

describe('ModelRouter: traffic splits', () => {
  const variants: DeclaredVariant[] = [
    { name: 'stable', version: 1, weight: 50 },
    { name: 'canary', version: 2, weight: 50 },
  ];

  it('routes a request that names no version to a variant of the split, sticky per routing key', () => {
    const router = loaded(entry('m', '1'), entry('m', '2'), entry('m', '3'));
    split(router, 'm', variants);
    const stableKey = keyFor({ router }, 'm', 'stable');
    const canaryKey = keyFor({ router }, 'm', 'canary');
    for (let i = 0; i < 20; i++) {
      expect(router.route('m', undefined, stableKey)).toEqual({ entry: router.resolve('m', '1'), variant: 'stable' });
      expect(router.route('m', undefined, canaryKey)).toEqual({ entry: router.resolve('m', '2'), variant: 'canary' });
    }
    // Both variants take a share of many keys; version 3, the default, none
    const shares = sharesOf({ router }, 'm', randomKeys(400));
    expect(Object.keys(shares).sort()).toEqual(['canary', 'stable']);
  });

  it('bypasses the split for a request that names a version', () => {
    const router = loaded(entry('m', '1'), entry('m', '2'), entry('m', '3'));
    split(router, 'm', variants);
    expect(router.route('m', '3', keyFor({ router }, 'm', 'stable'))).toEqual({ entry: router.resolve('m', '3') });
  });

  it('lists as live only the variants with weight whose version is ready, and routes only to those', () => {
    const router = loaded(entry('m', '1'), entry('m', '2', 'loading'));
    split(router, 'm', [...variants, { name: 'off', version: 1, weight: 0 }]);
    expect(router.liveVariants('m')).toEqual([{ name: 'stable', version: '1', weight: 50 }]);
    expect(sharesOf({ router }, 'm', randomKeys(100))).toEqual({ stable: 100 });
    router.place(entry('m', '2'));
    expect(router.liveVariants('m')!.map((v) => v.name)).toEqual(['stable', 'canary']);
    expect(router.liveVariants('other')).toBeUndefined();
  });

  it("falls back to the default version, with no variant, when no variant's version is ready", () => {
    const router = loaded(entry('m', '1', 'loading'), entry('m', '2', 'failed', 'x'), entry('m', '3'));
    split(router, 'm', variants);
    expect(router.route('m', undefined, 'any key')).toEqual({ entry: router.resolve('m', '3') });
  });

  it('keeps the variant an earlier route chose while it is ready, whatever the key says', () => {
    const router = loaded(entry('m', '1'), entry('m', '2'));
    split(router, 'm', variants);
    const canaryKey = keyFor({ router }, 'm', 'canary');
    expect(router.route('m', undefined, canaryKey, 'stable').variant).toBe('stable');
    router.place(entry('m', '1', 'loading'));
    expect(router.route('m', undefined, canaryKey, 'stable').variant).toBe('canary');
  });
});

describe('ModelRouter: snapshot and restore (how a decode worker routes)', () => {
  /** The outcome of a route: the version and variant, or the error as the client would see it. */
  const outcome = (router: ModelRouter<string>, ...args: Parameters<ModelRouter<string>['route']>) => {
    try {
      const { entry: e, variant } = router.route(...args);
      return { version: e.version, variant, runner: e.runner };
    } catch (err) {
      return refusal(() => {
        throw err;
      });
    }
  };

  it('a restored router routes every key, version and model as the original, through a structured clone', () => {
    const router = loaded(
      entry('m', '1'),
      entry('m', '2'),
      entry('m', '3', 'loading'),
      entry('m', '4', 'failed', 'bad file'),
      entry('gone', '1'),
      entry('n', '1', 'unsupported', 'string input'),
    );
    router.takeOut(router.resolve('gone', '1'), 'removed from the repository');
    split(router, 'm', [
      { name: 'stable', version: 1, weight: 70 },
      { name: 'canary', version: 2, weight: 30 },
      { name: 'later', version: 3, weight: 10 },
    ]);
    const snapshot = structuredClone(router.snapshot((runner) => runner.replace(' runner', '')));
    const restored = ModelRouter.restore(snapshot, (key) => `${key} runner`);
    const targets: [string, string | undefined][] = [
      ['m', undefined],
      ['m', '1'],
      ['m', '3'],
      ['m', '4'],
      ['m', '01'],
      ['m', '9'],
      ['gone', undefined],
      ['n', undefined],
      ['nope', undefined],
    ];
    for (const key of [...randomKeys(300), undefined])
      for (const [model, version] of targets) {
        const expected = outcome(router, model, version, key);
        if (key === undefined && model === 'm' && version === undefined) continue; // a weighted draw
        expect(outcome(restored, model, version, key)).toEqual(expected);
      }
    expect(restored.liveVariants('m')).toEqual(router.liveVariants('m'));
  });

  it('restores the phase and the repository error, and leaves a ready version it cannot serve without a runner', () => {
    const starting = new ModelRouter<string>();
    expect(refusal(() => ModelRouter.restore(starting.snapshot(String), () => 'r').route('m'))).toMatchObject({
      statusCode: 503,
      code: 'MODEL_NOT_READY',
    });
    const empty = loaded();
    empty.error = 'MODEL_DIR /nowhere does not exist';
    const restoredEmpty = ModelRouter.restore(empty.snapshot(String), () => 'r');
    expect(refusal(() => restoredEmpty.route('m'))).toEqual(refusal(() => empty.route('m')));
    // A version loaded after the worker started: routed to, with nothing to serve it here
    const router = loaded(entry('m', '1'));
    const restored = ModelRouter.restore(router.snapshot(String), () => undefined);
    expect(restored.route('m').entry).toMatchObject({ version: '1', state: 'ready' });
    expect(restored.route('m').entry.runner).toBeUndefined();
  });
});
