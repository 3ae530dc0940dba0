import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from './helpers/app.js';
import { bundled, TempRepository } from './helpers/repository.js';

const run = promisify(execFile);
const ROOT = new URL('../', import.meta.url).pathname;

/**
 * `onnx-serve ...` from the sources (the installed package is tested in deploy/package.test.ts): stdout,
 * stderr, exit code.
 */
async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('onnx-serve check', () => {
  const broken = new TempRepository()
    .addOnnx('iris', '1', bundled('iris'), { task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] })
    .addOnnx('iris', '01', bundled('iris'))
    .addBytes('corrupt', '1', 'not an onnx file')
    .addOnnx('mislabelled', '1', bundled('iris'), { task: 'classification', labels: ['only', 'two'] });
  afterAll(() => broken.remove());

  it('passes the bundled repository, printing every model with its tensors', async () => {
    const { stdout, code } = await cli('check', BUNDLED_MODELS);
    expect(code).toBe(0);
    for (const name of ['iris', 'breast_cancer', 'diabetes', 'digits', 'digits_large', 'topics'])
      expect(stdout).toContain(`\n${name}: `);
    expect(stdout).toContain('inputs:  input float32[batch,4]');
    expect(stdout).toContain('outputs: probabilities float32[batch,3]');
    expect(stdout).toMatch(/^OK: 6 models, 6 versions, 0 errors, 0 warnings$/m);
    expect(stdout).toContain('/predict: texts');
  });

  it('fails a broken repository, naming each broken version and each skipped entry, with no absolute path', async () => {
    const { stdout, code } = await cli('check', broken.dir);
    expect(code).toBe(1);
    expect(stdout).toMatch(/corrupt\/1: failed: cannot load the ONNX file/);
    expect(stdout).toMatch(/mislabelled\/1: failed: .*label/i);
    expect(stdout).toMatch(/iris\/01: skipped: .*collides with iris\/1/);
    expect(stdout).toMatch(/^FAILED: 3 models/m);
    expect(stdout.replace(`repository ${broken.dir}`, '')).not.toContain(broken.dir);
  });

  it('--json prints the report; --strict fails on warnings alone', async () => {
    const warnOnly = new TempRepository().addOnnx('iris', '1', bundled('iris')).addOnnx('iris', '01', bundled('iris'));
    try {
      const plain = await cli('check', warnOnly.dir, '--json');
      expect(plain.code).toBe(0);
      const report = JSON.parse(plain.stdout) as {
        ok: boolean;
        errors: string[];
        warnings: string[];
        models: { name: string }[];
      };
      expect(report).toMatchObject({ ok: true, errors: [] });
      expect(report.warnings).toHaveLength(1);
      expect(report.models.map((m) => m.name)).toEqual(['iris']);
      expect((await cli('check', warnOnly.dir, '--strict')).code).toBe(1);
    } finally {
      warnOnly.remove();
    }
  });

  it('fails a repository that does not exist', async () => {
    const { stdout, code } = await cli('check', '/nonexistent/models');
    expect(code).toBe(1);
    expect(stdout).toContain('cannot read the model repository');
  });
});

describe('onnx-serve serve --exit-on-error', () => {
  const broken = new TempRepository()
    .addOnnx('iris', '1', bundled('iris'))
    .addBytes('corrupt', '1', 'not an onnx file');
  afterAll(() => broken.remove());
  const serve = (dir: string, ...flags: string[]) =>
    cli('serve', '--model-dir', dir, '--port', '0', '--grpc-port', '0', '--host', '127.0.0.1', ...flags);

  it('exits 1 when MODEL_DIR does not exist, or when a version fails to load, naming why', async () => {
    const missing = await serve('/nonexistent/models', '--exit-on-error');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('cannot read the model repository (MODEL_DIR): ENOENT');
    const failed = await serve(broken.dir, '--exit-on-error');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/"problems":\["corrupt@1: [^"]+"\]/);
  });
});

describe('onnx-serve usage', () => {
  it.each([['--help'], ['check', '--help'], ['serve', '--help']])('%s prints help and exits 0', async (...args) => {
    const { stdout, code } = await cli(...args);
    expect(code).toBe(0);
    expect(stdout).toMatch(/onnx-serve/);
    expect(stdout).toMatch(/--/);
  });

  it('a bad command or flag is a usage error (exit 2)', async () => {
    for (const args of [['launch'], ['check', '--bogus'], ['serve', '--port']]) {
      const { stderr, code } = await cli(...args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toContain('Usage:');
    }
  });
});
