import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { validate } from 'dockerfile-utils';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { configSchema, loadConfig } from '../../src/config.js';
import { args, dockerStages, dockerUser, ofKind } from './dockerfile-facts.js';
import { loadDockerfile, readRepoFile, ROOT } from './repo.js';

/** No Docker engine here: the Dockerfile is parsed, linted, and its shell and health check are run. */

const run = promisify(execFile);
const { text } = loadDockerfile();
const stages = dockerStages();
const build = stages[0]!;
const final = stages.at(-1)!;
const runs = (stage: typeof build) => ofKind(stage, 'RUN').map(args);
const envOf = (stage: typeof build) =>
  Object.fromEntries(
    ofKind(stage, 'ENV').flatMap((i) => [...args(i).matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
  );

describe('Dockerfile', () => {
  it('lints clean (dockerfile-utils, the VS Code Docker linter)', () => {
    expect(
      validate(text).map(
        (d) => `line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`,
      ),
    ).toEqual([]);
  });

  it('is multi-stage, every stage on a slim image of Node 24 (the current LTS), a line package.json supports', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages)
      expect(stage.image, stage.name).toMatch(/^node:24([.\d]*)?-(\w+-)?slim(@sha256:[0-9a-f]{64})?$/);
    const engines = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }
    ).engines.node;
    expect(engines.split('||').map((range) => range.trim().match(/^\^(\d+)\./)?.[1])).toContain('24');
  });

  it('runs npm ci with the onnxruntime CUDA download skipped, then prunes dev dependencies', () => {
    const ci = ofKind(build, 'RUN').findIndex((i) => /\bnpm ci\b/.test(args(i)));
    expect(ci).toBeGreaterThanOrEqual(0);
    const ciLine = ofKind(build, 'RUN')[ci]!.getRange().start.line;
    const skipped = ofKind(build, 'ENV').some(
      (i) => i.getRange().start.line < ciLine && /ONNXRUNTIME_NODE_INSTALL=skip/.test(args(i)),
    );
    expect(skipped || /ONNXRUNTIME_NODE_INSTALL=skip npm ci/.test(runs(build).join('\n'))).toBe(true);
    expect(runs(build).join('\n')).toMatch(/npm run build\b.*npm prune --omit=dev/s);
  });

  it.each([
    ['amd64', 'x64'],
    ['', 'x64'],
    ['arm64', 'arm64'],
  ])('TARGETARCH=%j keeps only the linux/%s onnxruntime binaries', async (targetArch, keep) => {
    const prune = runs(build).find((r) => r.includes('onnxruntime-node/bin'));
    expect(prune).toBeDefined();
    // The same shell command on a fake tree laid out like the package's bin/.
    const dir = mkdtempSync(join(tmpdir(), 'ort-bin-'));
    try {
      for (const platform of ['darwin/arm64', 'darwin/x64', 'linux/x64', 'linux/arm64', 'win32/x64', 'win32/arm64']) {
        mkdirSync(join(dir, 'node_modules/onnxruntime-node/bin/napi-v6', platform), { recursive: true });
        writeFileSync(join(dir, 'node_modules/onnxruntime-node/bin/napi-v6', platform, 'libonnxruntime.so'), 'x');
      }
      await run('sh', ['-c', prune!], { cwd: dir, env: { ...process.env, TARGETARCH: targetArch } });
      const bin = join(dir, 'node_modules/onnxruntime-node/bin/napi-v6');
      expect(readdirSync(bin)).toEqual(['linux']);
      expect(readdirSync(join(bin, 'linux'))).toEqual([keep]);
      expect(readdirSync(join(bin, 'linux', keep))).toEqual(['libonnxruntime.so']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['amd64', 'x64'],
    ['', 'x64'],
    ['arm64', 'arm64'],
  ])('TARGETARCH=%j keeps only the linux-%s-gnu tokenizers binary', async (targetArch, keep) => {
    const prune = runs(build).find((r) => r.includes('node_modules/tokenizers'));
    expect(prune).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'tokenizers-bin-'));
    try {
      const pkg = join(dir, 'node_modules/tokenizers');
      mkdirSync(pkg, { recursive: true });
      const platforms = ['linux-x64-gnu', 'linux-x64-musl', 'linux-arm64-gnu', 'darwin-arm64', 'win32-x64-msvc'];
      for (const platform of platforms) writeFileSync(join(pkg, `tokenizers.${platform}.node`), 'x');
      writeFileSync(join(pkg, 'index.js'), 'x');
      await run('sh', ['-c', prune!], { cwd: dir, env: { ...process.env, TARGETARCH: targetArch } });
      expect(readdirSync(pkg).sort()).toEqual(['index.js', `tokenizers.linux-${keep}-gnu.node`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships the build, production node_modules, package.json (ESM) and the bundled models', () => {
    const copies = ofKind(final, 'COPY').map((i) => args(i));
    expect(copies).toEqual(
      expect.arrayContaining([
        'package.json ./',
        '/app/node_modules ./node_modules',
        '/app/dist ./dist',
        'models ./models',
        'proto ./proto',
      ]),
    );
    const fromBuild = ofKind(final, 'COPY').filter((i) => /node_modules|dist/.test(args(i)));
    for (const copy of fromBuild)
      expect(text.split('\n')[copy.getRange().start.line]).toContain(`--from=${build.name}`);
    // MODEL_DIR is where the models are copied: WORKDIR + models.
    const workdir = args(ofKind(final, 'WORKDIR').at(-1)!);
    expect(envOf(final).MODEL_DIR).toBe(`${workdir}/models`);
  });

  it('runs as a non-root uid that it creates', () => {
    const { uid, gid, useradd } = dockerUser();
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    expect(useradd).toMatch(/--no-create-home|-M\b/);
    const userLine = ofKind(final, 'USER').at(-1)!.getRange().start.line;
    expect(ofKind(final, 'CMD').every((c) => c.getRange().start.line > userLine)).toBe(true);
  });

  it('exposes the ports the server listens on by default (HTTP and gRPC)', () => {
    const { PORT: port, GRPC_PORT: grpcPort } = configSchema.parse({});
    expect(ofKind(final, 'EXPOSE').map(args)).toEqual([`${port} ${grpcPort}`]);
    expect(envOf(final).PORT ?? String(port)).toBe(String(port));
  });

  it('starts node dist/server.js as PID 1 in exec form (SIGTERM reaches the server), never npm', () => {
    expect(ofKind(final, 'ENTRYPOINT')).toEqual([]);
    const cmd = ofKind(final, 'CMD');
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(args(cmd[0]!))).toEqual(['node', 'dist/server.js']);
    expect(text).not.toMatch(/^\s*(CMD|ENTRYPOINT)\b.*\bnpm\b/m);
  });

  it('adds no curl or wget', () => {
    const instructions = stages.flatMap((s) => s.instructions.map(args)).join('\n');
    expect(instructions).toMatch(/HEALTHCHECK|fetch\(/);
    expect(instructions).not.toMatch(/\b(curl|wget)\b/);
    expect(runs(final).join('\n')).not.toMatch(/apt-get install/);
  });
});

describe('the Dockerfile HEALTHCHECK', () => {
  const healthcheck = ofKind(final, 'HEALTHCHECK');
  const command = (): string[] => JSON.parse(args(healthcheck[0]!).replace(/^.*?\bCMD\s+/, ''));
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    app = await buildApp(loadConfig({ MODEL_DIR: `${ROOT}models`, LOG_LEVEL: 'silent', INFERENCE_WORKERS: '1' }));
    await app.modelsLoaded;
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is one exec-form node -e command against /health', () => {
    expect(healthcheck).toHaveLength(1);
    const [node, flag, script] = command();
    expect([node, flag]).toEqual(['node', '-e']);
    expect(script).toContain('/health');
  });

  it('exits 0 while the server answers, 1 when nothing listens', async () => {
    const [node, ...rest] = command();
    const check = (p: number) =>
      run(node!, rest, { env: { ...process.env, PORT: String(p) }, timeout: 10_000 }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    expect(await check(port)).toBe(0);
    await app.close();
    expect(await check(port)).toBe(1);
  });
});

describe('.dockerignore', () => {
  const patterns = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  // Docker's rules for what we use: `*` within a segment, `**` across them, a match ignores the subtree.
  const toRegExp = (p: string) =>
    new RegExp(
      `^${p
        .replace(/^\//, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\/?/g, '\uE000') // a private-use character holds `**`'s place while `*` is rewritten
        .replace(/\*/g, '[^/]*')
        .replace(/\uE000/g, '(.*/)?')}(/.*)?$`,
    );
  const ignored = (path: string) =>
    patterns.reduce(
      (out, p) =>
        p.startsWith('!') ? (toRegExp(p.slice(1)).test(path) ? false : out) : toRegExp(p).test(path) ? true : out,
      false,
    );

  it('keeps the host node_modules, dist and .git out of the build context', () => {
    for (const path of ['node_modules/fastify/package.json', 'dist/server.js', '.git/HEAD', 'test/core/x.test.ts'])
      expect(ignored(path), path).toBe(true);
  });

  it('keeps everything the Dockerfile copies from the context, and the models it serves', () => {
    const sources = ofKind(build, 'COPY')
      .concat(ofKind(final, 'COPY'))
      .filter((i) => !/--from=/.test(text.split('\n')[i.getRange().start.line]!))
      .flatMap((i) => args(i).split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'models', 'proto']));
    for (const path of [
      ...sources,
      'src/server.ts',
      'proto/grpc_predict_v2.proto',
      'models/iris/model.json',
      'models/iris/1/model.onnx',
    ])
      expect(ignored(path), path).toBe(false);
    expect(ignored('models/iris/holdout.json')).toBe(true);
  });
});
