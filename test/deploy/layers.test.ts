import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const depcruise = join(ROOT, 'node_modules/.bin/depcruise');

/** The rule names dependency-cruiser reports for a tree, empty when it passes. */
async function violations(cwd: string): Promise<string[]> {
  try {
    await run(depcruise, ['src', '--config', CONFIG, '--output-type', 'err'], { cwd });
    return [];
  } catch (err) {
    const output = (err as { stdout: string }).stdout;
    return [...output.matchAll(/error ([a-z-]+):/g)].map((m) => m[1]!).sort();
  }
}

describe('the layer rules (.dependency-cruiser.cjs, npm run lint:deps)', () => {
  const tree = mkdtempSync(join(tmpdir(), 'layers-'));
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it('src passes them: no import cycle, type-only ones included, and no layer crossed', async () => {
    expect(await violations(ROOT)).toEqual([]);
  }, 60_000);

  it('catch a cycle, core importing a framework, another layer or a core folder above its own, a plugin importing a protocol', async () => {
    const write = (path: string, text: string) => {
      mkdirSync(join(tree, path, '..'), { recursive: true });
      writeFileSync(join(tree, path), text);
    };
    write('tsconfig.json', '{"compilerOptions":{"module":"nodenext","moduleResolution":"nodenext","strict":true}}');
    write('src/core/models/a.ts', "import type { B } from './b.js';\nexport type A = { b?: B };\n");
    write('src/core/models/b.ts', "import type { A } from './a.js';\nexport type B = { a?: A };\n");
    write('src/core/serving/uses-plugin.ts', "import { x } from '../../plugins/thing.js';\nexport const y = x;\n");
    write(
      'src/core/serving/uses-fastify.ts',
      `import Fastify from '${join(ROOT, 'node_modules/fastify/fastify.js')}';\nexport const app = Fastify;\n`,
    );
    write('src/plugins/thing.ts', "import { route } from '../protocols/route.js';\nexport const x = route;\n");
    write('src/protocols/route.ts', 'export const route = 1;\n');
    write('src/core/models/up.ts', "import { z } from '../serving/below.js';\nexport const up = z;\n");
    write('src/core/serving/below.ts', 'export const z = 1;\n');
    expect(await violations(tree)).toEqual([
      'core-free-of-frameworks',
      'core-imports-core',
      'core-models-layer',
      'no-cycle',
      'plugins-not-protocols',
    ]);
  }, 60_000);
});
