import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BUNDLED_MODELS } from './app.js';

export const FIXTURES = new URL('../fixtures/onnx/', import.meta.url).pathname;
/** The fixture model repository: multi-input models of every kind (test/fixtures/build_fixtures.py). */
export const FIXTURE_MODELS = new URL('../fixtures/models/', import.meta.url).pathname;

/** A throw-away model repository laid out as the server expects; remove() when done. */
export class TempRepository {
  readonly dir = mkdtempSync(join(tmpdir(), 'models-'));

  addOnnx(name: string, version: string, source: string, config?: unknown): this {
    mkdirSync(join(this.dir, name, version), { recursive: true });
    copyFileSync(source, join(this.dir, name, version, 'model.onnx'));
    if (config !== undefined)
      writeFileSync(join(this.dir, name, 'model.json'), typeof config === 'string' ? config : JSON.stringify(config));
    return this;
  }

  addBytes(name: string, version: string, bytes: Buffer | string): this {
    return this.write(`${name}/${version}/model.onnx`, bytes);
  }

  /** A symlink at `at` (relative to the repository) pointing at `target`, as given: absolute or relative. */
  symlink(at: string, target: string): this {
    mkdirSync(dirname(join(this.dir, at)), { recursive: true });
    symlinkSync(target, join(this.dir, at));
    return this;
  }

  /** A file at `at` (relative to the repository), its folders made as needed. */
  write(at: string, bytes: Buffer | string = ''): this {
    mkdirSync(dirname(join(this.dir, at)), { recursive: true });
    writeFileSync(join(this.dir, at), bytes);
    return this;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const bundled = (name: string, version = '1') => join(BUNDLED_MODELS, name, version, 'model.onnx');
export const fixture = (file: string) => join(FIXTURES, file);
