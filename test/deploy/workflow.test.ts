import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { describe, expect, it } from 'vitest';
import { parseYamlDocs, readRepoFile, ROOT } from './repo.js';

/** The CI workflow: valid for GitHub Actions (its JSON schema), and running what the README promises. */

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string[];
  steps: Step[];
  strategy?: { matrix?: Record<string, unknown[]> };
  services?: Record<string, { image: string }>;
  env?: Record<string, string>;
}
interface Workflow {
  on: Record<string, unknown>;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const WORKFLOWS = join(ROOT, '.github/workflows');
const FILE = '.github/workflows/ci.yml';
const source = readRepoFile(FILE);
// GitHub reads workflows as YAML 1.2: `on` is a key, not the boolean YAML 1.1 would make it.
const workflow = parseYamlDocs(source, FILE)[0] as Workflow;
const pkg = JSON.parse(readRepoFile('package.json')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};
const jobs = Object.entries(workflow.jobs);
const allSteps = jobs.flatMap(([job, j]) =>
  j.steps.map((step, index) => ({
    job,
    index,
    step,
    run: step.run ?? '',
    env: { ...workflow.env, ...j.env, ...step.env },
  })),
);
const runLines = (job?: string) =>
  allSteps.filter((s) => !job || s.job === job).flatMap((s) => s.run.split('\n').map((l) => l.trim()));
const stepRunning = (pattern: RegExp) => allSteps.find((s) => s.run.split('\n').some((l) => pattern.test(l.trim())));

describe('.github/workflows', () => {
  it.each(readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)))(
    '%s validates against the GitHub workflow schema',
    (file) => {
      const result = validateWorkflow(readRepoFile(`.github/workflows/${file}`));
      expect(result.errors).toEqual([]);
    },
  );

  it('the schema check catches a broken workflow (so a pass means something)', () => {
    expect(validateWorkflow(source.replace(/runs-on:/, 'runs_on:')).errors.length).toBeGreaterThan(0);
  });

  it("runs the README's test command on every Node line package.json's engines names", () => {
    const lines = pkg.engines.node.split('||').map((range) => Number(range.trim().match(/^\^(\d+)\./)![1]));
    expect(lines).toContain(24);
    const test = allSteps.find((s) => s.run.split('\n').some((l) => l.trim() === 'npm test'))!;
    const job = workflow.jobs[test.job]!;
    const setup = job.steps.find((s) => s.uses?.startsWith('actions/setup-node'))!;
    expect(setup.with?.['node-version']).toBe('${{ matrix.node }}');
    expect([...(job.strategy?.matrix?.node ?? [])].sort()).toEqual([...lines].sort());
  });

  it('runs on push and pull request', () => {
    expect(Object.keys(workflow.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
  });

  it('installs with npm ci and the onnxruntime CUDA download skipped, in every job that runs npm', () => {
    for (const [name] of jobs.filter(([name]) => runLines(name).some((l) => /\bnp[mx]\b/.test(l)))) {
      const install = allSteps.find((s) => s.job === name && /^npm ci\b/.test(s.run));
      expect(install, name).toBeDefined();
      expect(install!.env.ONNXRUNTIME_NODE_INSTALL, name).toBe('skip');
    }
  });

  it("runs the README's test command, with redis-server installed first and a Redis service", () => {
    const readmeCommand = /^(npm test)\b/m.exec(readRepoFile('README.md'))?.[1];
    expect(readmeCommand).toBe('npm test');
    const test = allSteps.find((s) => s.run.trim() === readmeCommand);
    expect(test).toBeDefined();
    const redisInstall = allSteps.find((s) => s.job === test!.job && /apt-get install .*\bredis-server\b/.test(s.run));
    expect(redisInstall!.index).toBeLessThan(test!.index);
    expect(workflow.jobs[test!.job]!.services?.redis?.image).toMatch(/^redis:7\b/);
  });

  it('installs every package .ci/run installs for the tests, in each job that runs them', () => {
    const needed = [...readRepoFile('.ci/run').matchAll(/need\+=\(([\w.+-]+)\)/g)].map((m) => m[1]!);
    expect(needed).toContain('redis-server');
    for (const job of ['test', 'coverage']) {
      const install = allSteps.find((s) => s.job === job && /apt-get install/.test(s.run))?.run ?? '';
      for (const pkg of needed) expect(install.split(/\s+/), `${job}: ${pkg}`).toContain(pkg);
    }
  });

  it('type-checks, and lints with ESLint and Prettier through the lint script; the image waits for both', () => {
    expect(pkg.scripts.typecheck).toMatch(/tsc --noEmit/);
    expect(stepRunning(/^npm run typecheck$/)).toBeDefined();
    expect(pkg.scripts.lint).toMatch(/\beslint\b.*--max-warnings 0/);
    expect(pkg.scripts.lint).toMatch(/\bprettier --check\b/);
    const lint = stepRunning(/^npm run lint$/);
    expect(lint).toBeDefined();
    expect(workflow.jobs.image?.needs).toEqual(expect.arrayContaining(['test', lint!.job]));
    expect(pkg.scripts['lint:deps']).toMatch(/\bdepcruise\b.*--config \.dependency-cruiser\.cjs/);
    expect(stepRunning(/^npm run lint:deps$/)?.job).toBe(lint!.job);
  });

  it('.ci/run lints and checks the layers after the type-check and before the tests', () => {
    const commands = readRepoFile('.ci/run')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim());
    const at = (command: string) => commands.indexOf(command);
    expect(at('npm run lint')).toBeGreaterThan(at('npm run typecheck'));
    expect(at('npm run typecheck')).toBeGreaterThanOrEqual(0);
    expect(at('npm run lint')).toBeLessThan(at('npm test'));
    expect(at('npm run lint:deps')).toBeGreaterThan(at('npm run typecheck'));
    expect(at('npm run lint:deps')).toBeLessThan(at('npm test'));
  });

  it('measures coverage with a @vitest/coverage-v8 that matches vitest', () => {
    expect(stepRunning(/^npx vitest run --coverage\b/)).toBeDefined();
    const major = (range?: string) => /(\d+)\./.exec(range ?? '')?.[1];
    expect(major(pkg.devDependencies['@vitest/coverage-v8'])).toBe(major(pkg.devDependencies.vitest));
  });

  it('runs a short benchmark smoke run', () => {
    const bench = stepRunning(/^npm run bench:cache$/);
    expect(pkg.scripts['bench:cache']).toBeDefined();
    expect(bench?.env).toMatchObject({ BENCH_SECONDS: '1', BENCH_CONNECTIONS: '10' });
  });

  it('audits production dependencies', () => {
    expect(stepRunning(/^npm audit --omit=dev --audit-level=high$/)).toBeDefined();
  });

  it('every npm script it runs exists in package.json', () => {
    const scripts = runLines().flatMap((l) => [...l.matchAll(/\bnpm run ([\w:-]+)/g)].map((m) => m[1]!));
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.filter((s) => !(s in pkg.scripts))).toEqual([]);
  });

  it('builds the image, and pushes it to ghcr.io only from main', () => {
    const build = allSteps.find((s) => s.step.uses?.startsWith('docker/build-push-action@'));
    expect(build).toBeDefined();
    expect(String(build!.step.with?.push)).toMatch(
      /github\.event_name == 'push' && github\.ref == 'refs\/heads\/main'/,
    );
    const login = allSteps.find((s) => s.step.uses?.startsWith('docker/login-action@'));
    expect(login?.step.with?.registry).toBe('ghcr.io');
    expect(login?.step.if).toMatch(/refs\/heads\/main/);
    expect(source).toMatch(/images: ghcr\.io\//);
  });
});
