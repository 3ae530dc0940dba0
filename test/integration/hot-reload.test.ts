import { copyFileSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { ModelRuntime } from '../../src/core/serving/model-runtime.js';
import { OnnxRuntime } from '../../src/runtime/onnx-runtime.js';
import { HeldRuntime } from '../helpers/held-runtime.js';
import { appsPerTest, postJson } from '../helpers/app.js';
import { bundled, fixture, TempRepository } from '../helpers/repository.js';

/** iris's model.json without its card's sha256s, so its file may be swapped for another. */
const IRIS_CONFIG = (() => {
  const config = JSON.parse(readFileSync(new URL('../../models/iris/model.json', import.meta.url), 'utf8'));
  delete config.card;
  return config;
})();
const ROW = [5.1, 3.5, 1.4, 0.2]; // iris answers setosa; iris_like.onnx (other weights) answers virginica

/** A repository of iris versions; files are written beside and renamed in, as a deploy should. */
function irisRepository(versions: Record<string, string>, config: unknown = IRIS_CONFIG): TempRepository {
  const repo = new TempRepository();
  for (const [version, file] of Object.entries(versions)) repo.addOnnx('iris', version, file, config);
  return repo;
}

function replaceFile(repo: TempRepository, at: string, source: string | Buffer): void {
  const staged = join(repo.dir, `.staged-${process.pid}`);
  if (typeof source === 'string') copyFileSync(source, staged);
  else repo.write(`.staged-${process.pid}`, source);
  repo.write(at.replace(/[^/]+$/, '.keep')); // makes the folder
  renameSync(staged, join(repo.dir, at));
}

const predict = (app: FastifyInstance, version?: string) =>
  postJson(app, '/predict', { model: 'iris', ...(version ? { version } : {}), instances: [ROW] });
const label = (body: { predictions: { label: string }[] }) => body.predictions[0]!.label;
const versionsOn = async (app: FastifyInstance) =>
  (await app.inject('/models')).json().models.find((m: { name: string }) => m.name === 'iris').versions;

const heldRuntime = () =>
  new HeldRuntime(
    new OnnxRuntime({ workers: 2, intraOpThreads: 1, interOpThreads: 1, inlineMaxRowMicros: 0, nice: 0 }),
  );

/** Waits for a condition the server reaches on its own (no duration is asserted). */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`never happened: ${what}`);
}

describe('hot reload: the repository changes while the server runs (real sessions, 2 workers)', () => {
  const started = appsPerTest();
  let repo: TempRepository | undefined; // the running app's, for a test to change under it
  const start = (r: TempRepository, runtime: ModelRuntime = heldRuntime(), env: Record<string, string> = {}) => {
    repo = r;
    return started({ INFERENCE_WORKERS: '2', ...env }, { runtime }, r);
  };

  it('a new version loads in the background and serves only once ready', async () => {
    const runtime = heldRuntime();
    const app = await start(irisRepository({ '1': bundled('iris') }), runtime);
    let letLoad!: () => void;
    runtime.loadGate = new Promise((resolve) => (letLoad = resolve));
    runtime.heldFiles.add('iris/2/model.onnx');
    repo!.addOnnx('iris', '2', fixture('iris_like.onnx'));
    const rescan = app.models.rescan();
    try {
      await until(
        async () => (await versionsOn(app)).some((v: { version: string }) => v.version === '2'),
        'version 2 listed',
      );
      expect((await versionsOn(app)).map((v: { version: string; state: string }) => [v.version, v.state])).toEqual([
        ['1', 'ready'],
        ['2', 'loading'],
      ]);
      const meanwhile = await predict(app);
      expect([meanwhile.status, meanwhile.body.version, label(meanwhile.body)]).toEqual([200, '1', 'setosa']);
      const early = await predict(app, '2');
      expect([early.status, early.body.code]).toEqual([503, 'MODEL_NOT_READY']);
    } finally {
      letLoad();
    }
    expect(await rescan).toMatchObject({ added: ['iris@2'], replaced: [], removed: [], failed: [] });
    const after = await predict(app);
    expect([after.status, after.body.version, label(after.body)]).toEqual([200, '2', 'virginica']);
    expect((await predict(app, '1')).body.version).toBe('1');
  });

  it('a changed file replaces its version once warm, with no failed request while clients loop', async () => {
    const app = await start(irisRepository({ '1': bundled('iris') }));
    const answers: { status: number; label?: string; afterSwap: boolean }[] = [];
    let swapped = false;
    let stop = false;
    const client = async () => {
      while (!stop) {
        const afterSwap = swapped;
        const { status, body } = await predict(app);
        answers.push({ status, afterSwap, ...(status === 200 ? { label: label(body) } : {}) });
      }
    };
    const clients = Array.from({ length: 4 }, client);
    let oldSha: string;
    try {
      await until(() => answers.length >= 40, 'answers before the swap');
      oldSha = (await versionsOn(app))[0].sha256;
      replaceFile(repo!, 'iris/1/model.onnx', fixture('iris_like.onnx'));
      expect(await app.models.rescan()).toMatchObject({ added: [], replaced: ['iris@1'], removed: [], failed: [] });
      swapped = true;
      const seen = answers.length;
      await until(() => answers.length >= seen + 40, 'answers after the swap');
    } finally {
      stop = true;
      await Promise.all(clients);
    }

    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers[0]!.label).toBe('setosa');
    expect(new Set(answers.filter((a) => a.afterSwap).map((a) => a.label))).toEqual(new Set(['virginica']));
    // once switched, never back: the old session is gone
    const firstNew = answers.findIndex((a) => a.label === 'virginica');
    expect(answers.slice(firstNew).every((a) => a.label === 'virginica')).toBe(true);
    const [v1] = await versionsOn(app);
    expect(v1.state).toBe('ready');
    expect(v1.sha256).not.toBe(oldSha);
    expect(app.logs.lines.some((l) => l.msg === 'model version unloaded' && l.sha256 === oldSha)).toBe(true);
  });

  it('a removed version stops taking requests at once; those in flight complete, then it unloads', async () => {
    const runtime = heldRuntime();
    const app = await start(irisRepository({ '1': bundled('iris'), '2': bundled('iris') }), runtime);
    runtime.hold();
    const inflight = [predict(app, '2'), predict(app, '2'), predict(app, '2')];
    await until(() => runtime.waiting > 0, 'requests on the runtime');

    let rescan: Promise<unknown>;
    try {
      rmSync(join(repo!.dir, 'iris', '2'), { recursive: true });
      let finished = false;
      rescan = app.models.rescan().then((r) => ((finished = true), r));
      await until(() => app.router.entries('iris').every((e) => e.version !== '2'), 'version 2 out of routing');

      const refused = await predict(app, '2');
      expect(refused.status).toBe(404);
      expect(refused.body).toMatchObject({
        code: 'VERSION_NOT_FOUND',
        error: 'model "iris" version 2 was unloaded: iris/2/model.onnx was removed from the repository',
      });
      expect(finished).toBe(false); // still waiting for the held requests
    } finally {
      runtime.release();
    }
    expect((await Promise.all(inflight)).map((r) => [r.status, r.body.version])).toEqual([
      [200, '2'],
      [200, '2'],
      [200, '2'],
    ]);
    expect(await rescan).toMatchObject({ removed: ['iris@2'] });
    expect(app.logs.lines.some((l) => l.msg === 'model version unloaded' && l.version === '2')).toBe(true);
    expect((await predict(app)).body.version).toBe('1');
  });

  it('a corrupt file leaves the old version serving, reported on /models and ml_model_state, and is not retried', async () => {
    const app = await start(irisRepository({ '1': bundled('iris') }));
    replaceFile(repo!, 'iris/1/model.onnx', Buffer.from('not an onnx file'));
    repo!.addBytes('iris', '2', 'neither is this');
    // The two versions load at once: the order they fail in is the order they finish in
    const rescan = await app.models.rescan();
    expect({ ...rescan, failed: [...rescan.failed].sort() }).toMatchObject({
      added: [],
      replaced: [],
      failed: ['iris@1', 'iris@2'],
    });

    const served = await predict(app);
    expect([served.status, served.body.version, label(served.body)]).toEqual([200, '1', 'setosa']);
    const [v1, v2] = await versionsOn(app);
    expect(v1).toMatchObject({ version: '1', state: 'ready', reload: { state: 'failed' } });
    expect(v1.reload.reason).toContain('cannot load the ONNX file');
    expect(v2).toMatchObject({ version: '2', state: 'failed' });
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toContain('ml_model_state{model="iris",version="1",state="ready"} 1');
    expect(metrics).toContain('ml_model_state{model="iris",version="1",state="reload_failed"} 1');
    expect(metrics).toContain('ml_model_state{model="iris",version="2",state="failed"} 1');

    // The same bytes: not loaded again
    expect(await app.models.rescan()).toMatchObject({ added: [], replaced: [], failed: [] });
    replaceFile(repo!, 'iris/1/model.onnx', bundled('iris')); // fixed: the reload failure clears
    await app.models.rescan();
    expect((await versionsOn(app))[0].reload).toBeUndefined();
  });

  it('a scan that fails changes nothing and is logged', async () => {
    const app = await start(irisRepository({ '1': bundled('iris') }));
    const moved = `${repo!.dir}-away`;
    renameSync(repo!.dir, moved);
    try {
      const result = await app.models.rescan();
      expect(result.error).toContain('cannot read the model repository');
      expect((await predict(app)).status).toBe(200);
      expect(
        app.logs.lines.some(
          (l) => l.level === 50 && String(l.msg).startsWith('model repository rescan failed; nothing changed'),
        ),
      ).toBe(true);
    } finally {
      renameSync(moved, repo!.dir);
    }
  });

  it('MODEL_POLL_INTERVAL_S rescans on its own', async () => {
    const app = await start(irisRepository({ '1': bundled('iris') }), undefined, { MODEL_POLL_INTERVAL_S: '0.05' });
    repo!.addOnnx('iris', '2', fixture('iris_like.onnx'));
    await until(async () => (await predict(app)).body.version === '2', 'version 2 served');
    expect(label((await predict(app)).body)).toBe('virginica');
  });

  it('version_policy latest 1 serves only the newest version, and moves to a newer one on rescan', async () => {
    const app = await start(
      irisRepository(
        { '1': bundled('iris'), '2': bundled('iris'), '3': fixture('iris_like.onnx') },
        { ...IRIS_CONFIG, version_policy: { latest: { num_versions: 1 } } },
      ),
    );
    expect((await versionsOn(app)).map((v: { version: string }) => v.version)).toEqual(['3']);
    const older = await predict(app, '1');
    expect([older.status, older.body.code]).toEqual([404, 'VERSION_NOT_FOUND']);
    expect([(await predict(app)).body.version, label((await predict(app)).body)]).toEqual(['3', 'virginica']);

    repo!.addOnnx('iris', '4', bundled('iris'));
    expect(await app.models.rescan()).toMatchObject({ added: ['iris@4'], removed: ['iris@3'] });
    expect((await versionsOn(app)).map((v: { version: string }) => v.version)).toEqual(['4']);
    expect([(await predict(app)).body.version, label((await predict(app)).body)]).toEqual(['4', 'setosa']);
  });
});
