import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { drainAndClose, hardDeadlineMs } from './shutdown.js';

/** The only file that listens. SIGTERM: /ready turns 503, the drain of src/shutdown.ts, exit 0. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const app = await buildApp(config);

  // close-with-grace owns the signals, a second signal and uncaught errors, and a last-resort
  // deadline (exit 1) past the drain's own, which destroys stalled connections and exits 0.
  const times = { delayMs: config.SHUTDOWN_DELAY_MS, timeoutMs: config.SHUTDOWN_TIMEOUT_MS };
  closeWithGrace({ delay: hardDeadlineMs(times), logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error');
    else app.log.info({ signal, ...times }, 'shutting down: draining in-flight requests');
    // A broken process does not wait for endpoints to be removed.
    await drainAndClose(app, err ? { ...times, delayMs: 0 } : times);
    app.log.info('shut down cleanly');
  });

  await app.listen({ host: config.HOST, port: config.PORT });
  if (config.GRPC_PORT > 0) await app.grpc.listen(config.HOST, config.GRPC_PORT);
  app.log.info(
    { workers: config.INFERENCE_WORKERS, intraOpThreads: config.ORT_INTRA_OP_THREADS, modelDir: config.MODEL_DIR },
    'listening; loading models',
  );
  if (config.EXIT_ON_LOAD_ERROR) {
    await app.modelsLoaded;
    const problems = app.models.loadProblems();
    if (problems.length > 0) {
      app.log.fatal({ problems }, 'the model repository did not load whole; exiting (EXIT_ON_LOAD_ERROR)');
      await app.close();
      process.exit(1);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
