import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scanRepository } from '../../../src/core/models/model-repository.js';
import { PathRedactor } from '../../../src/core/models/repository-root.js';
import { versionFolder } from '../../../src/core/models/version-folder.js';
import { TempRepository } from '../../helpers/repository.js';

/** Scans real folders on disk; the model files are never opened here, so any bytes will do. */
describe('scanRepository', () => {
  const made: TempRepository[] = [];
  const repository = () => {
    const repo = new TempRepository();
    made.push(repo);
    return repo;
  };
  afterEach(() => made.splice(0).forEach((r) => r.remove()));

  const scan = async (dir: string) => {
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const result = await scanRepository(dir, {
      warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, msg }),
    });
    const model = (name: string) => result.models.find((m) => m.name === name)!;
    return { ...result, model, warnings };
  };

  it('refuses a symlink out of MODEL_DIR at every level, and logs where it pointed', async () => {
    const outside = repository().addBytes('elsewhere', '1', 'onnx').write('elsewhere/model.json', '{}');
    const repo = repository()
      .addBytes('good', '1', 'onnx')
      .symlink('linked-model', join(outside.dir, 'elsewhere'))
      .symlink('linked-version/1', join(outside.dir, 'elsewhere/1'))
      .symlink('linked-file/1/model.onnx', join(outside.dir, 'elsewhere/1/model.onnx'))
      .addBytes('linked-config', '1', 'onnx')
      .symlink('linked-config/model.json', join(outside.dir, 'elsewhere/model.json'))
      .symlink('relative/1/model.onnx', '../../../' + outside.dir.split('/').at(-1) + '/elsewhere/1/model.onnx');
    const { model, warnings } = await scan(repo.dir);

    expect(model('good').versions).toEqual([
      { version: '1', file: 'good/1/model.onnx', path: join(realpathSync(repo.dir), 'good/1/model.onnx') },
    ]);
    expect(model('linked-model')).toMatchObject({
      error: 'linked-model is a symlink to outside MODEL_DIR: refused',
      versions: [],
    });
    expect(model('linked-version').versions).toEqual([
      {
        version: '1',
        file: 'linked-version/1/model.onnx',
        path: '',
        refused: 'linked-version/1 is a symlink to outside MODEL_DIR: refused',
      },
    ]);
    expect(model('linked-file').versions[0]).toMatchObject({
      path: '',
      refused: 'linked-file/1/model.onnx is a symlink to outside MODEL_DIR: refused',
    });
    expect(model('relative').versions[0]).toMatchObject({
      path: '',
      refused: 'relative/1/model.onnx is a symlink to outside MODEL_DIR: refused',
    });
    expect(model('linked-config')).toMatchObject({
      error: 'linked-config/model.json is a symlink to outside MODEL_DIR: refused',
    });
    expect(model('linked-config').versions).toHaveLength(1); // the registry fails each version with the model's error

    const refused = warnings.filter((w) => w.msg === 'model repository entry refused');
    expect(refused.map((w) => w.obj.entry).sort()).toEqual([
      'linked-config/model.json',
      'linked-file/1/model.onnx',
      'linked-model',
      'linked-version/1',
      'relative/1/model.onnx',
    ]);
    expect(refused.every((w) => String(w.obj.detail).includes(realpathSync(outside.dir)))).toBe(true);
  });

  it('follows symlinks that stay inside MODEL_DIR, and loads the file they resolve to', async () => {
    const repo = repository()
      .addBytes('iris', '1', 'onnx')
      .symlink('alias', 'iris')
      .symlink('iris/2', '1')
      .symlink('copy/1/model.onnx', '../../iris/1/model.onnx')
      // a Kubernetes ConfigMap volume: model.json -> ..data/model.json -> ..2026_01_01/model.json
      .write('configured/..2026_01_01/model.json', '{"description": "from a ConfigMap"}')
      .symlink('configured/..data', '..2026_01_01')
      .symlink('configured/model.json', '..data/model.json')
      .addBytes('configured', '1', 'onnx');
    const { model, warnings } = await scan(repo.dir);
    const iris1 = join(realpathSync(repo.dir), 'iris/1/model.onnx');

    expect(model('alias').versions.map((v) => [v.version, v.file, v.path])).toEqual([
      ['1', 'alias/1/model.onnx', iris1],
      ['2', 'alias/2/model.onnx', iris1],
    ]);
    expect(model('iris').versions.map((v) => [v.version, v.path])).toEqual([
      ['1', iris1],
      ['2', iris1],
    ]);
    expect(model('copy').versions[0]!.path).toBe(iris1);
    expect(model('configured')).toMatchObject({
      error: undefined,
      config: { description: 'from a ConfigMap' },
      skipped: [],
    });
    expect(warnings).toEqual([]);
  });

  it('refuses a symlink to MODEL_DIR itself and a dangling one, and serves a MODEL_DIR that is itself a symlink', async () => {
    const repo = repository().addBytes('iris', '1', 'onnx').symlink('loop', '.').symlink('iris/2', 'nowhere');
    const { model, models } = await scan(repo.dir);
    expect(model('loop').error).toBe('loop is a symlink to MODEL_DIR itself: refused');
    expect(model('iris').versions[1]).toMatchObject({
      version: '2',
      refused: 'iris/2 is a symlink whose target does not exist',
    });

    const parent = repository().symlink('repo', repo.dir);
    const viaLink = await scan(join(parent.dir, 'repo'));
    expect(viaLink.model('iris').versions[0]!.path).toBe(join(realpathSync(repo.dir), 'iris/1/model.onnx'));
    expect(viaLink.models.map((m) => m.name)).toEqual(models.map((m) => m.name));
  });

  it('serves canonical version folders only, and reports the others with the entry and the reason', async () => {
    const repo = repository()
      .addBytes('iris', '1', 'a')
      .addBytes('iris', '01', 'b')
      .addBytes('iris', '10', 'c')
      .addBytes('iris', '1.0', 'd')
      .addBytes('iris', 'v2', 'e')
      .addBytes('iris', '-1', 'f')
      .addBytes('iris', '0', 'g')
      .addBytes('iris', '9007199254740993', 'h')
      .addBytes('iris', '002', 'i')
      .write('iris/3/README.md', 'the model is coming')
      .write('iris/model.onnx', 'misplaced')
      .write('iris/notes.md', 'a file beside model.json is nobody else’s business')
      .addBytes('iris', '.staging', 'hidden');
    const { model, warnings } = await scan(repo.dir);

    expect(model('iris').versions.map((v) => v.version)).toEqual(['1', '10']);
    expect(model('iris').skipped).toEqual([
      { entry: 'iris/-1', reason: 'not a version folder: versions are positive integers (1, 2, 10)' },
      { entry: 'iris/0', reason: 'version 0 is not a version: versions start at 1' },
      { entry: 'iris/002', reason: 'not the canonical spelling of version 2: rename it to iris/2' },
      { entry: 'iris/01', reason: 'not the canonical spelling of version 1: it collides with iris/1' },
      { entry: 'iris/1.0', reason: 'not a version folder: versions are positive integers (1, 2, 10)' },
      { entry: 'iris/3', reason: 'no model.onnx in this version folder' },
      {
        entry: 'iris/9007199254740993',
        reason: 'a version larger than 9007199254740991 cannot be told apart from its neighbours',
      },
      { entry: 'iris/model.onnx', reason: 'an ONNX file is served from a version folder: put it at iris/1/model.onnx' },
      { entry: 'iris/v2', reason: 'not a version folder: versions are positive integers (1, 2, 10)' },
    ]);
    const logged = warnings.filter((w) => w.msg === 'model repository entry skipped');
    expect(logged.map((w) => w.obj.entry).sort()).toEqual(
      model('iris')
        .skipped.map((s) => s.entry)
        .sort(),
    );
    expect(logged.find((w) => w.obj.entry === 'iris/01')!.obj.path).toBe(join(realpathSync(repo.dir), 'iris/01'));
  });

  it('reports odd top-level entries, and passes over hidden ones and plain files without a word', async () => {
    const repo = repository()
      .addBytes('iris', '1', 'a')
      .addBytes('has space', '1', 'b')
      .addBytes('.git', '1', 'c')
      .write('README.md', '# models')
      .write('digits.onnx', 'misplaced')
      .write('empty/model.json', '{}');
    const { models, skipped, model } = await scan(repo.dir);
    expect(models.map((m) => m.name)).toEqual(['empty', 'iris']);
    expect(model('empty')).toMatchObject({ versions: [], skipped: [] });
    expect(skipped).toEqual([
      { entry: 'digits.onnx', reason: 'an ONNX file at the top level is not served: put it at digits/1/model.onnx' },
      {
        entry: 'has space',
        reason: 'not a model name: letters, digits, _ . and -, starting with a letter or digit, at most 128',
      },
    ]);
  });

  it('does not read a model.json larger than 1 MiB, nor one that is a folder', async () => {
    const repo = repository()
      .addBytes('big', '1', 'a')
      .write('big/model.json', `{"description": "${'x'.repeat(1024 * 1024)}"}`)
      .addBytes('folder', '1', 'b')
      .write('folder/model.json/inside', '{}');
    const { model } = await scan(repo.dir);
    expect(model('big').error).toMatch(/^big\/model\.json is 10485\d\d bytes; the limit is 1048576$/);
    expect(model('folder').error).toBe('folder/model.json is not a file');
  });

  it('serves the versions version_policy names; the rest are listed as skipped with why, without a warning', async () => {
    const repo = repository();
    for (const name of ['all', 'latest', 'specific', 'default'])
      for (const v of ['1', '2', '3']) repo.addBytes(name, v, 'x');
    repo.write('all/model.json', JSON.stringify({ version_policy: { all: {} } }));
    repo.write('latest/model.json', JSON.stringify({ version_policy: { latest: { num_versions: 2 } } }));
    repo.write('specific/model.json', JSON.stringify({ version_policy: { specific: { versions: [1, 3, 7] } } }));
    const { model, warnings } = await scan(repo.dir);
    const versions = (name: string) => model(name).versions.map((v) => v.version);
    expect(versions('default')).toEqual(['1', '2', '3']);
    expect(versions('all')).toEqual(['1', '2', '3']);
    expect(versions('latest')).toEqual(['2', '3']);
    expect(model('latest').skipped).toEqual([{ entry: 'latest/1', reason: 'version_policy serves the latest 2' }]);
    expect(versions('specific')).toEqual(['1', '3']);
    expect(model('specific').skipped).toEqual([
      { entry: 'specific/2', reason: 'version_policy serves versions 1, 3, 7' },
    ]);
    expect(warnings).toEqual([]);
  });

  it('refuses a version_policy that is not one of latest, all, specific', async () => {
    const repo = repository();
    repo.addBytes('m', '1', 'x').write('m/model.json', JSON.stringify({ version_policy: { newest: 1 } }));
    const { model } = await scan(repo.dir);
    expect(model('m').error).toMatch(/^model.json is invalid: version_policy/);
  });
});

describe('versionFolder', () => {
  it.each(['1', '2', '10', '123456789', String(Number.MAX_SAFE_INTEGER)])('serves %s', (name) => {
    expect(versionFolder(name)).toEqual({ version: name });
  });

  it.each([
    ['01', '1'],
    ['007', '7'],
  ])('refuses %s, which is another name of version %s', (name, sameAs) => {
    expect(versionFolder(name)).toMatchObject({ sameAs });
  });

  it.each([
    '0',
    '00',
    '1.0',
    '-1',
    '+1',
    'v1',
    '1e3',
    ' 1',
    '1 ',
    '0x10',
    '١',
    '9007199254740992',
    '99999999999999999999',
  ])('refuses %j', (name) => {
    expect(versionFolder(name)).toHaveProperty('problem');
    expect(versionFolder(name)).not.toHaveProperty('sameAs');
  });
});

describe('PathRedactor', () => {
  it('names files relative to the repository and the repository itself MODEL_DIR, the longer path first', () => {
    const redactor = new PathRedactor(['/srv/models/', '/private/srv/models']);
    expect(redactor.redact('Load model from /private/srv/models/iris/1/model.onnx failed')).toBe(
      'Load model from iris/1/model.onnx failed',
    );
    expect(redactor.redact('open /srv/models/iris/1/model.onnx; scan /srv/models')).toBe(
      'open iris/1/model.onnx; scan MODEL_DIR',
    );
    expect(redactor.redact('/srv/other/x')).toBe('/srv/other/x');
  });

  it('never treats the root folder as a prefix', () => {
    expect(new PathRedactor(['/']).redact('/etc/passwd')).toBe('/etc/passwd');
  });
});
