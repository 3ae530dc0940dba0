import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';

/**
 * After the grace ends and the last connections are destroyed, the app still releases its
 * workers and Redis; past this margin close-with-grace gives up and exits 1. Kubernetes'
 * terminationGracePeriodSeconds must cover SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS + this.
 */
export const CLOSE_BACKSTOP_MS = 2000;

export interface ShutdownTimes {
  /** The listener keeps serving this long after SIGTERM, while /ready answers 503. */
  delayMs: number;
  /** Then in-flight requests have this long; what is left is destroyed. */
  timeoutMs: number;
}

/** The moment close-with-grace exits 1: the drain itself never reaches it. */
export const hardDeadlineMs = ({ delayMs, timeoutMs }: ShutdownTimes) => delayMs + timeoutMs + CLOSE_BACKSTOP_MS;

/**
 * The drain Kubernetes needs. 1. /ready turns 503 and every answer says Connection: close,
 * while the listener serves on for delayMs (the endpoint is being removed everywhere).
 * 2. The listener closes, idle connections with it; requests in flight finish. 3. When timeoutMs
 * is up, the connections still open (a client stalled mid-body, a slow answer) are destroyed,
 * so nothing a client does can hold the process. Resolves when the app has closed.
 */
export async function drainAndClose(app: FastifyInstance, { delayMs, timeoutMs }: ShutdownTimes): Promise<void> {
  app.startDraining();
  if (delayMs > 0) {
    await sleep(delayMs);
    app.log.info('shutdown delay over: closing the listener');
  }
  const server = app.server;
  const grace = setTimeout(() => {
    void promisify(server.getConnections.bind(server))().then((open) => {
      app.log.warn({ connections: open }, 'shutdown grace over: destroying the connections still open');
      server.closeAllConnections();
    });
  }, timeoutMs);
  try {
    await app.close();
  } finally {
    clearTimeout(grace);
  }
}
