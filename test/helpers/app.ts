import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

export const BUNDLED_MODELS = new URL('../../models/', import.meta.url).pathname;

/** Log lines the app wrote, parsed. */
export interface CapturedLogs {
  lines: Record<string, unknown>[];
}

/**
 * The real app on real models, one worker thread unless told otherwise; resolves once every
 * model has loaded or failed. Close it in afterAll/afterEach.
 */
export async function startApp(
  env: Record<string, string> = {},
  deps: AppDeps & { waitForModels?: boolean } = {},
): Promise<FastifyInstance & { logs: CapturedLogs }> {
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

/**
 * The app for a describe block: started in beforeAll, closed in afterAll, and the throw-away
 * repository it serves (if any) removed then.
 */
export function appFor(
  env: Record<string, string>,
  repo?: { dir: string; remove(): void },
): () => FastifyInstance & { logs: CapturedLogs } {
  let app: FastifyInstance & { logs: CapturedLogs };
  beforeAll(async () => {
    app = await startApp({ ...(repo ? { MODEL_DIR: repo.dir } : {}), ...env });
  });
  afterAll(async () => {
    await app?.close();
    repo?.remove();
  });
  return () => app;
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
