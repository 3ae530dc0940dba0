import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

/** The only file that listens. SIGTERM: /ready turns 503, in-flight requests finish, exit 0. */
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

  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error');
    else app.log.info({ signal }, 'shutting down: draining in-flight requests');
    await app.close();
    app.log.info('shut down cleanly');
  });

  await app.listen({ host: config.HOST, port: config.PORT });
  app.log.info(
    { workers: config.INFERENCE_WORKERS, intraOpThreads: config.ORT_INTRA_OP_THREADS, modelDir: config.MODEL_DIR },
    'listening; loading models',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
