import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { statSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/servers.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const npm = (args: string[], cwd: string) =>
  run('npm', args, { cwd, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 16 * 1024 * 1024 });

/**
 * The package as a user gets it: `npm pack` (its prepack builds dist/), the tarball installed in an
 * empty folder with production dependencies only, then the `onnx-serve` bin run from there.
 * Packed from a copy of the sources, so the working tree's dist/ is left alone.
 */
describe('the packed onnx-serve, installed from its tarball', () => {
  const work = mkdtempSync(join(tmpdir(), 'onnx-serve-pack-'));
  const installed = join(work, 'app');
  const bin = join(installed, 'node_modules/.bin/onnx-serve');
  const models = join(installed, 'node_modules/onnx-serve/models');

  beforeAll(async () => {
    const source = join(work, 'source');
    mkdirSync(source);
    for (const entry of [
      'src',
      'models',
      'proto',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'README.md',
    ]) {
      cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'));
    await npm(['pack', '--pack-destination', work], source);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
    mkdirSync(installed);
    await npm(['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball)], installed);
  }, 240_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ships dist/ and the bundled models, and no sources or tests', () => {
    const files = readdirSync(join(installed, 'node_modules/onnx-serve'));
    expect(files).toEqual(expect.arrayContaining(['dist', 'models', 'proto', 'package.json', 'README.md']));
    expect(readdirSync(join(installed, 'node_modules/onnx-serve/dist/client'))).toEqual(
      expect.arrayContaining(['index.js', 'index.d.ts']),
    );
    expect(files).not.toContain('src');
    expect(files).not.toContain('test');
  });

  it('npm run build leaves dist/cli.js executable, so npx onnx-serve runs after npm start', () => {
    // npm pack ran prepack (npm run build) in the source copy; tsc writes files without the run bit.
    expect(statSync(join(work, 'source/dist/cli.js')).mode & 0o111).toBe(0o111);
  });

  it('onnx-serve check passes the bundled models', async () => {
    const { stdout } = await run(bin, ['check', models]);
    expect(stdout).toMatch(/^OK: 6 models/m);
  }, 60_000);

  it('onnx-serve serve answers /predict and gRPC ModelInfer through the exported clients, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const grpcPort = await freePort();
    const args = ['serve', '--model-dir', models, '--port', String(port), '--grpc-port', String(grpcPort)];
    const server = spawn(bin, [...args, '--host', '127.0.0.1'], { stdio: 'ignore' });
    try {
      let ready = 0;
      for (let i = 0; i < 300 && ready !== 200; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(200);
      // The typed client, imported by the package's name as a client app would.
      const script = [
        "import { OnnxServeClient, OnnxServeError } from 'onnx-serve';",
        "import { OnnxServeGrpcClient } from 'onnx-serve/grpc';",
        `const client = new OnnxServeClient('http://127.0.0.1:${port}');`,
        "const answer = await client.predict('iris', { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 });",
        "const refused = await client.predict('nope', {}).catch((err) => err);",
        `const grpc = new OnnxServeGrpcClient('127.0.0.1:${grpcPort}');`,
        "const x = { dtype: 'float32', shape: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) };",
        "const viaGrpc = await grpc.infer('iris', [{ name: 'input', tensor: x }]);",
        'grpc.close();',
        'const p = viaGrpc.outputs.probabilities;',
        'console.log(JSON.stringify({ label: answer.label, error: refused instanceof OnnxServeError ? refused.code : String(refused), grpc: [p.shape, p.data.indexOf(Math.max(...p.data))] }));',
      ].join('\n');
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: installed });
      expect(JSON.parse(stdout)).toEqual({ label: 'setosa', error: 'MODEL_NOT_FOUND', grpc: [[1, 3], 0] });
    } finally {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    }
  }, 60_000);
});
