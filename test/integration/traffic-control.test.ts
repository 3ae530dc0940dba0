import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { appsPerTest, postJson } from '../helpers/app.js';
import { bundled, fixture, TempRepository } from '../helpers/repository.js';
import {
  IRIS_ROW,
  irisConfig,
  keyFor,
  LABEL_OF_FILE,
  randomKeys,
  sharesOf,
  type DeclaredVariant,
} from '../helpers/traffic.js';

const TOKEN = 'traffic-control-integration-token';
const TRAFFIC = '/v2/repository/models/iris/traffic';
const LABEL_OF_VERSION: Record<string, string> = { '1': LABEL_OF_FILE.iris, '2': LABEL_OF_FILE.iris_like };
const SPLIT_90_10: DeclaredVariant[] = [
  { name: 'stable', version: 1, weight: 90 },
  { name: 'canary', version: 2, weight: 10 },
];

const setWeights = (app: FastifyInstance, weights: Record<string, number>) =>
  app.inject({
    method: 'POST',
    url: TRAFFIC,
    payload: JSON.stringify({ weights }),
    headers: { authorization: `Bearer ${TOKEN}` },
  });
const getSplit = async (app: FastifyInstance) =>
  (await app.inject({ method: 'GET', url: TRAFFIC, headers: { authorization: `Bearer ${TOKEN}` } })).json();
const modelOn = async (app: FastifyInstance, name: string) =>
  (await app.inject('/models')).json().models.find((m: { name: string }) => m.name === name);
const predict = (app: FastifyInstance, key: string) =>
  postJson(app, '/predict', { model: 'iris', instances: [IRIS_ROW] }, { 'x-routing-key': key });

/** model.json rewritten beside and renamed into place, as a deploy (or a ConfigMap's symlink swap) does. */
function rewriteConfig(repo: TempRepository, model: string, config: unknown): void {
  repo.write(`${model}/.model.json.next`, JSON.stringify(config));
  renameSync(join(repo.dir, model, '.model.json.next'), join(repo.dir, model, 'model.json'));
}

describe('traffic splits change while the server runs (real sessions)', () => {
  const started = appsPerTest();
  let repo: TempRepository | undefined; // the running app's, for a test to change under it
  const start = (r: TempRepository, env: Record<string, string> = {}) => {
    repo = r;
    return started({ ADMIN_TOKEN: TOKEN, CACHE_ENABLED: 'false', INFERENCE_WORKERS: '2', ...env }, {}, r);
  };
  const irisSplit = (variants: DeclaredVariant[]) =>
    new TempRepository()
      .addOnnx('iris', '1', bundled('iris'), irisConfig(variants))
      .addOnnx('iris', '2', fixture('iris_like.onnx'));

  it('weights changed through the API move the share (90/10 -> 50/50 on 10,000 keys), and keys move only toward the grown variant', async () => {
    const app = await start(irisSplit(SPLIT_90_10));
    const keys = randomKeys(10_000);
    const before = keys.map((key) => app.router.route('iris', undefined, key).variant);
    expect(Math.abs(sharesOf(app, 'iris', keys).canary! - 10)).toBeLessThanOrEqual(2);

    expect((await setWeights(app, { stable: 50, canary: 50 })).statusCode).toBe(200);
    const after = keys.map((key) => app.router.route('iris', undefined, key).variant);
    expect(Math.abs(sharesOf(app, 'iris', keys).canary! - 50)).toBeLessThanOrEqual(2);
    const moved = keys.filter((_, i) => before[i] !== after[i]).length;
    expect(Math.abs(moved / 100 - 40)).toBeLessThanOrEqual(2); // the 40 points canary grew by, and no more
    keys.forEach((_, i) => {
      if (before[i] === 'canary') expect(after[i]).toBe('canary'); // no canary user was sent back
      if (before[i] !== after[i]) expect([before[i], after[i]]).toEqual(['stable', 'canary']);
    });

    // Real requests follow: a key that moved is now answered by version 2; the others are where they were.
    const movedKey = keys.find((_, i) => before[i] === 'stable' && after[i] === 'canary')!;
    const { body } = await predict(app, movedKey);
    expect([body.variant, body.version, body.predictions[0].label]).toEqual(['canary', '2', LABEL_OF_VERSION['2']]);
    const stayedKey = keys.find((_, i) => before[i] === 'stable' && after[i] === 'stable')!;
    expect((await predict(app, stayedKey)).body).toMatchObject({ variant: 'stable', version: '1' });
  });

  it('weights are relative at any scale: 1e308 each or 5e-324 each is 50/50, with and without a key', async () => {
    const app = await start(irisSplit(SPLIT_90_10));
    const keys = randomKeys(4000);
    const unkeyed = () =>
      sharesOf(
        app,
        'iris',
        keys.map(() => ''),
      );
    for (const weight of [1e308, 5e-324]) {
      expect((await setWeights(app, { stable: weight, canary: weight })).statusCode).toBe(200);
      // Their sum overflowed to Infinity (every unkeyed draw went to the last variant); 1/5e-324
      // did too (every key went to the first).
      expect(Math.abs(unkeyed().canary! - 50), `unkeyed at ${weight}`).toBeLessThanOrEqual(4);
      expect(Math.abs(sharesOf(app, 'iris', keys).canary! - 50), `keyed at ${weight}`).toBeLessThanOrEqual(4);
    }
  });

  it("a rescan that finds the same model.json keeps the API's weights; a changed `traffic` replaces them without reloading a version", async () => {
    const app = await start(irisSplit(SPLIT_90_10));
    const runners = app.router.entries('iris').map((e) => e.runner!);
    const keys = runners.map((r) => r.spec.key);
    await setWeights(app, { canary: 90 });

    expect(await app.models.rescan()).toMatchObject({ added: [], replaced: [], removed: [], failed: [] });
    expect((await getSplit(app)).variants.map((v: { weight: number }) => v.weight)).toEqual([90, 90]);

    rewriteConfig(
      repo!,
      'iris',
      irisConfig([
        { name: 'stable', version: 1, weight: 70 },
        { name: 'canary', version: 2, weight: 30 },
      ]),
    );
    expect(await app.models.rescan()).toMatchObject({ added: [], replaced: [], removed: [], failed: [] });
    expect((await getSplit(app)).variants.map((v: { weight: number }) => v.weight)).toEqual([70, 30]);
    expect(app.router.entries('iris').map((e) => e.runner)).toEqual(runners);
    app.router.entries('iris').forEach((e, i) => {
      expect(e.runner).toBe(runners[i]); // the very objects: nothing was reloaded
      expect(e.runner!.spec.key).toBe(keys[i]);
    });
    expect(Math.abs(sharesOf(app, 'iris', randomKeys(10_000)).canary! - 30)).toBeLessThanOrEqual(2);

    // A split removed from model.json: every request goes to the default (highest ready) version, with no variant.
    rewriteConfig(repo!, 'iris', irisConfig());
    await app.models.rescan();
    expect((await predict(app, 'anyone')).body).toMatchObject({ version: '2' });
    expect((await predict(app, 'anyone')).body.variant).toBeUndefined();
    expect(
      (await app.inject({ method: 'GET', url: TRAFFIC, headers: { authorization: `Bearer ${TOKEN}` } })).json().code,
    ).toBe('NO_TRAFFIC_SPLIT');
    expect(app.router.entries('iris').map((e) => e.runner)).toEqual(runners);
  });

  it('a variant whose version appears (folder + rescan) starts taking its share, with no failed request under load', async () => {
    const app = await start(
      new TempRepository().addOnnx(
        'iris',
        '1',
        bundled('iris'),
        irisConfig([
          { name: 'stable', version: 1, weight: 50 },
          { name: 'canary', version: 2, weight: 50 },
        ]),
      ),
    );
    const canary = (await modelOn(app, 'iris')).traffic.variants[1];
    expect(canary).toEqual({
      name: 'canary',
      version: '2',
      weight: 50,
      ready: false,
      reason: 'version 2 is not in the repository',
    });
    expect(sharesOf(app, 'iris', randomKeys(1000))).toEqual({ stable: 100 });

    type Answer = {
      status: number;
      variant?: string;
      version?: string;
      label?: string;
      phase: 'before' | 'rescanning' | 'after';
    };
    const answers: Answer[] = [];
    let phase: Answer['phase'] | 'done' = 'before';
    let reached: (() => void) | undefined;
    const reach = (n: number) =>
      new Promise<void>(
        (resolve) => (reached = () => answers.filter((a) => a.phase === phase).length >= n && resolve()),
      );
    const client = async (c: number) => {
      for (let i = 0; phase !== 'done'; i++) {
        const at = phase;
        const { status, body } = await predict(app, `client-${c}-${i}`);
        answers.push({
          status,
          phase: at,
          ...(status === 200 ? { variant: body.variant, version: body.version, label: body.predictions[0].label } : {}),
        });
        reached?.();
      }
    };
    const clients = Array.from({ length: 4 }, (_, c) => client(c));
    try {
      await reach(40);
      phase = 'rescanning';
      repo!.addOnnx('iris', '2', fixture('iris_like.onnx'));
      expect(await app.models.rescan()).toMatchObject({ added: ['iris@2'], failed: [] });
      phase = 'after';
      await reach(200);
    } finally {
      phase = 'done';
      await Promise.all(clients);
    }

    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    for (const a of answers)
      expect([a.variant, a.label]).toEqual([a.version === '1' ? 'stable' : 'canary', LABEL_OF_VERSION[a.version!]]);
    expect(new Set(answers.filter((a) => a.phase === 'before').map((a) => a.variant))).toEqual(new Set(['stable']));
    const after = answers.filter((a) => a.phase === 'after');
    expect(new Set(after.map((a) => a.variant))).toEqual(new Set(['stable', 'canary'])); // 200 answers at 50/50: all on one side has odds 2^-199
    expect((await modelOn(app, 'iris')).traffic.variants[1]).toEqual({
      name: 'canary',
      version: '2',
      weight: 50,
      ready: true,
    });
    expect(Math.abs(sharesOf(app, 'iris', randomKeys(10_000)).canary! - 50)).toBeLessThanOrEqual(2);
  });

  it('an invalid split in model.json fails the model with the reason on /models; on a rescan it leaves the loaded split serving', async () => {
    const dup = irisConfig([
      { name: 'a', version: 1, weight: 1 },
      { name: 'a', version: 1, weight: 2 },
    ]);
    const zero = irisConfig([
      { name: 'a', version: 1, weight: 0 },
      { name: 'b', version: 1, weight: 0 },
    ]);
    const app = await start(
      irisSplit(SPLIT_90_10).addOnnx('dup', '1', bundled('iris'), dup).addOnnx('zero', '1', bundled('iris'), zero),
    );
    expect((await modelOn(app, 'dup')).versions).toEqual([
      expect.objectContaining({
        state: 'failed',
        reason: 'model.json is invalid: traffic.variants: variant names must be unique',
      }),
    ]);
    expect((await modelOn(app, 'zero')).versions).toEqual([
      expect.objectContaining({
        state: 'failed',
        reason: 'model.json is invalid: traffic.variants: at least one variant needs a weight above 0',
      }),
    ]);
    expect((await postJson(app, '/predict', { model: 'dup', instances: [IRIS_ROW] })).body.code).toBe('MODEL_FAILED');

    // iris, serving its split, gets a model.json with duplicate names: its versions keep serving as
    // loaded, split included.
    const canaryKey = keyFor(app, 'iris', 'canary');
    rewriteConfig(
      repo!,
      'iris',
      irisConfig([
        { name: 'stable', version: 1, weight: 90 },
        { name: 'stable', version: 2, weight: 10 },
      ]),
    );
    await app.models.rescan();
    const iris = await modelOn(app, 'iris');
    expect(iris.versions.map((v: { state: string }) => v.state)).toEqual(['ready', 'ready']);
    expect(iris.versions[0].reload).toMatchObject({
      state: 'failed',
      reason: expect.stringContaining('variant names must be unique'),
    });
    expect(iris.traffic.variants.map((v: { name: string; weight: number }) => [v.name, v.weight])).toEqual([
      ['stable', 90],
      ['canary', 10],
    ]);
    expect((await predict(app, canaryKey)).body).toMatchObject({ variant: 'canary', version: '2' });
  });
});
