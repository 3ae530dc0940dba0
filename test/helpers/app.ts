import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

export const BUNDLED_MODELS = new URL('../../models/', import.meta.url).pathname;

/** Log lines the app wrote, parsed. */
export interface CapturedLogs {
  lines: Record<string, unknown>[];
}

export type TestApp = FastifyInstance & { logs: CapturedLogs };

/** startApp's deps: the app's, and whether to wait for the models (by default it does). */
export type StartDeps = AppDeps & { waitForModels?: boolean };

/**
 * The real app on real models, one worker thread unless told otherwise; resolves once every
 * model has loaded or failed. Close it in afterAll/afterEach.
 */
export async function startApp(env: Record<string, string> = {}, deps: StartDeps = {}): Promise<TestApp> {
  const logs: CapturedLogs = { lines: [] };
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.lines.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({ MODEL_DIR: BUNDLED_MODELS, LOG_LEVEL: 'info', INFERENCE_WORKERS: '1', ...env });
  const app = await buildApp(config, { logStream: stream, ...deps });
  if (deps.waitForModels !== false) await app.modelsLoaded;
  return Object.assign(app, { logs });
}

/** A throw-away model repository (test/helpers/repository.ts's TempRepository). */
export interface Removable {
  dir: string;
  remove(): void;
}

/**
 * The app for a describe block: started in beforeAll (on `repo` when given: its dir is the
 * MODEL_DIR), closed in afterAll, and the throw-away repository removed then. Returns a getter:
 * `const app = appFor(env); ... app().inject(...)`. `env` may be a function, read as the app starts,
 * for a setting known only then (a Redis server's URL, started in an earlier beforeAll). A beforeAll
 * registered after appFor sees the app started (to listen on a port, or to send what every test
 * reads); an afterAll registered before it runs after the close (hooks run as a stack).
 */
export function appFor(
  env: Record<string, string> | (() => Record<string, string>),
  repo?: Removable,
  deps: AppDeps = {},
): () => TestApp {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp(
      { ...(repo ? { MODEL_DIR: repo.dir } : {}), ...(typeof env === 'function' ? env() : env) },
      deps,
    );
  });
  afterAll(async () => {
    await app?.close();
    repo?.remove();
  });
  return () => app;
}

/**
 * Apps for single tests: `const start = appsPerTest()` in a describe block, then
 * `await start(env, deps, repo)` in a test is startApp (on `repo` when given), and every app started
 * in a test is closed in afterEach, its throw-away repository removed then, whether the test passed
 * or not. An afterEach registered before appsPerTest runs after those closes (hooks run as a stack).
 */
export function appsPerTest(): (env?: Record<string, string>, deps?: StartDeps, repo?: Removable) => Promise<TestApp> {
  const opened: { app?: TestApp; repo?: Removable }[] = [];
  afterEach(async () => {
    await Promise.all(
      opened.splice(0).map(async ({ app, repo }) => {
        await app?.close();
        repo?.remove();
      }),
    );
  });
  return async (env = {}, deps = {}, repo) => {
    const entry: { app?: TestApp; repo?: Removable } = { repo };
    opened.push(entry); // before the start: a repository whose app fails to start is removed too
    entry.app = await startApp({ ...(repo ? { MODEL_DIR: repo.dir } : {}), ...env }, deps);
    return entry.app;
  };
}

export async function postJson(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await app.inject({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: response.statusCode, body: response.json(), headers: response.headers };
}
